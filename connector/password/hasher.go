package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrBusy reports that every hashing slot is taken and the wait queue is
// full. The caller should answer "try again later" (HTTP 503) rather than
// retry at once.
var ErrBusy = errors.New("password: hasher busy")

// Hasher hashes and verifies passwords with argon2id on a bounded pool. It
// is safe for concurrent use; one Hasher is meant to be shared by the whole
// process so that the bound holds for all connections together.
type Hasher struct {
	params Params
	// slots holds one token per hash running now; its capacity is the
	// number of workers.
	slots chan struct{}
	// waiting counts callers blocked for a slot; queue caps it.
	waiting atomic.Int64
	queue   int64
}

// NewHasher returns a Hasher that hashes with p and runs at most workers
// hashes at once (runtime.NumCPU() when workers <= 0). Up to queue callers
// may wait for a free slot; when that many already wait, Hash, Verify and
// DummyVerify return ErrBusy at once. A queue of 0 means nobody waits.
//
// Memory use is bounded by workers × p.Memory KiB.
func NewHasher(p Params, workers, queue int) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("new hasher: %w", err)
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	if queue < 0 {
		return nil, fmt.Errorf("new hasher: queue must not be negative, got %d", queue)
	}
	return &Hasher{
		params: p,
		slots:  make(chan struct{}, workers),
		queue:  int64(queue),
	}, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// acquire takes a slot, waiting while ctx allows if the queue has room.
// The caller must call release when it got no error.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns the PHC string of an argon2id hash of password with a fresh
// random salt. It waits for a slot as described on NewHasher.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the encoded hash, comparing in
// constant time. It accepts argon2id PHC strings with any parameters within
// this package's bounds, and bcrypt hashes. A hash it cannot parse gives an
// error wrapping ErrMalformedHash (and ok == false), never a panic.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok bool, err error) {
	if isBcrypt(encoded) {
		return h.verifyBcrypt(ctx, encoded, password)
	}
	parsed, err := parsePHC(encoded)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	defer h.release()
	p := parsed.params
	key := argon2.IDKey([]byte(password), parsed.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(key, parsed.key) == 1, nil
}

// verifyBcrypt is Verify for bcrypt hashes.
func (h *Hasher) verifyBcrypt(ctx context.Context, encoded, password string) (bool, error) {
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return false, fmt.Errorf("verify password: bcrypt: %w: %w", err, ErrMalformedHash)
	}
	if cost > maxBcryptCost {
		return false, fmt.Errorf("verify password: bcrypt cost %d above %d: %w", cost, maxBcryptCost, ErrMalformedHash)
	}
	if err := h.acquire(ctx); err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	defer h.release()
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("verify password: bcrypt: %w: %w", err, ErrMalformedHash)
	}
}

// DummyVerify spends the time of a Verify against a hash with the current
// parameters, and always fails. Call it when the user is unknown so that
// response times do not tell which accounts exist. Its only errors are
// ErrBusy and ctx's.
func (h *Hasher) DummyVerify(ctx context.Context) error {
	salt := make([]byte, h.params.SaltLen)
	// Like Verify, the work below is a hash and a constant-time compare; a
	// zero salt is as good as any for work that is thrown away.
	if err := h.acquire(ctx); err != nil {
		return fmt.Errorf("verify password: %w", err)
	}
	defer h.release()
	key := argon2.IDKey([]byte("latchkey dummy password"), salt, h.params.Time, h.params.Memory, h.params.Threads, h.params.KeyLen)
	subtle.ConstantTimeCompare(key, make([]byte, len(key)))
	return nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh Hash of
// the same password: it is not argon2id (bcrypt), its parameters differ from
// the Hasher's, or it is malformed.
func (h *Hasher) NeedsRehash(encoded string) bool {
	parsed, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return parsed.params != h.params
}

// maxBcryptCost bounds the work of verifying an imported bcrypt hash (each
// step doubles it; Auth0 uses 10).
const maxBcryptCost = 14

// isBcrypt reports whether s looks like a bcrypt hash ($2a$, $2b$, $2y$;
// the obsolete $2$ and $2x$ are not accepted).
func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}
