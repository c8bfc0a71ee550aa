package mfa

import (
	"bytes"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestTOTPEnrolAndVerify(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, DefaultPolicy())
		u := e.user()
		en, err := e.svc.BeginTOTP(e.ctx, u)
		if err != nil {
			t.Fatalf("BeginTOTP: %v", err)
		}
		// The QR code is a PNG of the otpauth URI.
		img, err := png.Decode(bytes.NewReader(en.QRPNG))
		if err != nil {
			t.Fatalf("QR code is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != qrSize || b.Dy() != qrSize {
			t.Fatalf("QR code is %v, want %dx%d", b, qrSize, qrSize)
		}
		uri, err := url.Parse(en.URI)
		if err != nil || uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Query().Get("secret") != en.Secret ||
			uri.Query().Get("issuer") != "Latchkey Test" || !strings.Contains(uri.Path, u.Email) {
			t.Fatalf("URI %q (%v)", en.URI, err)
		}
		if len(en.Secret) != 32 { // 160 bits in base32
			t.Fatalf("secret %q is not 32 base32 characters", en.Secret)
		}

		// The secret is stored sealed, never in clear.
		stored, err := s.GetCredential(e.ctx, en.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored.Secret, sealedPrefix) || strings.Contains(stored.Secret, en.Secret) || stored.Kind != CredentialTOTP {
			t.Fatalf("stored secret %q kind %q", stored.Secret, stored.Kind)
		}

		// Pending: not a factor, cannot verify.
		if fs, _ := e.svc.ListFactors(e.ctx, u.ID); len(fs) != 0 {
			t.Fatalf("pending enrolment listed: %+v", fs)
		}
		now := e.clock.Now()
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, code(t, en.Secret, now)); !errors.Is(err, ErrFactorNotFound) {
			t.Fatalf("VerifyTOTP before confirmation: %v", err)
		}
		if _, err := e.svc.ConfirmTOTP(e.ctx, u.ID, en.ID, "000000"); !errors.Is(err, ErrInvalidCode) && code(t, en.Secret, now) != "000000" {
			t.Fatalf("ConfirmTOTP with a wrong code: %v", err)
		}
		if _, err := e.svc.ConfirmTOTP(e.ctx, e.user().ID, en.ID, code(t, en.Secret, now)); !errors.Is(err, ErrEnrollmentNotFound) {
			t.Fatalf("ConfirmTOTP by another user: %v", err)
		}
		f, err := e.svc.ConfirmTOTP(e.ctx, u.ID, en.ID, code(t, en.Secret, now))
		if err != nil {
			t.Fatalf("ConfirmTOTP: %v", err)
		}
		if f.ID != en.ID || f.Kind != FactorOTP {
			t.Fatalf("factor %+v", f)
		}
		if _, err := e.svc.ConfirmTOTP(e.ctx, u.ID, en.ID, code(t, en.Secret, now)); !errors.Is(err, ErrEnrollmentNotFound) {
			t.Fatalf("second ConfirmTOTP: %v", err)
		}
		// The confirmation code is spent.
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, code(t, en.Secret, now)); !errors.Is(err, ErrCodeReplayed) {
			t.Fatalf("replayed confirmation code: %v", err)
		}

		e.clock.Add(30 * time.Second)
		c := code(t, en.Secret, e.clock.Now())
		m, err := e.svc.VerifyTOTP(e.ctx, u.ID, c[:3]+" "+c[3:])
		if err != nil {
			t.Fatalf("VerifyTOTP: %v", err)
		}
		if m.Kind != connector.MethodOTP || m.CredentialID != en.ID || !m.Time.Equal(e.clock.Now()) {
			t.Fatalf("method %+v", m)
		}
		// Replay of the same code: refused, and an ErrInvalidCode.
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, c); !errors.Is(err, ErrCodeReplayed) || !errors.Is(err, ErrInvalidCode) {
			t.Fatalf("replayed code: %v", err)
		}
		// Wrong code.
		wrong := "123456"
		if wrong == code(t, en.Secret, e.clock.Now().Add(30*time.Second)) {
			wrong = "654321"
		}
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, wrong); !errors.Is(err, ErrInvalidCode) || errors.Is(err, ErrCodeReplayed) {
			t.Fatalf("wrong code: %v", err)
		}
		fs, err := e.svc.ListFactors(e.ctx, u.ID)
		if err != nil || len(fs) != 1 || fs[0].LastUsedAt.IsZero() {
			t.Fatalf("ListFactors = %+v, %v", fs, err)
		}
	})
}

func TestTOTPSkew(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		tests := []struct {
			name   string
			offset time.Duration
			ok     bool
		}{
			{"previous step", -30 * time.Second, true},
			{"current step", 0, true},
			{"next step", 30 * time.Second, true},
			{"two steps behind", -60 * time.Second, false},
			{"two steps ahead", 60 * time.Second, false},
		}
		e := newEnv(t, s, policy(func(p *Policy) { p.MaxAttemptsPerUser = 100 }))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u := e.user()
				en, _ := e.enrolTOTP(u)
				// Two steps later, so the confirmation step is not in reach.
				e.clock.Add(30 * time.Second)
				_, err := e.svc.VerifyTOTP(e.ctx, u.ID, code(t, en.Secret, e.clock.Now().Add(tt.offset)))
				if tt.ok != (err == nil) {
					t.Fatalf("VerifyTOTP at %v: %v", tt.offset, err)
				}
				if !tt.ok && !errors.Is(err, ErrInvalidCode) {
					t.Fatalf("error %v is not ErrInvalidCode", err)
				}
			})
		}
	})
}

func TestTOTPEnrollmentExpires(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, DefaultPolicy())
		u := e.user()
		en, err := e.svc.BeginTOTP(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(EnrollmentTTL)
		if _, err := e.svc.ConfirmTOTP(e.ctx, u.ID, en.ID, code(t, en.Secret, e.clock.Now())); !errors.Is(err, ErrEnrollmentNotFound) {
			t.Fatalf("ConfirmTOTP after the TTL: %v", err)
		}
		// A new enrolment replaces the pending one.
		en2, err := e.svc.BeginTOTP(e.ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetCredential(e.ctx, en.ID); err == nil {
			t.Fatal("the earlier pending enrolment survived a new one")
		}
		if _, err := e.svc.ConfirmTOTP(e.ctx, u.ID, en2.ID, code(t, en2.Secret, e.clock.Now())); err != nil {
			t.Fatalf("ConfirmTOTP: %v", err)
		}
	})
}

// Of 20 concurrent verifications of one code exactly one succeeds, through
// the service (per-user lock) and through the bare compare-and-set.
func TestTOTPConcurrentVerification(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.MaxAttemptsPerUser = 100 }))
		for _, tt := range []struct {
			name   string
			verify func(userID, code string) error
		}{
			{"VerifyTOTP", func(userID, c string) error { _, err := e.svc.VerifyTOTP(e.ctx, userID, c); return err }},
			{"compare-and-set", func(userID, c string) error { _, err := e.svc.checkTOTP(e.ctx, userID, c); return err }},
		} {
			t.Run(tt.name, func(t *testing.T) {
				u := e.user()
				en, _ := e.enrolTOTP(u)
				c := code(t, en.Secret, e.clock.Now())
				const n = 20
				var (
					wg   sync.WaitGroup
					mu   sync.Mutex
					wins int
					errs []error
				)
				start := make(chan struct{})
				for range n {
					wg.Go(func() {
						<-start
						err := tt.verify(u.ID, c)
						mu.Lock()
						defer mu.Unlock()
						if err == nil {
							wins++
						} else {
							errs = append(errs, err)
						}
					})
				}
				close(start)
				wg.Wait()
				if wins != 1 {
					t.Fatalf("%d of %d concurrent verifications succeeded, want 1; errors: %v", wins, n, errs)
				}
				for _, err := range errs {
					if !errors.Is(err, ErrCodeReplayed) {
						t.Fatalf("loser's error %v is not ErrCodeReplayed", err)
					}
				}
			})
		}
	})
}

func TestTOTPDisabled(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, policy(func(p *Policy) { p.Factors = []FactorKind{FactorRecoveryCode} }))
		u := e.user()
		if _, err := e.svc.BeginTOTP(e.ctx, u); !errors.Is(err, ErrFactorDisabled) {
			t.Fatalf("BeginTOTP: %v", err)
		}
		if _, err := e.svc.VerifyTOTP(e.ctx, u.ID, "123456"); !errors.Is(err, ErrFactorDisabled) {
			t.Fatalf("VerifyTOTP: %v", err)
		}
	})
}
