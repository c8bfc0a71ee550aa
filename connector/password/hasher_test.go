package password

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// cheapParams keeps tests fast; production uses DefaultParams.
func cheapParams() Params {
	return Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func newTestHasher(t testing.TB, workers, queue int) *Hasher {
	t.Helper()
	h, err := NewHasher(cheapParams(), workers, queue)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestHashDefaultParamsFormat(t *testing.T) {
	h, err := NewHasher(DefaultParams(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	// 16-byte salt: 22 base64 characters; 32-byte hash: 43.
	want := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !want.MatchString(encoded) {
		t.Fatalf("Hash = %q, want the PHC form of DefaultParams", encoded)
	}
	ok, err := h.Verify(context.Background(), encoded, "correct horse battery staple")
	if err != nil || !ok {
		t.Fatalf("Verify(own hash) = %v, %v; want true, nil", ok, err)
	}
	if h.NeedsRehash(encoded) {
		t.Error("NeedsRehash(own hash) = true")
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := newTestHasher(t, 1, 0)
	a, _ := h.Hash(context.Background(), "same")
	b, _ := h.Hash(context.Background(), "same")
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

// Known answers. The argon2id strings come from the reference implementation
// (Debian's argon2 command: echo -n PW | argon2 SALT -id -t T -m LOGM -p P
// -l LEN -e); the bcrypt one from Apache's htpasswd -bnBC 10.
func TestVerifyKnownAnswers(t *testing.T) {
	h := newTestHasher(t, 2, 10)
	tests := []struct {
		name     string
		have     string
		password string
		expected bool
	}{
		{"argon2id m=1024", "$argon2id$v=19$m=1024,t=2,p=1$bGF0Y2hrZXlzYWx0c2FsdA$Pa3QPx/xieOwd0Z8tlopY8FOSvxm/8hoMklIHs8SI+0", "correct horse battery staple", true},
		{"argon2id m=1024 wrong", "$argon2id$v=19$m=1024,t=2,p=1$bGF0Y2hrZXlzYWx0c2FsdA$Pa3QPx/xieOwd0Z8tlopY8FOSvxm/8hoMklIHs8SI+0", "correct horse battery stapl", false},
		{"argon2id p=2 24-byte key", "$argon2id$v=19$m=4096,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$MAxdKAFebX9D21X72wdqEPZAKIea3DkS", "hunter2", true},
		{"argon2id p=2 wrong", "$argon2id$v=19$m=4096,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$MAxdKAFebX9D21X72wdqEPZAKIea3DkS", "Hunter2", false},
		{"bcrypt 2y", "$2y$10$5guPsrGoJfjlwRl/6CEJOe26goWWfJlJQhCJKdl6UOgXFW7AT10pS", "correct horse battery staple", true},
		{"bcrypt 2y wrong", "$2y$10$5guPsrGoJfjlwRl/6CEJOe26goWWfJlJQhCJKdl6UOgXFW7AT10pS", "correct horse", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), tt.have, tt.password)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ok != tt.expected {
				t.Fatalf("Verify = %v, want %v", ok, tt.expected)
			}
			if !h.NeedsRehash(tt.have) {
				t.Error("NeedsRehash = false for a hash with other parameters")
			}
		})
	}
}

func TestVerifyBcryptGenerated(t *testing.T) {
	h := newTestHasher(t, 1, 0)
	b, err := bcrypt.GenerateFromPassword([]byte("s3cret!"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		encoded := prefix + string(b[4:])
		if ok, err := h.Verify(context.Background(), encoded, "s3cret!"); err != nil || !ok {
			t.Errorf("Verify(%s...) = %v, %v; want true, nil", prefix, ok, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t, 1, 0)
	good := "$argon2id$v=19$m=1024,t=2,p=1$bGF0Y2hrZXlzYWx0c2FsdA$Pa3QPx/xieOwd0Z8tlopY8FOSvxm/8hoMklIHs8SI+0"
	salt, key := "bGF0Y2hrZXlzYWx0c2FsdA", "Pa3QPx/xieOwd0Z8tlopY8FOSvxm/8hoMklIHs8SI+0"
	tests := []struct {
		name string
		have string
	}{
		{"empty", ""},
		{"dollar", "$"},
		{"plain text", "hunter2"},
		{"argon2i", "$argon2i$v=19$m=1024,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=1024,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=1024,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=1024,t=2,p=1$" + salt + "$" + key},
		{"params swapped", "$argon2id$v=19$t=2,m=1024,p=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=1024,t=2,p=1,keyid=x$" + salt + "$" + key},
		{"memory zero", "$argon2id$v=19$m=0,t=2,p=1$" + salt + "$" + key},
		{"memory below 8p", "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key},
		{"memory huge", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key},
		{"memory overflow", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"time zero", "$argon2id$v=19$m=1024,t=0,p=1$" + salt + "$" + key},
		{"time huge", "$argon2id$v=19$m=1024,t=1000,p=1$" + salt + "$" + key},
		{"threads zero", "$argon2id$v=19$m=1024,t=2,p=0$" + salt + "$" + key},
		{"threads overflow", "$argon2id$v=19$m=1024,t=2,p=256$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=01024,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+1024,t=2,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=-1024,t=2,p=1$" + salt + "$" + key},
		{"empty value", "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key},
		{"padded base64", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "==$" + key},
		{"bad base64", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$" + key[:40] + "!!!"},
		{"non-canonical base64", "$argon2id$v=19$m=1024,t=2,p=1$" + salt[:21] + "B$" + key},
		{"short salt", "$argon2id$v=19$m=1024,t=2,p=1$c2FsdA$" + key},
		{"short key", "$argon2id$v=19$m=1024,t=2,p=1$" + salt + "$a2V5"},
		{"missing key", "$argon2id$v=19$m=1024,t=2,p=1$" + salt},
		{"extra field", good + "$x"},
		{"no leading dollar", good[1:]},
		{"bcrypt truncated", "$2a$"},
		{"bcrypt bad cost", "$2a$xx$5guPsrGoJfjlwRl/6CEJOe26goWWfJlJQhCJKdl6UOgXFW7AT10pS"},
		{"bcrypt cost too high", "$2a$31$5guPsrGoJfjlwRl/6CEJOe26goWWfJlJQhCJKdl6UOgXFW7AT10pS"},
		{"bcrypt short", "$2b$10$5guPsrGoJfjlwRl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), tt.have, "correct horse battery staple")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrMalformedHash", ok, err)
			}
			if !h.NeedsRehash(tt.have) {
				t.Error("NeedsRehash(malformed) = false")
			}
		})
	}
	if ok, err := h.Verify(context.Background(), good, "correct horse battery staple"); err != nil || !ok {
		t.Fatalf("control: Verify(good) = %v, %v", ok, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	p := cheapParams()
	h := newTestHasher(t, 1, 0)
	own, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		change   func(*Params)
		expected bool
	}{
		{"same", func(*Params) {}, false},
		{"memory", func(p *Params) { p.Memory *= 2 }, true},
		{"time", func(p *Params) { p.Time++ }, true},
		{"threads", func(p *Params) { p.Threads++ }, true},
		{"salt length", func(p *Params) { p.SaltLen = 32 }, true},
		{"key length", func(p *Params) { p.KeyLen = 64 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := p
			tt.change(&q)
			other, err := NewHasher(q, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := other.NeedsRehash(own); got != tt.expected {
				t.Fatalf("NeedsRehash = %v, want %v", got, tt.expected)
			}
			// Whatever the new parameters, the old hash still verifies.
			if ok, err := other.Verify(context.Background(), own, "pw"); err != nil || !ok {
				t.Fatalf("Verify(old hash) = %v, %v", ok, err)
			}
		})
	}
}

func TestNewHasherInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Params)
		queue  int
	}{
		{"time zero", func(p *Params) { p.Time = 0 }, 0},
		{"threads zero", func(p *Params) { p.Threads = 0 }, 0},
		{"memory too small", func(p *Params) { p.Memory = 7 }, 0},
		{"salt too short", func(p *Params) { p.SaltLen = 4 }, 0},
		{"key too short", func(p *Params) { p.KeyLen = 8 }, 0},
		{"negative queue", func(*Params) {}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := cheapParams()
			tt.change(&p)
			if _, err := NewHasher(p, 1, tt.queue); err == nil {
				t.Fatal("NewHasher: no error")
			}
		})
	}
}

func TestHasherBusy(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, 1, 0)
	if err := h.acquire(ctx); err != nil { // occupy the only slot
		t.Fatal(err)
	}
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Hash with no slot and no queue: %v, want ErrBusy", err)
	}
	if _, err := h.Verify(ctx, "$argon2id$v=19$m=1024,t=2,p=1$bGF0Y2hrZXlzYWx0c2FsdA$Pa3QPx/xieOwd0Z8tlopY8FOSvxm/8hoMklIHs8SI+0", "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("Verify with no slot and no queue: %v, want ErrBusy", err)
	}
	if err := h.DummyVerify(ctx); !errors.Is(err, ErrBusy) {
		t.Errorf("DummyVerify with no slot and no queue: %v, want ErrBusy", err)
	}
	h.release()
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Errorf("Hash after release: %v", err)
	}
}

func TestHasherQueue(t *testing.T) {
	h := newTestHasher(t, 1, 1)
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	// One caller may wait.
	waiterCtx, cancelWaiter := context.WithCancel(context.Background())
	defer cancelWaiter()
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(waiterCtx, "pw")
		done <- err
	}()
	waitFor(t, func() bool { return h.waiting.Load() == 1 })

	// A second is refused at once.
	if _, err := h.Hash(context.Background(), "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("second waiter: %v, want ErrBusy", err)
	}
	// Releasing the slot lets the waiter run.
	h.release()
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}

	// A waiter whose context ends gives up with the context's error.
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, err := h.Hash(ctx, "pw")
		done <- err
	}()
	waitFor(t, func() bool { return h.waiting.Load() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	if n := h.waiting.Load(); n != 0 {
		t.Fatalf("waiting = %d after the waiter left", n)
	}
	// An already-ended context never hashes.
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(cancelled ctx): %v", err)
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	const workers, callers = 2, 12
	h := newTestHasher(t, workers, callers)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			defer h.release()
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
		})
	}
	wg.Wait()
	if p := peak.Load(); p > workers {
		t.Fatalf("peak concurrency %d > %d workers", p, workers)
	}

	// The public methods share the bound: all succeed with enough queue.
	for range callers {
		wg.Go(func() {
			encoded, err := h.Hash(context.Background(), "pw")
			if err != nil {
				t.Error(err)
				return
			}
			if ok, err := h.Verify(context.Background(), encoded, "pw"); err != nil || !ok {
				t.Errorf("Verify = %v, %v", ok, err)
			}
		})
	}
	wg.Wait()
}

func TestDummyVerify(t *testing.T) {
	h := newTestHasher(t, 1, 0)
	if err := h.DummyVerify(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.DummyVerify(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("DummyVerify(cancelled) = %v", err)
	}
}

// waitFor polls cond for up to a few seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=1024,t=2,p=1$bGF0Y2hrZXlzYWx0c2FsdA$Pa3QPx/xieOwd0Z8tlopY8FOSvxm/8hoMklIHs8SI+0")
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$MAxdKAFebX9D21X72wdqEPZAKIea3DkS")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$$")
	f.Add("$2y$10$5guPsrGoJfjlwRl/6CEJOe26goWWfJlJQhCJKdl6UOgXFW7AT10pS")
	f.Add("$argon2id$v=19$m=99999999999999999999,t=2,p=1$c2FsdA$a2V5")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("parsePHC error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if err := h.params.Validate(); err != nil {
			t.Fatalf("parsePHC accepted out-of-bounds params: %v", err)
		}
		// Strict parsing means one spelling per hash.
		if got := encodePHC(h.params, h.salt, h.key); got != s {
			t.Fatalf("round trip: %q -> %q", s, got)
		}
		if strings.Count(s, "$") != 5 {
			t.Fatalf("accepted %q", s)
		}
	})
}
