package mfa

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// maxCodeInput bounds any code a person types; longer input is refused
// before it is normalised.
const maxCodeInput = 64

// NormalizeOTP reads a one-time password as people type it: ASCII digits,
// with spaces, tabs and dashes ignored ("123 456", "123-456"). It returns
// the digits and whether there are exactly digits of them (RFC 4226 §5.3:
// the HOTP value is a decimal of Digit digits). Anything else (letters,
// other symbols, full-width digits) is refused.
func NormalizeOTP(s string, digits int) (string, bool) {
	if len(s) > maxCodeInput {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '\t' || c == '-':
		default:
			return "", false
		}
	}
	if b.Len() != digits {
		return "", false
	}
	return b.String(), true
}

// recoveryAlphabet is Crockford's base32 alphabet (no I, L, O, U): 5 bits
// per character, unambiguous when read aloud or copied by hand.
const recoveryAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// RecoveryCodeLength is the number of characters of a recovery code (50
// random bits), shown as two groups of five.
const RecoveryCodeLength = 10

// RecoveryCodeCount is how many codes GenerateRecoveryCodes returns.
const RecoveryCodeCount = 10

// newRecoveryCode returns a random code in its display form (XXXXX-XXXXX).
func newRecoveryCode() (string, error) {
	var b [RecoveryCodeLength]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate recovery code: %w", err)
	}
	out := make([]byte, 0, RecoveryCodeLength+1)
	for i, x := range b {
		if i == RecoveryCodeLength/2 {
			out = append(out, '-')
		}
		out = append(out, recoveryAlphabet[x&31]) // 256 is a multiple of 32: uniform
	}
	return string(out), nil
}

// NormalizeRecoveryCode reads a recovery code as people type it: case is
// ignored, spaces, tabs and dashes are dropped, and the letters Crockford's
// base32 leaves out read as the digits they resemble (O as 0, I and L as
// 1). It returns the canonical code (RecoveryCodeLength characters of
// recoveryAlphabet) and whether the input was one.
func NormalizeRecoveryCode(s string) (string, bool) {
	if len(s) > maxCodeInput {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		switch {
		case c == ' ' || c == '\t' || c == '-':
			continue
		case c == 'O':
			c = '0'
		case c == 'I' || c == 'L':
			c = '1'
		case strings.IndexByte(recoveryAlphabet, c) < 0:
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != RecoveryCodeLength {
		return "", false
	}
	return b.String(), true
}
