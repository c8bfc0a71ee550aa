package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// ChallengeTTL is how long an MFA challenge may be answered after it began.
const ChallengeTTL = 10 * time.Minute

// maxOpenChallenges bounds a user's unexpired challenges (the oldest is
// dropped). The per-user limit holds whatever the number of challenges.
const maxOpenChallenges = 10

// state is the JSON of the user's CredentialState row: the times of recent
// wrong codes (the per-user sliding window) and the open challenges with
// their wrong-code counts.
type state struct {
	Version    int                       `json:"v"`
	Failures   []time.Time               `json:"failures,omitempty"`
	Challenges map[string]challengeState `json:"challenges,omitempty"`
}

type challengeState struct {
	Attempts  int       `json:"attempts"`
	ExpiresAt time.Time `json:"expires_at"`
}

func parseState(b []byte) (state, error) {
	st := state{Version: 1}
	if len(b) == 0 {
		return st, nil
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return state{}, fmt.Errorf("parse MFA state: %w", err)
	}
	if st.Version != 1 {
		return state{}, fmt.Errorf("parse MFA state: unknown version %d", st.Version)
	}
	return st, nil
}

// prune drops expired challenges and failures outside the window.
func (st *state) prune(now time.Time, window time.Duration) {
	st.Failures = slices.DeleteFunc(st.Failures, func(t time.Time) bool { return !t.After(now.Add(-window)) })
	for id, c := range st.Challenges {
		if !now.Before(c.ExpiresAt) {
			delete(st.Challenges, id)
		}
	}
}

// stateRow returns the ID of the user's CredentialState row, creating it on
// first use. Its ExternalID is keyed by the user ID, so concurrent creators
// collide on the unique index and the losers read the winner's row. It must
// run outside a transaction: on PostgreSQL a unique violation aborts the
// transaction it happens in.
func (s *Service) stateRow(ctx context.Context, userID string) (string, error) {
	ext := s.keys.stateID(userID)
	c, err := s.store.GetCredentialByExternalID(ctx, CredentialState, ext)
	if err == nil && c.UserID == userID {
		return c.ID, nil
	}
	if err == nil || !errors.Is(err, storage.ErrNotFound) {
		return "", fmt.Errorf("read MFA state: %w", errOr(err, "owner mismatch"))
	}
	if _, err := s.store.GetUser(ctx, userID); err != nil {
		return "", fmt.Errorf("read MFA state: %w", err)
	}
	now := s.now().UTC()
	c, err = s.store.CreateCredential(ctx, storage.Credential{
		UserID: userID, Kind: CredentialState, ExternalID: ext, Attributes: []byte(`{"v":1}`),
		CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		c, err = s.store.GetCredentialByExternalID(ctx, CredentialState, ext)
	}
	if err != nil {
		return "", fmt.Errorf("create MFA state: %w", err)
	}
	return c.ID, nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// lockState locks the user's state row until the transaction in ctx ends:
// the per-user lock every MFA write of the user takes first.
func (s *Service) lockState(ctx context.Context, stateID string) error {
	if _, err := s.store.UpdateCredential(ctx, stateID, func(*storage.Credential) error { return nil }); err != nil {
		return fmt.Errorf("lock MFA state: %w", err)
	}
	return nil
}

// updateState applies fn to the state under the row lock.
func (s *Service) updateState(ctx context.Context, stateID string, fn func(st *state, now time.Time)) error {
	_, err := s.store.UpdateCredential(ctx, stateID, func(c *storage.Credential) error {
		st, err := parseState(c.Attributes)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		st.prune(now, s.window())
		fn(&st, now)
		b, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode MFA state: %w", err)
		}
		c.Attributes = b
		return nil
	})
	if err != nil {
		return fmt.Errorf("update MFA state: %w", err)
	}
	return nil
}

func (s *Service) window() time.Duration {
	return time.Duration(s.policy.AttemptWindowSeconds) * time.Second
}

// Challenge is a begun MFA step: the login page answers it with Verify (a
// code) or with a security-key ceremony.
type Challenge struct {
	ID        string    `json:"challenge_id"`
	ExpiresAt time.Time `json:"expires_at"`
	// Factors are the kinds the user can answer with: enrolled and enabled.
	Factors []FactorKind `json:"factors"`
}

// BeginChallenge opens an MFA challenge for the user. A user with no
// enabled factor gets a challenge with no Factors: the page should offer
// enrolment instead.
func (s *Service) BeginChallenge(ctx context.Context, userID string) (Challenge, error) {
	stateID, err := s.stateRow(ctx, userID)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin MFA challenge: %w", err)
	}
	factors, err := s.ListFactors(ctx, userID)
	if err != nil {
		return Challenge{}, fmt.Errorf("begin MFA challenge: %w", err)
	}
	var kinds []FactorKind
	for _, f := range factors {
		if s.policy.Enabled(f.Kind) && !slices.Contains(kinds, f.Kind) && (f.Kind != FactorWebAuthnRoaming || s.sk != nil) {
			kinds = append(kinds, f.Kind)
		}
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Challenge{}, fmt.Errorf("begin MFA challenge: %w", err)
	}
	ch := Challenge{ID: base64.RawURLEncoding.EncodeToString(b[:]), Factors: kinds}
	err = s.updateState(ctx, stateID, func(st *state, now time.Time) {
		ch.ExpiresAt = now.Add(ChallengeTTL)
		if st.Challenges == nil {
			st.Challenges = map[string]challengeState{}
		}
		for len(st.Challenges) >= maxOpenChallenges {
			oldest := ""
			for id, c := range st.Challenges {
				if oldest == "" || c.ExpiresAt.Before(st.Challenges[oldest].ExpiresAt) {
					oldest = id
				}
			}
			delete(st.Challenges, oldest)
		}
		st.Challenges[ch.ID] = challengeState{ExpiresAt: ch.ExpiresAt}
	})
	if err != nil {
		return Challenge{}, fmt.Errorf("begin MFA challenge: %w", err)
	}
	return ch, nil
}

// Verify answers the user's MFA challenge with a code of the given kind
// (FactorOTP or FactorRecoveryCode) and returns the evidence. On success
// the challenge is finished; a wrong code counts against the challenge
// (MaxAttemptsPerChallenge) and the user (MaxAttemptsPerUser per window).
//
// Errors: ErrChallengeNotFound, *LimitError (ErrTooManyAttempts),
// ErrInvalidCode (ErrCodeReplayed), ErrFactorDisabled, ErrFactorNotFound.
func (s *Service) Verify(ctx context.Context, userID, challengeID string, kind FactorKind, code string) (connector.Method, error) {
	if challengeID == "" || len(challengeID) > 64 {
		return connector.Method{}, fmt.Errorf("verify MFA challenge: %w", ErrChallengeNotFound)
	}
	var check func(ctx context.Context) (connector.Method, error)
	switch kind {
	case FactorOTP:
		check = func(ctx context.Context) (connector.Method, error) { return s.checkTOTP(ctx, userID, code) }
	case FactorRecoveryCode:
		check = func(ctx context.Context) (connector.Method, error) { return s.checkRecoveryCode(ctx, userID, code) }
	default:
		return connector.Method{}, fmt.Errorf("verify MFA challenge: %w: %q takes no code", ErrFactorDisabled, kind)
	}
	if !s.policy.Enabled(kind) {
		return connector.Method{}, fmt.Errorf("verify MFA challenge: %w", ErrFactorDisabled)
	}
	m, err := s.attempt(ctx, userID, challengeID, check)
	if err != nil {
		return connector.Method{}, fmt.Errorf("verify MFA challenge: %w", err)
	}
	return m, nil
}

// attempt runs one guarded code check for the user, in one transaction
// that first locks the user's state row: attempts of one user serialise
// across replicas, the limits are checked before the code is, and a wrong
// code's count is committed with the outcome. With a challengeID the
// challenge must be open and under its own limit, and a success finishes
// it. Only errors wrapping ErrInvalidCode count as failures; a store error
// rolls everything back.
func (s *Service) attempt(ctx context.Context, userID, challengeID string, check func(ctx context.Context) (connector.Method, error)) (connector.Method, error) {
	stateID, err := s.stateRow(ctx, userID)
	if err != nil {
		return connector.Method{}, err
	}
	var (
		method   connector.Method
		outcome  error
		perChal  = s.policy.MaxAttemptsPerChallenge
		perUser  = s.policy.MaxAttemptsPerUser
		windowed = s.window()
	)
	err = s.store.InTx(ctx, func(ctx context.Context) error {
		var refused error
		err := s.updateState(ctx, stateID, func(st *state, now time.Time) {
			if challengeID != "" {
				c, ok := st.Challenges[challengeID]
				switch {
				case !ok:
					refused = ErrChallengeNotFound
					return
				case c.Attempts >= perChal:
					refused = &LimitError{Scope: scopeChallenge}
					return
				}
			}
			if len(st.Failures) >= perUser {
				oldest := slices.MinFunc(st.Failures, func(a, b time.Time) int { return a.Compare(b) })
				refused = &LimitError{Scope: scopeUser, RetryAfter: max(oldest.Add(windowed).Sub(now), time.Second)}
			}
		})
		if err != nil {
			return err
		}
		if refused != nil {
			outcome = refused
			return nil
		}
		method, outcome = check(ctx)
		switch {
		case outcome == nil:
			if challengeID == "" {
				return nil
			}
			return s.updateState(ctx, stateID, func(st *state, _ time.Time) { delete(st.Challenges, challengeID) })
		case errors.Is(outcome, ErrInvalidCode):
			return s.updateState(ctx, stateID, func(st *state, now time.Time) {
				st.Failures = append(st.Failures, now)
				if len(st.Failures) > perUser {
					st.Failures = st.Failures[len(st.Failures)-perUser:]
				}
				if c, ok := st.Challenges[challengeID]; ok {
					c.Attempts++
					st.Challenges[challengeID] = c
				}
			})
		case errors.Is(outcome, ErrEnrollmentNotFound), errors.Is(outcome, ErrFactorNotFound):
			return nil
		default:
			return outcome
		}
	})
	if err != nil {
		return connector.Method{}, err
	}
	if outcome != nil {
		if errors.Is(outcome, ErrTooManyAttempts) || errors.Is(outcome, ErrInvalidCode) {
			s.logger.WarnContext(ctx, "MFA attempt refused", "user_id", userID, "error", outcome.Error())
		}
		return connector.Method{}, outcome
	}
	return method, nil
}
