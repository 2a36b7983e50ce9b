// Package seal encrypts content at rest with AES-256-GCM: message bodies and
// inbound texts are sealed before they reach the database, each with the id
// of its key, so the database alone reveals no content and keys can be
// rotated. Standard library only.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Sealer seals with a primary key and opens with any key it knows.
type Sealer struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// KeyID names a key without revealing it: the first 8 bytes of its SHA-256.
func KeyID(key []byte) string {
	h := sha256.Sum256(key)
	return hex.EncodeToString(h[:8])
}

// New builds a sealer that seals with primary and also opens content sealed
// with any of older (keys being rotated out). Keys are 32 bytes.
func New(primary []byte, older ...[]byte) (*Sealer, error) {
	s := &Sealer{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{primary}, older...) {
		if len(k) != 32 {
			return nil, fmt.Errorf("seal: key %d is %d bytes, want 32", i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("seal: %w", err)
		}
		id := KeyID(k)
		s.aeads[id] = aead
		if i == 0 {
			s.primary = id
		}
	}
	return s, nil
}

// PrimaryID is the id of the key new content is sealed with.
func (s *Sealer) PrimaryID() string { return s.primary }

// Seal encrypts plain under the primary key: a random nonce followed by the
// ciphertext and tag.
func (s *Sealer) Seal(plain []byte) (string, []byte, error) {
	aead := s.aeads[s.primary]
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return "", nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return s.primary, aead.Seal(out, out, plain, nil), nil
}

// ErrUnknownKey means the content was sealed with a key the sealer lacks.
var ErrUnknownKey = errors.New("seal: unknown key")

// Open decrypts content sealed under keyID. Content stored before
// encryption was turned on (keyID "") is returned as it is.
func (s *Sealer) Open(keyID string, sealed []byte) ([]byte, error) {
	if keyID == "" {
		return sealed, nil
	}
	aead, ok := s.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %s", ErrUnknownKey, keyID)
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, errors.New("seal: sealed content too short")
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, fmt.Errorf("seal: open: %w", err)
	}
	return plain, nil
}
