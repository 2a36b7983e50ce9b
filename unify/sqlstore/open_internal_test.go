package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// openSQLite opens a store on a new SQLite file, not migrated, closed when
// the test ends; it returns the file's path too.
func openSQLite(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gw.db")
	s, err := Open(context.Background(), "sqlite:"+path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}
