package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash reports a stored hash that cannot be parsed, or whose
// parameters are outside the accepted bounds. Errors from Verify and
// NeedsRehash wrap it.
var ErrMalformedHash = errors.New("password: malformed hash")

// Params are the argon2id parameters (RFC 9106 section 3.1).
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
	// SaltLen is the length of the random salt in bytes.
	SaltLen uint32
	// KeyLen is the length of the derived hash in bytes.
	KeyLen uint32
}

// DefaultParams returns the OWASP Password Storage Cheat Sheet's minimum
// argon2id configuration: m=19456 KiB (19 MiB), t=2, p=1, with a 16-byte salt
// and a 32-byte hash.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters, for ours and for hashes read back from storage. They
// keep a corrupt or hostile stored hash from making Verify allocate gigabytes
// or run for minutes.
const (
	minSaltLen = 8 // RFC 9106: at least 8 bytes; 16 recommended
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
	maxMemory  = 1 << 20 // KiB, 1 GiB
	maxTime    = 64
)

// Validate reports parameters argon2id cannot use or that are out of the
// bounds this package accepts.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return fmt.Errorf("invalid argon2id parameters: threads must be at least 1")
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("invalid argon2id parameters: time must be 1..%d, got %d", maxTime, p.Time)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("invalid argon2id parameters: memory must be %d..%d KiB, got %d", 8*uint32(p.Threads), maxMemory, p.Memory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("invalid argon2id parameters: salt length must be %d..%d bytes, got %d", minSaltLen, maxSaltLen, p.SaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("invalid argon2id parameters: key length must be %d..%d bytes, got %d", minKeyLen, maxKeyLen, p.KeyLen)
	}
	return nil
}

// phc is a parsed argon2id PHC string.
type phc struct {
	params Params
	salt   []byte
	key    []byte
}

// b64 is the PHC string format's base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding

// encodePHC formats an argon2id hash as a PHC string.
func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC parses an argon2id PHC string strictly: version 19, the
// parameters in the order m, t, p and nothing else, canonical base64 salt
// and hash, and every value within the bounds of Params.Validate.
func parsePHC(s string) (phc, error) {
	fields := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(fields) != 6 || fields[0] != "" {
		return phc{}, fmt.Errorf("parse hash: want 5 '$'-separated fields: %w", ErrMalformedHash)
	}
	if fields[1] != "argon2id" {
		return phc{}, fmt.Errorf("parse hash: unsupported algorithm %q: %w", truncate(fields[1]), ErrMalformedHash)
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("parse hash: unsupported version %q: %w", truncate(fields[2]), ErrMalformedHash)
	}
	var h phc
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return phc{}, fmt.Errorf("parse hash: want parameters m, t and p: %w", ErrMalformedHash)
	}
	m, err := parseParam(params[0], "m", 32)
	if err != nil {
		return phc{}, err
	}
	t, err := parseParam(params[1], "t", 32)
	if err != nil {
		return phc{}, err
	}
	p, err := parseParam(params[2], "p", 8)
	if err != nil {
		return phc{}, err
	}
	h.params.Memory, h.params.Time, h.params.Threads = uint32(m), uint32(t), uint8(p)

	if h.salt, err = decodeB64(fields[4]); err != nil {
		return phc{}, fmt.Errorf("parse hash: salt: %w", err)
	}
	if h.key, err = decodeB64(fields[5]); err != nil {
		return phc{}, fmt.Errorf("parse hash: hash: %w", err)
	}
	h.params.SaltLen, h.params.KeyLen = uint32(len(h.salt)), uint32(len(h.key))
	if err := h.params.Validate(); err != nil {
		return phc{}, fmt.Errorf("parse hash: %w: %w", err, ErrMalformedHash)
	}
	return h, nil
}

// parseParam parses "name=decimal" into an unsigned integer of bits size.
func parseParam(s, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(s, name+"=")
	// Reject signs, leading zeros and empty values: one spelling per value.
	if !ok || v == "" || v[0] == '+' || v[0] == '-' || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("parse hash: parameter %s: %w", name, ErrMalformedHash)
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil {
		return 0, fmt.Errorf("parse hash: parameter %s: %w", name, ErrMalformedHash)
	}
	return n, nil
}

// decodeB64 decodes unpadded standard base64, rejecting non-canonical input
// (stray bits in the last character, line breaks) so that every hash has
// one spelling.
func decodeB64(s string) ([]byte, error) {
	// The decoder skips '\r' and '\n'; a hash has none.
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("invalid base64: %w", ErrMalformedHash)
	}
	b, err := b64.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %w", ErrMalformedHash)
	}
	return b, nil
}

// truncate shortens untrusted input quoted in an error.
func truncate(s string) string {
	if len(s) > 16 {
		return s[:16] + "..."
	}
	return s
}
