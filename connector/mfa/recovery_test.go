package mfa

import (
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestRecoveryCodes(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, DefaultPolicy())
		u := e.user()
		if _, err := e.svc.UseRecoveryCode(e.ctx, u.ID, "AAAAA-AAAAA"); !errors.Is(err, ErrFactorNotFound) {
			t.Fatalf("UseRecoveryCode without codes: %v", err)
		}
		codes, err := e.svc.GenerateRecoveryCodes(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		format := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$`)
		seen := map[string]bool{}
		for _, c := range codes {
			if !format.MatchString(c) || seen[c] {
				t.Fatalf("code %q malformed or repeated in %v", c, codes)
			}
			seen[c] = true
		}
		if len(codes) != RecoveryCodeCount {
			t.Fatalf("%d codes", len(codes))
		}
		// Only keyed hashes are stored.
		creds, _ := s.ListCredentials(e.ctx, u.ID, CredentialRecoveryCode)
		for _, c := range creds {
			for _, code := range codes {
				if strings.Contains(c.Secret, code) || strings.Contains(c.Secret, strings.ReplaceAll(code, "-", "")) {
					t.Fatalf("code stored in clear: %q", c.Secret)
				}
			}
		}
		// Typed loosely: lower case, no dash, spaces.
		loose := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
		m, err := e.svc.UseRecoveryCode(e.ctx, u.ID, loose)
		if err != nil {
			t.Fatalf("UseRecoveryCode: %v", err)
		}
		if m.Kind != connector.MethodRecoveryCode || m.CredentialID == "" {
			t.Fatalf("method %+v", m)
		}
		if _, err := e.svc.UseRecoveryCode(e.ctx, u.ID, codes[0]); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("reused code: %v", err)
		}
		if n, err := e.svc.RemainingRecoveryCodes(e.ctx, u.ID); err != nil || n != RecoveryCodeCount-1 {
			t.Fatalf("RemainingRecoveryCodes = %d, %v", n, err)
		}
		// Another user's code does not work.
		v := e.user()
		if _, err := e.svc.GenerateRecoveryCodes(e.ctx, v.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UseRecoveryCode(e.ctx, v.ID, codes[1]); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("another user's code: %v", err)
		}
		// Through a challenge.
		ch, err := e.svc.BeginChallenge(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Factors) != 1 || ch.Factors[0] != FactorRecoveryCode {
			t.Fatalf("challenge factors %v", ch.Factors)
		}
		if _, err := e.svc.Verify(e.ctx, u.ID, ch.ID, FactorRecoveryCode, codes[1]); err != nil {
			t.Fatalf("Verify with a recovery code: %v", err)
		}

		// Regenerating replaces the whole set.
		fresh, err := e.svc.GenerateRecoveryCodes(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UseRecoveryCode(e.ctx, u.ID, codes[2]); !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("old code after regeneration: %v", err)
		}
		if n, _ := e.svc.RemainingRecoveryCodes(e.ctx, u.ID); n != RecoveryCodeCount {
			t.Fatalf("%d codes after regeneration", n)
		}
		if _, err := e.svc.UseRecoveryCode(e.ctx, u.ID, fresh[9]); err != nil {
			t.Fatalf("new code: %v", err)
		}
	})
}

func TestRecoveryCodesConcurrent(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.MaxAttemptsPerUser = 100 }))
		u := e.user()
		codes, err := e.svc.GenerateRecoveryCodes(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			use  func(code string) error
		}{
			{"UseRecoveryCode", func(c string) error { _, err := e.svc.UseRecoveryCode(e.ctx, u.ID, c); return err }},
			{"bare delete", func(c string) error { _, err := e.svc.checkRecoveryCode(e.ctx, u.ID, c); return err }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := codes[0]
				codes = codes[1:]
				var (
					wg   sync.WaitGroup
					mu   sync.Mutex
					wins int
				)
				for range 20 {
					wg.Go(func() {
						err := tt.use(c)
						mu.Lock()
						defer mu.Unlock()
						if err == nil {
							wins++
						} else if !errors.Is(err, ErrInvalidCode) {
							t.Errorf("loser's error %v is not ErrInvalidCode", err)
						}
					})
				}
				wg.Wait()
				if wins != 1 {
					t.Fatalf("%d of 20 concurrent uses of one code succeeded", wins)
				}
			})
		}
		// Concurrent regenerations leave exactly one set.
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if _, err := e.svc.GenerateRecoveryCodes(e.ctx, u.ID); err != nil {
					t.Errorf("GenerateRecoveryCodes: %v", err)
				}
			})
		}
		wg.Wait()
		if n, _ := e.svc.RemainingRecoveryCodes(e.ctx, u.ID); n != RecoveryCodeCount {
			t.Fatalf("%d codes after concurrent regenerations", n)
		}
	})
}

func TestRemoveFactor(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.Policy = ModeAlways }))
		u := e.user()
		_, f1 := e.enrolTOTP(u)
		if _, err := e.svc.GenerateRecoveryCodes(e.ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		fs, err := e.svc.ListFactors(e.ctx, u.ID)
		if err != nil || len(fs) != 2 || fs[0].ID != f1.ID || fs[1].ID != RecoveryCodesID || fs[1].Remaining != RecoveryCodeCount {
			t.Fatalf("ListFactors = %+v, %v", fs, err)
		}
		if err := e.svc.RemoveFactor(e.ctx, u.ID, f1.ID); !errors.Is(err, ErrLastFactor) {
			t.Fatalf("removing the last factor under always: %v", err)
		}
		if err := e.svc.RemoveFactor(e.ctx, e.user().ID, f1.ID); !errors.Is(err, ErrFactorNotFound) {
			t.Fatalf("removing another user's factor: %v", err)
		}
		if err := e.svc.RemoveFactor(e.ctx, u.ID, "nope"); !errors.Is(err, ErrFactorNotFound) {
			t.Fatalf("removing an unknown factor: %v", err)
		}
		_, f2 := e.enrolTOTP(u)
		// Two concurrent removals of the two factors: one must fail.
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
		)
		for _, id := range []string{f1.ID, f2.ID} {
			wg.Go(func() {
				err := e.svc.RemoveFactor(e.ctx, u.ID, id)
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			})
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), ErrLastFactor) {
			t.Fatalf("concurrent removals: %v", errs)
		}
		// Recovery codes may always go.
		if err := e.svc.RemoveFactor(e.ctx, u.ID, RecoveryCodesID); err != nil {
			t.Fatalf("removing recovery codes: %v", err)
		}
		if n, _ := e.svc.RemainingRecoveryCodes(e.ctx, u.ID); n != 0 {
			t.Fatalf("%d codes left", n)
		}
		// Under "never" the last factor may go.
		never := e.service(DefaultPolicy(), nil)
		fs, _ = never.ListFactors(e.ctx, u.ID)
		if len(fs) != 1 {
			t.Fatalf("factors %+v", fs)
		}
		if err := never.RemoveFactor(e.ctx, u.ID, fs[0].ID); err != nil {
			t.Fatalf("removing the last factor under never: %v", err)
		}
	})
}
