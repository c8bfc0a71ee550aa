package mfa

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// TOTP parameters: those every authenticator app supports (RFC 6238 §4:
// T0 = 0, X = 30 s; HMAC-SHA-1 and 6 digits as in RFC 4226 §5.3), with a
// 160-bit secret (RFC 4226 §4 R6 recommends 160 bits).
const (
	totpPeriod     = 30
	totpDigits     = 6
	totpSecretSize = 20
	// totpSkew is how many steps before and after the current one are
	// accepted (RFC 6238 §5.2 recommends at most one step of network delay).
	totpSkew = 1
)

// EnrollmentTTL is how long a TOTP enrolment may be confirmed after it began.
const EnrollmentTTL = 15 * time.Minute

// qrSize is the width and height of the enrolment QR code, in pixels.
const qrSize = 256

// totpAttributes is the JSON of a CredentialTOTP's Attributes.
type totpAttributes struct {
	Version   int    `json:"v"`
	Confirmed bool   `json:"confirmed"`
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"`
}

func parseTOTPAttributes(b []byte) (totpAttributes, error) {
	var a totpAttributes
	if err := json.Unmarshal(b, &a); err != nil {
		return totpAttributes{}, fmt.Errorf("parse TOTP attributes: %w", err)
	}
	if a.Version != 1 || a.Algorithm != "SHA1" || a.Digits != totpDigits || a.Period != totpPeriod {
		return totpAttributes{}, fmt.Errorf("parse TOTP attributes: unsupported version or parameters %+v", a)
	}
	return a, nil
}

// Enrollment is a begun TOTP enrolment, for the page that shows it once.
type Enrollment struct {
	// ID names the enrolment to ConfirmTOTP (it becomes the factor's ID).
	ID string `json:"enrollment_id"`
	// Secret is the base32 secret (RFC 4648 §6, no padding) for typing in.
	Secret string `json:"secret"`
	// URI is the otpauth:// key URI the QR code encodes.
	URI string `json:"uri"`
	// QRPNG is the QR code of URI as a PNG image, generated locally.
	QRPNG     []byte    `json:"qr_png"`
	ExpiresAt time.Time `json:"expires_at"`
}

// BeginTOTP starts enrolling an authenticator app for the user: a new
// random secret, stored sealed (AES-256-GCM) in a pending credential that
// ConfirmTOTP activates with a first valid code. Starting another
// enrolment drops the user's earlier pending ones.
func (s *Service) BeginTOTP(ctx context.Context, user storage.User) (Enrollment, error) {
	if !s.policy.Enabled(FactorOTP) {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", ErrFactorDisabled)
	}
	if user.ID == "" {
		return Enrollment{}, errors.New("begin TOTP enrolment: no user")
	}
	if user.Blocked {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", connector.ErrUserBlocked)
	}
	secret := make([]byte, totpSecretSize)
	if _, err := rand.Read(secret); err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	account := user.Email
	if account == "" {
		account = user.Username
	}
	if account == "" {
		account = user.ID
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.issuer, AccountName: account, Period: totpPeriod, Secret: secret,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: QR code: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	sealed, err := s.keys.seal(secret, id.String(), user.ID)
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	attrs, err := json.Marshal(totpAttributes{Version: 1, Algorithm: "SHA1", Digits: totpDigits, Period: totpPeriod})
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	stateID, err := s.stateRow(ctx, user.ID)
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	now := s.now().UTC()
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockState(ctx, stateID); err != nil {
			return err
		}
		creds, err := s.store.ListCredentials(ctx, user.ID, CredentialTOTP)
		if err != nil {
			return err
		}
		confirmed := 0
		for _, c := range creds {
			if a, err := parseTOTPAttributes(c.Attributes); err == nil && a.Confirmed {
				confirmed++
				continue
			}
			if err := s.store.DeleteCredential(ctx, c.ID); err != nil {
				return err
			}
		}
		if confirmed >= MaxFactorsPerKind {
			return ErrTooManyFactors
		}
		_, err = s.store.CreateCredential(ctx, storage.Credential{
			ID: id.String(), UserID: user.ID, Kind: CredentialTOTP, Secret: sealed, Attributes: attrs,
			Name: "Authenticator app", CreatedAt: now, UpdatedAt: now,
		})
		return err
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("begin TOTP enrolment: %w", err)
	}
	return Enrollment{
		ID: id.String(), Secret: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret),
		URI: key.URL(), QRPNG: qr.Bytes(), ExpiresAt: now.Add(EnrollmentTTL),
	}, nil
}

// ConfirmTOTP activates the user's pending enrolment with a first valid
// code, which is then spent (it cannot be replayed to log in). A wrong code
// keeps the enrolment pending and counts against the per-user limit.
//
// Errors: ErrEnrollmentNotFound, ErrInvalidCode, *LimitError.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, enrollmentID, code string) (Factor, error) {
	var f Factor
	_, err := s.attempt(ctx, userID, "", func(ctx context.Context) (connector.Method, error) {
		c, err := s.store.GetCredential(ctx, enrollmentID)
		if errors.Is(err, storage.ErrNotFound) {
			return connector.Method{}, ErrEnrollmentNotFound
		}
		if err != nil {
			return connector.Method{}, err
		}
		now := s.now().UTC()
		a, err := parseTOTPAttributes(c.Attributes)
		if err != nil || c.UserID != userID || c.Kind != CredentialTOTP || a.Confirmed || !now.Before(c.CreatedAt.Add(EnrollmentTTL)) {
			return connector.Method{}, ErrEnrollmentNotFound
		}
		step, err := s.matchStep(c, code, now)
		if err != nil {
			return connector.Method{}, err
		}
		c, err = s.store.UpdateCredential(ctx, c.ID, func(c *storage.Credential) error {
			a, err := parseTOTPAttributes(c.Attributes)
			if err != nil || a.Confirmed {
				return ErrEnrollmentNotFound
			}
			a.Confirmed = true
			b, err := json.Marshal(a)
			if err != nil {
				return err
			}
			c.Attributes, c.SignCount, c.LastUsedAt = b, step, now
			return nil
		})
		if err != nil {
			return connector.Method{}, err
		}
		f = Factor{ID: c.ID, Kind: FactorOTP, Name: c.Name, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt}
		return connector.Method{}, nil
	})
	if err != nil {
		return Factor{}, fmt.Errorf("confirm TOTP enrolment: %w", err)
	}
	s.logger.InfoContext(ctx, "TOTP authenticator enrolled", "user_id", userID, "factor_id", f.ID)
	return f, nil
}

// VerifyTOTP checks a code from one of the user's authenticator apps (RFC
// 6238) and returns the evidence. A code is accepted once: the last accepted
// time step is kept in the credential's SignCount and only a later step is
// accepted, by a compare-and-set under the credential's row lock, so of
// concurrent verifications of one code on any replicas exactly one
// succeeds. Codes of the previous and next step are accepted for clock
// skew. Wrong codes count against the per-user limit; use Verify for a
// login's MFA challenge.
//
// Errors: ErrInvalidCode (ErrCodeReplayed), *LimitError,
// ErrFactorDisabled, ErrFactorNotFound (no confirmed authenticator).
func (s *Service) VerifyTOTP(ctx context.Context, userID, code string) (connector.Method, error) {
	if !s.policy.Enabled(FactorOTP) {
		return connector.Method{}, fmt.Errorf("verify TOTP code: %w", ErrFactorDisabled)
	}
	m, err := s.attempt(ctx, userID, "", func(ctx context.Context) (connector.Method, error) {
		return s.checkTOTP(ctx, userID, code)
	})
	if err != nil {
		return connector.Method{}, fmt.Errorf("verify TOTP code: %w", err)
	}
	return m, nil
}

// checkTOTP verifies code against every confirmed authenticator of the
// user and spends its time step.
func (s *Service) checkTOTP(ctx context.Context, userID, code string) (connector.Method, error) {
	creds, err := s.store.ListCredentials(ctx, userID, CredentialTOTP)
	if err != nil {
		return connector.Method{}, err
	}
	now := s.now().UTC()
	var (
		found    bool
		replayed bool
		match    storage.Credential
		step     uint32
	)
	for _, c := range creds {
		a, err := parseTOTPAttributes(c.Attributes)
		if err != nil {
			s.logger.ErrorContext(ctx, "stored TOTP authenticator is unreadable", "credential_id", c.ID, "user_id", userID, "error", err)
			continue
		}
		if !a.Confirmed {
			continue
		}
		found = true
		st, err := s.matchStep(c, code, now)
		switch {
		case errors.Is(err, ErrCodeReplayed):
			replayed = true
		case err == nil && st > step:
			match, step = c, st
		case err != nil && !errors.Is(err, ErrInvalidCode):
			s.logger.ErrorContext(ctx, "stored TOTP authenticator cannot be checked", "credential_id", c.ID, "user_id", userID, "error", err)
		}
	}
	if !found {
		return connector.Method{}, ErrFactorNotFound
	}
	if step == 0 {
		if replayed {
			return connector.Method{}, ErrCodeReplayed
		}
		return connector.Method{}, ErrInvalidCode
	}
	c, err := s.store.UpdateCredential(ctx, match.ID, func(c *storage.Credential) error {
		if step <= c.SignCount {
			return ErrCodeReplayed
		}
		c.SignCount, c.LastUsedAt = step, now
		return nil
	})
	if err != nil {
		return connector.Method{}, err
	}
	return connector.Method{Kind: connector.MethodOTP, Time: now, CredentialID: c.ID}, nil
}

// matchStep returns the time step (RFC 6238 §4.2, T = floor(unix time /
// 30)) within ±totpSkew of now whose code is code and that is later than
// the credential's last accepted step. Every candidate is computed and
// compared in constant time. A code that matches only spent steps gives
// ErrCodeReplayed; no match gives ErrInvalidCode. A time step fits the
// uint32 SignCount until the year 6053.
func (s *Service) matchStep(c storage.Credential, code string, now time.Time) (uint32, error) {
	digits, ok := NormalizeOTP(code, totpDigits)
	if !ok {
		return 0, ErrInvalidCode
	}
	secret, err := s.keys.open(c.Secret, c.ID, c.UserID)
	if err != nil {
		return 0, fmt.Errorf("open TOTP secret of %s: %w", c.ID, err)
	}
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	current := now.Unix() / totpPeriod
	var best uint32
	replayed := false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		t := current + d
		if t <= 0 || t > int64(^uint32(0)) {
			continue
		}
		want, err := hotp.GenerateCodeCustom(b32, uint64(t), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, fmt.Errorf("compute TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(digits)) == 1 {
			if uint32(t) > c.SignCount {
				best = max(best, uint32(t))
			} else {
				replayed = true
			}
		}
	}
	switch {
	case best > 0:
		return best, nil
	case replayed:
		return 0, ErrCodeReplayed
	default:
		return 0, ErrInvalidCode
	}
}
