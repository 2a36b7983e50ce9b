package privacy

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Pseudonyms replaces the phone numbers kept in accounting metadata by a
// keyed hash: the same number always gets the same pseudonym (counts per
// subject still add up), and without the key no one can test a guess, which
// for phone numbers, a small space, a plain hash would allow.
type Pseudonyms struct {
	key []byte
}

// pseudonymInfo separates the pseudonym key from any other use of the
// encryption key (HKDF, RFC 5869).
const pseudonymInfo = "gateway/privacy: number pseudonyms v1"

// NewPseudonyms derives the hashing key from the content encryption key, so
// that there is no second secret to keep. With no key (encryption off) it
// uses a random key held only in memory: pseudonyms then differ after a
// restart and nobody, the operator included, can link them to a number.
func NewPseudonyms(encryptionKey []byte) (*Pseudonyms, error) {
	if len(encryptionKey) == 0 {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, fmt.Errorf("privacy: pseudonym key: %w", err)
		}
		return &Pseudonyms{key: k}, nil
	}
	k, err := hkdf.Key(sha256.New, encryptionKey, nil, pseudonymInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("privacy: pseudonym key: %w", err)
	}
	return &Pseudonyms{key: k}, nil
}

// Hash is the keyed hash of a number: the hex of the first 16 bytes of
// HMAC-SHA256 (128 bits: no collisions among phone numbers).
func (p *Pseudonyms) Hash(number string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(number))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// PseudonymPrefix starts every pseudonym stored in place of a number, so
// that the UI and operators see at once that the number was erased.
const PseudonymPrefix = "erased:"

// Pseudonym is what replaces number in the rows kept for accounting.
func (p *Pseudonyms) Pseudonym(number string) string { return PseudonymPrefix + p.Hash(number) }
