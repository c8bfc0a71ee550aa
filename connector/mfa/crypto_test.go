package mfa

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSealOpen(t *testing.T) {
	k, err := deriveKeys(testKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := deriveKeys(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("12345678901234567890")
	sealed, err := k.seal(secret, "cred", "user")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := k.seal(secret, "cred", "user"); again == sealed {
		t.Fatal("two seals are equal: the nonce is not random")
	}
	got, err := k.open(sealed, "cred", "user")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open = %q, %v", got, err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-3] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"wrong key":        func() ([]byte, error) { return other.open(sealed, "cred", "user") },
		"other credential": func() ([]byte, error) { return k.open(sealed, "cred2", "user") },
		"other user":       func() ([]byte, error) { return k.open(sealed, "cred", "user2") },
		"tampered":         func() ([]byte, error) { return k.open(string(tampered), "cred", "user") },
		"no prefix":        func() ([]byte, error) { return k.open(strings.TrimPrefix(sealed, sealedPrefix), "cred", "user") },
		"truncated":        func() ([]byte, error) { return k.open(sealed[:12], "cred", "user") },
	} {
		if _, err := try(); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := deriveKeys(make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
	if k.recoveryHash("u1", "ABCDE12345") == k.recoveryHash("u2", "ABCDE12345") ||
		k.recoveryHash("u1", "ABCDE12345") == other.recoveryHash("u1", "ABCDE12345") {
		t.Fatal("recovery hashes are not bound to the user and the key")
	}
}

func TestNormalizeOTP(t *testing.T) {
	tests := []struct {
		have, expected string
		ok             bool
	}{
		{"123456", "123456", true},
		{"123 456", "123456", true},
		{" 123-456\t", "123456", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"１２３４５６", "", false},
		{"", "", false},
		{"+123456", "", false},
		{strings.Repeat(" ", 70) + "123456", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeOTP(tt.have, 6)
		if got != tt.expected || ok != tt.ok {
			t.Errorf("NormalizeOTP(%q) = %q, %v", tt.have, got, ok)
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	tests := []struct {
		have, expected string
		ok             bool
	}{
		{"ABCDE-FGHJK", "ABCDEFGHJK", true},
		{"abcde fghjk", "ABCDEFGHJK", true},
		{"0O1IL-23456", "0011123456", true},
		{"ABCDE-FGHJ", "", false},
		{"ABCDE-FGHJKM", "", false},
		{"ABCDE-FGHJU", "", false},
		{"ABCDE_FGHJK", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := NormalizeRecoveryCode(tt.have)
		if got != tt.expected || ok != tt.ok {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v", tt.have, got, ok)
		}
	}
	for range 100 {
		c, err := newRecoveryCode()
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := NormalizeRecoveryCode(c); !ok || n != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("generated code %q does not normalise: %q", c, n)
		}
	}
}

func FuzzNormalizeOTP(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "123-456", "12345", "abcdef", "１２３４５６", "\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeOTP(s, 6)
		if !ok {
			if got != "" {
				t.Fatalf("refused input gave %q", got)
			}
			return
		}
		if len(got) != 6 || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("NormalizeOTP(%q) = %q", s, got)
		}
		if again, ok := NormalizeOTP(got, 6); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
	})
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	for _, s := range []string{"ABCDE-FGHJK", "abcde fghjk", "0O1IL-23456", "U", "ÄBCDE-FGHJK", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := NormalizeRecoveryCode(s)
		if !ok {
			if got != "" {
				t.Fatalf("refused input gave %q", got)
			}
			return
		}
		if len(got) != RecoveryCodeLength || !utf8.ValidString(got) {
			t.Fatalf("NormalizeRecoveryCode(%q) = %q", s, got)
		}
		for i := 0; i < len(got); i++ {
			if !strings.Contains(recoveryAlphabet, got[i:i+1]) {
				t.Fatalf("NormalizeRecoveryCode(%q) = %q: %q is not in the alphabet", s, got, got[i])
			}
		}
		if again, ok := NormalizeRecoveryCode(got); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q", got, again)
		}
	})
}
