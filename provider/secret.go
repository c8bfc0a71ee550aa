package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Client secret hash formats.
//
// Server-generated secrets carry 256 bits of entropy, so a plain SHA-256 is
// as strong as any slow KDF and costs nothing per request: "sha256$" followed
// by the base64url (unpadded) digest. Shorter secrets given in configuration
// get argon2id in PHC format ("$argon2id$v=19$m=19456,t=2,p=1$salt$hash");
// bcrypt hashes ("$2a$", "$2b$", "$2y$") are accepted for imported clients.
const (
	sha256Prefix = "sha256$"
	// minFastSecretLen is the length from which a secret is hashed with
	// SHA-256 instead of argon2id.
	minFastSecretLen = 32

	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16

	// verifiedCacheMax bounds the memory of slow-hash verifications.
	verifiedCacheMax = 4096
)

// errSecretMismatch is returned by the hasher when a secret does not match.
var errSecretMismatch = errors.New("client secret does not match")

// GenerateClientSecret returns a new random client secret (32 bytes,
// base64url) and its hash for storage.Client.SecretHash.
func GenerateClientSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate client secret: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, sha256Hash(secret), nil
}

// HashClientSecret hashes a client secret given in configuration: SHA-256
// when it is at least 32 characters long (high entropy assumed), argon2id
// otherwise.
func HashClientSecret(secret string) (string, error) {
	if secret == "" {
		return "", errors.New("hash client secret: empty secret")
	}
	if len(secret) >= minFastSecretLen {
		return sha256Hash(secret), nil
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash client secret: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyClientSecret reports whether secret matches hash (any supported
// format). It is uncached; fosite uses the cached hasher of the Provider.
func VerifyClientSecret(hash, secret string) error {
	return verifySecret(hash, []byte(secret))
}

func sha256Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return sha256Prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// verifySecret checks data against hash without caching.
func verifySecret(hash string, data []byte) error {
	switch {
	case strings.HasPrefix(hash, sha256Prefix):
		want, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(hash, sha256Prefix))
		if err != nil || len(want) != sha256.Size {
			return errors.New("verify client secret: malformed sha256 hash")
		}
		got := sha256.Sum256(data)
		if subtle.ConstantTimeCompare(got[:], want) != 1 {
			return errSecretMismatch
		}
		return nil
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, data)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if err := bcrypt.CompareHashAndPassword([]byte(hash), data); err != nil {
			if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
				return errSecretMismatch
			}
			return fmt.Errorf("verify client secret: %w", err)
		}
		return nil
	case hash == "":
		return errors.New("verify client secret: client has no secret")
	default:
		return errors.New("verify client secret: unknown hash format")
	}
}

// verifyArgon2id checks data against a PHC-formatted argon2id hash.
func verifyArgon2id(hash string, data []byte) error {
	// $argon2id$v=19$m=19456,t=2,p=1$salt$key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return errors.New("verify client secret: malformed argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("verify client secret: unsupported argon2id version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return fmt.Errorf("verify client secret: malformed argon2id parameters: %w", err)
	}
	if m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return errors.New("verify client secret: argon2id parameters out of range")
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("verify client secret: malformed argon2id salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return errors.New("verify client secret: malformed argon2id key")
	}
	got := argon2.IDKey(data, salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return errSecretMismatch
	}
	return nil
}

// secretHasher is the fosite.Hasher for client secrets. Slow hashes
// (argon2id, bcrypt) are verified once and the success remembered in memory,
// keyed by SHA-256 of hash and secret, so repeated requests of a client stay
// fast. Failures are never cached.
type secretHasher struct {
	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
}

func newSecretHasher() *secretHasher {
	return &secretHasher{verified: map[[sha256.Size]byte]struct{}{}}
}

// Compare implements fosite.Hasher.
func (h *secretHasher) Compare(_ context.Context, hash, data []byte) error {
	hs := string(hash)
	if strings.HasPrefix(hs, sha256Prefix) {
		return verifySecret(hs, data)
	}
	kh := sha256.New()
	kh.Write(hash)
	kh.Write([]byte{0})
	kh.Write(data)
	var key [sha256.Size]byte
	kh.Sum(key[:0])

	h.mu.Lock()
	_, ok := h.verified[key]
	h.mu.Unlock()
	if ok {
		return nil
	}
	if err := verifySecret(hs, data); err != nil {
		return err
	}
	h.mu.Lock()
	if len(h.verified) >= verifiedCacheMax {
		clear(h.verified)
	}
	h.verified[key] = struct{}{}
	h.mu.Unlock()
	return nil
}

// Hash implements fosite.Hasher.
func (h *secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	s, err := HashClientSecret(string(data))
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}
