package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// MinKeyLength is the least length of Config.Key.
const MinKeyLength = 32

// HKDF info labels of the keys derived from Config.Key. Changing one makes
// every stored secret or hash unreadable, so they are fixed forever.
const (
	labelTOTPKey     = "latchkey mfa totp secret aes-256-gcm v1"
	labelRecoveryKey = "latchkey mfa recovery code hmac-sha256 v1"
	labelStateKey    = "latchkey mfa state id hmac-sha256 v1"
)

// sealedPrefix starts a sealed TOTP secret in storage.Credential.Secret.
const sealedPrefix = "aesgcm1:"

// ErrDecrypt reports a sealed secret that does not open: another key, a
// different credential or user (the AAD), or tampered data.
var ErrDecrypt = errors.New("mfa: the stored secret does not decrypt under this key")

// keys are the subkeys derived from Config.Key with HKDF-SHA256 (RFC 5869).
type keys struct {
	totp     cipher.AEAD
	recovery []byte
	state    []byte
}

func deriveKeys(master []byte) (keys, error) {
	if len(master) < MinKeyLength {
		return keys{}, fmt.Errorf("derive MFA keys: the key must be at least %d bytes, got %d", MinKeyLength, len(master))
	}
	enc, err := hkdf.Key(sha256.New, master, nil, labelTOTPKey, 32)
	if err != nil {
		return keys{}, fmt.Errorf("derive MFA keys: %w", err)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return keys{}, fmt.Errorf("derive MFA keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return keys{}, fmt.Errorf("derive MFA keys: %w", err)
	}
	rec, err := hkdf.Key(sha256.New, master, nil, labelRecoveryKey, 32)
	if err != nil {
		return keys{}, fmt.Errorf("derive MFA keys: %w", err)
	}
	st, err := hkdf.Key(sha256.New, master, nil, labelStateKey, 32)
	if err != nil {
		return keys{}, fmt.Errorf("derive MFA keys: %w", err)
	}
	return keys{totp: aead, recovery: rec, state: st}, nil
}

// totpAAD binds a sealed secret to its credential and user, so that a
// sealed value copied to another row does not open.
func totpAAD(credentialID, userID string) []byte {
	return []byte("latchkey totp\x00" + credentialID + "\x00" + userID)
}

// seal encrypts a TOTP secret with AES-256-GCM under a random 96-bit nonce
// (NIST SP 800-38D; a secret is sealed once per enrolment, far below the
// 2^32 messages per key random nonces allow).
func (k keys) seal(secret []byte, credentialID, userID string) (string, error) {
	nonce := make([]byte, k.totp.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal TOTP secret: %w", err)
	}
	out := k.totp.Seal(nonce, nonce, secret, totpAAD(credentialID, userID))
	return sealedPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// open decrypts what seal produced.
func (k keys) open(sealed, credentialID, userID string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: unknown format", ErrDecrypt)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) < k.totp.NonceSize()+k.totp.Overhead() {
		return nil, fmt.Errorf("%w: malformed", ErrDecrypt)
	}
	n := k.totp.NonceSize()
	secret, err := k.totp.Open(nil, b[:n], b[n:], totpAAD(credentialID, userID))
	if err != nil {
		return nil, ErrDecrypt
	}
	return secret, nil
}

// recoveryHash is the stored form of a (normalised) recovery code:
// HMAC-SHA256 under a server key, bound to the user. A keyed fast hash is
// enough because the codes are random with 50 bits of entropy: a slow hash
// (argon2) protects low-entropy secrets people choose, and would cost
// ~25 ms per stored code on every use; without the key, which is not in
// the database, a stolen table gives an attacker nothing to brute-force.
func (k keys) recoveryHash(userID, code string) string {
	m := hmac.New(sha256.New, k.recovery)
	m.Write([]byte(userID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return "hmac-sha256:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// stateID is the ExternalID of the user's MFA state row: keyed so that
// nobody can register a WebAuthn credential ID that collides with it (the
// credentials table's external_id index is unique across kinds).
func (k keys) stateID(userID string) []byte {
	m := hmac.New(sha256.New, k.state)
	m.Write([]byte("mfa-state\x00" + userID))
	return m.Sum(nil)
}
