package seal_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"gateway/unify/seal"
)

func TestSealOpenRotate(t *testing.T) {
	t.Parallel()
	oldKey := bytes.Repeat([]byte{1}, 32)
	newKey := bytes.Repeat([]byte{2}, 32)
	old, err := seal.New(oldKey)
	require.NoError(t, err)
	id, sealed, err := old.Seal([]byte("secret text"))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "secret")
	require.Equal(t, seal.KeyID(oldKey), id)

	rotated, err := seal.New(newKey, oldKey)
	require.NoError(t, err)
	plain, err := rotated.Open(id, sealed)
	require.NoError(t, err)
	require.Equal(t, "secret text", string(plain))

	onlyNew, err := seal.New(newKey)
	require.NoError(t, err)
	_, err = onlyNew.Open(id, sealed)
	require.ErrorIs(t, err, seal.ErrUnknownKey)

	sealed[len(sealed)-1] ^= 1
	_, err = rotated.Open(id, sealed)
	require.Error(t, err, "tampering is detected")

	_, err = seal.New([]byte("short"))
	require.Error(t, err)
}
