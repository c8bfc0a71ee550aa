package latchkey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Labels of the keys derived from the master secret. Changing one changes
// the derived key everywhere, so they are fixed forever.
const (
	labelCookieHashKey  = "latchkey cookie hash key"
	labelCookieBlockKey = "latchkey cookie block key"
	labelDemoClient     = "latchkey demo client"
)

// decodeSecret reads a master secret: hex when the string is only hex digits
// (and of even length), otherwise base64 in any of its four common forms. It
// must decode to at least minSecretLen bytes.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty secret")
	}
	var b []byte
	if isHex(s) {
		b, _ = hex.DecodeString(s)
	} else {
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(s); err == nil {
				break
			}
		}
		if err != nil {
			return nil, errors.New("want base64 or hex")
		}
	}
	if len(b) < minSecretLen {
		return nil, fmt.Errorf("must be at least %d bytes once decoded, got %d (generate one with `openssl rand -hex 32`)", minSecretLen, len(b))
	}
	return b, nil
}

func isHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// masterSecret returns the configured master secret. A missing
// DefaultSecretFile is created with 32 random bytes (hex, mode 0600); any
// other missing secret file is an error, so that a mistyped path never
// silently replaces the secret that encrypts the signing keys. created
// reports whether the file was just written.
func (c Config) masterSecret() (secret []byte, created bool, err error) {
	if c.Secret != "" {
		b, err := decodeSecret(c.Secret)
		if err != nil {
			return nil, false, fmt.Errorf("read secret: %w", err)
		}
		return b, false, nil
	}
	if c.SecretFile == "" {
		return nil, false, errors.New("read secret: set secret or secret_file")
	}
	raw, err := os.ReadFile(c.SecretFile)
	if errors.Is(err, fs.ErrNotExist) && filepath.Clean(c.SecretFile) == DefaultSecretFile {
		return createSecretFile(c.SecretFile)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read secret file: %w", err)
	}
	b, err := decodeSecret(string(raw))
	if err != nil {
		return nil, false, fmt.Errorf("read secret file %s: %w", c.SecretFile, err)
	}
	return b, false, nil
}

// createSecretFile writes a new random secret to path, failing if the file
// appeared meanwhile (then it reads that one: two processes starting at once
// agree on the first writer's secret).
func createSecretFile(path string) ([]byte, bool, error) {
	secret := make([]byte, minSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, false, fmt.Errorf("generate secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, false, fmt.Errorf("read secret file: %w", err)
		}
		b, err := decodeSecret(string(raw))
		if err != nil {
			return nil, false, fmt.Errorf("read secret file %s: %w", path, err)
		}
		return b, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("create secret file: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(secret) + "\n")
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("write secret file: %w", werr)
	}
	return secret, true, nil
}

// derive returns HMAC-SHA256(secret, label): a 32-byte key bound to one use.
func derive(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// demoSecret derives the demo client's secret from the master secret, so
// every replica and restart computes the same value and it is never stored in
// plain text.
func demoSecret(master []byte) string {
	return base64.RawURLEncoding.EncodeToString(derive(master, labelDemoClient))
}
