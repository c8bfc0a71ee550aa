package mfa

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// wrongCode returns a 6-digit code that is not valid for secret around now.
func wrongCode(t *testing.T, e *env, secret string) string {
	t.Helper()
	for _, c := range []string{"111111", "222222", "333333"} {
		ok := false
		for d := -2; d <= 2; d++ {
			ok = ok || code(t, secret, e.clock.Now().Add(time.Duration(d)*30*time.Second)) == c
		}
		if !ok {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func TestChallengeAttemptLimit(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.MaxAttemptsPerChallenge = 3 }))
		u := e.user()
		en, _ := e.enrolTOTP(u)
		ch, err := e.svc.BeginChallenge(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Factors) != 1 || ch.Factors[0] != FactorOTP || ch.ID == "" || !ch.ExpiresAt.Equal(e.clock.Now().Add(ChallengeTTL)) {
			t.Fatalf("challenge %+v", ch)
		}
		bad := wrongCode(t, e, en.Secret)
		for i := range 3 {
			if _, err := e.svc.Verify(e.ctx, u.ID, ch.ID, FactorOTP, bad); !errors.Is(err, ErrInvalidCode) {
				t.Fatalf("wrong code %d: %v", i+1, err)
			}
		}
		// The fourth attempt is refused even with the right code.
		good := code(t, en.Secret, e.clock.Now())
		_, err = e.svc.Verify(e.ctx, u.ID, ch.ID, FactorOTP, good)
		var le *LimitError
		if !errors.Is(err, ErrTooManyAttempts) || !errors.As(err, &le) || le.Scope != scopeChallenge {
			t.Fatalf("attempt over the challenge limit: %v", err)
		}
		// Another challenge works, once.
		ch2, err := e.svc.BeginChallenge(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Verify(e.ctx, u.ID, ch2.ID, FactorOTP, good); err != nil {
			t.Fatalf("Verify on a new challenge: %v", err)
		}
		e.clock.Add(30 * time.Second)
		if _, err := e.svc.Verify(e.ctx, u.ID, ch2.ID, FactorOTP, code(t, en.Secret, e.clock.Now())); !errors.Is(err, ErrChallengeNotFound) {
			t.Fatalf("finished challenge answered again: %v", err)
		}
		// A challenge of another user, an unknown one, an expired one.
		other := e.user()
		if _, err := e.svc.Verify(e.ctx, other.ID, ch.ID, FactorOTP, good); !errors.Is(err, ErrChallengeNotFound) {
			t.Fatalf("another user's challenge: %v", err)
		}
		if _, err := e.svc.Verify(e.ctx, u.ID, "nope", FactorOTP, good); !errors.Is(err, ErrChallengeNotFound) {
			t.Fatalf("unknown challenge: %v", err)
		}
		ch3, err := e.svc.BeginChallenge(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(ChallengeTTL)
		if _, err := e.svc.Verify(e.ctx, u.ID, ch3.ID, FactorOTP, code(t, en.Secret, e.clock.Now())); !errors.Is(err, ErrChallengeNotFound) {
			t.Fatalf("expired challenge: %v", err)
		}
		if _, err := e.svc.Verify(e.ctx, u.ID, ch3.ID, FactorWebAuthnRoaming, "x"); !errors.Is(err, ErrFactorDisabled) {
			t.Fatalf("security key through Verify: %v", err)
		}
	})
}

func TestUserAttemptLimitAndWindow(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.MaxAttemptsPerUser, p.AttemptWindowSeconds = 4, 900 }))
		u := e.user()
		en, _ := e.enrolTOTP(u)
		bad := wrongCode(t, e, en.Secret)
		// Failures count across challenges and direct verification.
		for i := range 4 {
			ch, err := e.svc.BeginChallenge(e.ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var verr error
			if i%2 == 0 {
				_, verr = e.svc.Verify(e.ctx, u.ID, ch.ID, FactorOTP, bad)
			} else {
				_, verr = e.svc.VerifyTOTP(e.ctx, u.ID, bad)
			}
			if !errors.Is(verr, ErrInvalidCode) {
				t.Fatalf("wrong code %d: %v", i+1, verr)
			}
			e.clock.Add(time.Minute)
		}
		_, err := e.svc.VerifyTOTP(e.ctx, u.ID, code(t, en.Secret, e.clock.Now()))
		var le *LimitError
		if !errors.As(err, &le) || le.Scope != scopeUser || !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("over the user limit: %v", err)
		}
		// The first failure was 4 minutes ago: it leaves the window in 11.
		if le.RetryAfter != 11*time.Minute {
			t.Fatalf("RetryAfter = %v, want 11m", le.RetryAfter)
		}
		// Recovery codes share the limit.
		if _, err := e.svc.UseRecoveryCode(e.ctx, u.ID, "AAAAA-AAAAA"); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("recovery code over the user limit: %v", err)
		}
		// Another user is not affected.
		v := e.user()
		en2, _ := e.enrolTOTP(v)
		if _, err := e.svc.VerifyTOTP(e.ctx, v.ID, code(t, en2.Secret, e.clock.Now())); err != nil {
			t.Fatalf("other user: %v", err)
		}
		// When the oldest failure leaves the window, one attempt frees up.
		e.clock.Add(11 * time.Minute)
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, bad); !errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("after the window moved: %v", err)
		}
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, code(t, en.Secret, e.clock.Now())); !errors.Is(err, ErrTooManyAttempts) {
			t.Fatalf("the freed attempt was used: %v", err)
		}
		e.clock.Add(15 * time.Minute)
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, code(t, en.Secret, e.clock.Now())); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

// Concurrent wrong codes from many replicas cannot exceed the limit: the
// state row lock serialises them.
func TestUserAttemptLimitConcurrent(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.MaxAttemptsPerUser, p.MaxAttemptsPerChallenge = 5, 100 }))
		// Two services over one store stand for two replicas.
		other := e.service(e.svc.Policy(), nil)
		u := e.user()
		en, _ := e.enrolTOTP(u)
		ch, err := e.svc.BeginChallenge(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		bad := wrongCode(t, e, en.Secret)
		const n = 20
		var (
			wg              sync.WaitGroup
			mu              sync.Mutex
			invalid, capped int
		)
		for i := range n {
			svc := e.svc
			if i%2 == 1 {
				svc = other
			}
			wg.Go(func() {
				_, err := svc.Verify(e.ctx, u.ID, ch.ID, FactorOTP, bad)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case errors.Is(err, ErrTooManyAttempts):
					capped++
				case errors.Is(err, ErrInvalidCode):
					invalid++
				default:
					t.Errorf("unexpected error %v", err)
				}
			})
		}
		wg.Wait()
		if invalid != 5 || capped != n-5 {
			t.Fatalf("%d wrong codes checked and %d capped, want 5 and %d", invalid, capped, n-5)
		}
	})
}
