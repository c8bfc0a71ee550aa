package passkey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

const (
	issuer = "https://login.example.test"
	origin = "https://login.example.test"
	rpID   = "login.example.test"
)

// clock is a settable clock for the relying party.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one store with a database connection and a relying party.
type env struct {
	t     testing.TB
	ctx   context.Context
	store *sqlstore.Store
	conn  storage.Connection
	clock *clock
	logs  *syncBuffer
	rp    *passkey.RelyingParty
	n     atomic.Int64
}

func newEnv(t testing.TB, s *sqlstore.Store) *env {
	t.Helper()
	ctx := context.Background()
	conn, err := s.UpsertConnection(ctx, storage.Connection{Name: "Username-Password-Authentication", Type: "database", Settings: []byte("{}")})
	if err != nil {
		t.Fatalf("upsert connection: %v", err)
	}
	e := &env{t: t, ctx: ctx, store: s, conn: conn, clock: newClock(), logs: &syncBuffer{}}
	e.rp = e.newRP(nil)
	return e
}

// newRP builds a relying party on the env's store with the default policy
// changed by mutate.
func (e *env) newRP(mutate func(*passkey.Policy)) *passkey.RelyingParty {
	e.t.Helper()
	return e.newRPFor(e.conn.ID, mutate)
}

func (e *env) newRPFor(connectionID string, mutate func(*passkey.Policy)) *passkey.RelyingParty {
	e.t.Helper()
	p := passkey.DefaultPolicy()
	if mutate != nil {
		mutate(&p)
	}
	rp, err := passkey.New(passkey.Config{
		Policy: p, ConnectionID: connectionID, RPDisplayName: "Latchkey", Issuer: issuer, Store: e.store,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)), Now: e.clock.Now,
	})
	if err != nil {
		e.t.Fatalf("passkey.New: %v", err)
	}
	return rp
}

func (e *env) user() storage.User {
	e.t.Helper()
	u, err := e.store.CreateUser(e.ctx, storage.User{ConnectionID: e.conn.ID, Email: fmt.Sprintf("user%d@example.com", e.n.Add(1))})
	if err != nil {
		e.t.Fatalf("create user: %v", err)
	}
	return u
}

// register adds a passkey made by a to u through rp.
func (e *env) register(rp *passkey.RelyingParty, u storage.User, a *passkeytest.Authenticator) (passkey.Registration, *passkeytest.Credential) {
	e.t.Helper()
	c, err := rp.BeginRegistration(e.ctx, u, passkey.RegistrationOptions{UserAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"})
	if err != nil {
		e.t.Fatalf("BeginRegistration: %v", err)
	}
	resp, cred, err := a.Create(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		e.t.Fatalf("authenticator create: %v", err)
	}
	reg, err := rp.FinishRegistration(e.ctx, c.ID, resp)
	if err != nil {
		e.t.Fatalf("FinishRegistration: %v", err)
	}
	return reg, cred
}

func (e *env) beginLogin(rp *passkey.RelyingParty, u *storage.User) passkey.Ceremony {
	e.t.Helper()
	c, err := rp.BeginLogin(e.ctx, u, passkey.LoginOptions{})
	if err != nil {
		e.t.Fatalf("BeginLogin: %v", err)
	}
	return c
}

func (e *env) beginReg(rp *passkey.RelyingParty, u storage.User) passkey.Ceremony {
	e.t.Helper()
	c, err := rp.BeginRegistration(e.ctx, u, passkey.RegistrationOptions{})
	if err != nil {
		e.t.Fatalf("BeginRegistration: %v", err)
	}
	return c
}

// snapshot is everything a failed ceremony must leave unchanged: the users
// and all their credentials (sign counts, attributes, last use).
func (e *env) snapshot() string {
	e.t.Helper()
	users, err := e.store.ListUsers(e.ctx, storage.UserFilter{Limit: 1000})
	if err != nil {
		e.t.Fatalf("list users: %v", err)
	}
	var b strings.Builder
	for _, u := range users {
		fmt.Fprintf(&b, "user %s %s last_login=%s updated=%s\n", u.ID, u.Email, u.LastLoginAt.UTC(), u.UpdatedAt.UTC())
		creds, err := e.store.ListCredentials(e.ctx, u.ID, "")
		if err != nil {
			e.t.Fatalf("list credentials: %v", err)
		}
		for _, c := range creds {
			fmt.Fprintf(&b, "  cred %s %s %x count=%d used=%s name=%q attrs=%s\n", c.ID, c.Kind, c.ExternalID, c.SignCount, c.LastUsedAt.UTC(), c.Name, c.Attributes)
		}
	}
	return b.String()
}

func synced(a *passkeytest.Authenticator) *passkeytest.Authenticator {
	a.BackupEligible, a.BackupState = true, true
	return a
}

func deviceBound(a *passkeytest.Authenticator) *passkeytest.Authenticator {
	a.BackupEligible, a.BackupState = false, false
	a.Attachment = "cross-platform"
	a.Transports = []string{"usb", "nfc"}
	a.AAGUID = passkeytest.AAGUIDZero()
	return a
}

func TestRegisterAndLogin(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		u := e.user()
		a := passkeytest.New(origin)
		a.AAGUID, _ = passkeytest.ParseAAGUID("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")

		// Options: discoverable, UV required, attestation none, ES256 offered.
		c := e.beginReg(e.rp, u)
		var opts map[string]any
		if err := json.Unmarshal(c.PublicKey, &opts); err != nil {
			t.Fatal(err)
		}
		sel := opts["authenticatorSelection"].(map[string]any)
		if sel["residentKey"] != "required" || sel["userVerification"] != "required" || opts["rp"].(map[string]any)["id"] != rpID {
			t.Fatalf("creation options: %s", c.PublicKey)
		}
		if !c.ExpiresAt.Equal(e.clock.Now().UTC().Add(passkey.CeremonyTTL)) {
			t.Fatalf("expires at %v", c.ExpiresAt)
		}
		resp, cred, err := a.Create(c.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := e.rp.FinishRegistration(e.ctx, c.ID, resp)
		if err != nil {
			t.Fatalf("FinishRegistration: %v", err)
		}
		if reg.Created || reg.User.ID != u.ID || reg.Credential.UserID != u.ID || !bytes.Equal(reg.Credential.ExternalID, cred.ID) {
			t.Fatalf("registration: %+v", reg)
		}
		if reg.Passkey.Name != "Google Password Manager" || reg.Passkey.Provider != "Google Password Manager" || !reg.Passkey.Synced {
			t.Fatalf("passkey: %+v", reg.Passkey)
		}
		attrs, err := passkey.ParseAttributes(reg.Credential.Attributes)
		if err != nil {
			t.Fatal(err)
		}
		if attrs.Algorithm != -7 || !attrs.UserPresent || !attrs.UserVerified || !attrs.BackupEligible || !attrs.BackupState ||
			attrs.AttestationFormat != "none" || attrs.AttestationType != "none" || attrs.AttestationVerified ||
			!reflect.DeepEqual(attrs.Transports, []string{"internal", "hybrid"}) || attrs.Attachment != "platform" ||
			len(attrs.AttestationObject) == 0 || len(attrs.ClientDataJSON) == 0 || attrs.ResidentKey == nil || !*attrs.ResidentKey {
			t.Fatalf("attributes: %+v", attrs)
		}
		if len(reg.Credential.PublicKey) == 0 || reg.Credential.Kind != storage.CredentialWebAuthn {
			t.Fatalf("credential: %+v", reg.Credential)
		}

		// Discoverable login (autofill / button).
		lc := e.beginLogin(e.rp, nil)
		if strings.Contains(string(lc.PublicKey), "allowCredentials") {
			t.Fatalf("discoverable options list credentials: %s", lc.PublicKey)
		}
		resp, err = a.Get(lc.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		got, m, err := e.rp.FinishLogin(e.ctx, lc.ID, resp)
		if err != nil {
			t.Fatalf("FinishLogin (discoverable): %v", err)
		}
		want := connector.Method{
			Kind: connector.MethodPasskey, Time: e.clock.Now().UTC(), CredentialID: reg.Credential.ID,
			UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true,
			AAGUID: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
		}
		if got.ID != u.ID || !reflect.DeepEqual(m, want) {
			t.Fatalf("login = %s %+v, want %+v", got.ID, m, want)
		}
		if got.LastLoginAt.IsZero() {
			t.Fatal("last login not recorded")
		}
		stored, err := s.GetCredential(e.ctx, reg.Credential.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.SignCount != 1 || stored.LastUsedAt.IsZero() {
			t.Fatalf("after login: count %d, last used %v", stored.SignCount, stored.LastUsedAt)
		}

		// Email-first login: allowCredentials lists the user's passkey.
		lc = e.beginLogin(e.rp, &u)
		if !strings.Contains(string(lc.PublicKey), base64.RawURLEncoding.EncodeToString(cred.ID)) {
			t.Fatalf("email-first options lack the credential: %s", lc.PublicKey)
		}
		resp, err = a.Get(lc.PublicKey, passkeytest.Tamper{Attachment: "cross-platform"})
		if err != nil {
			t.Fatal(err)
		}
		_, m, err = e.rp.FinishLogin(e.ctx, lc.ID, resp)
		if err != nil {
			t.Fatalf("FinishLogin (email first): %v", err)
		}
		if !m.CrossDevice {
			t.Fatal("a cross-platform assertion is not reported as cross-device")
		}
		if stored, _ = s.GetCredential(e.ctx, reg.Credential.ID); stored.SignCount != 2 {
			t.Fatalf("sign count %d, want 2", stored.SignCount)
		}

		// Registration excludes the existing credential.
		c = e.beginReg(e.rp, u)
		if !strings.Contains(string(c.PublicKey), base64.RawURLEncoding.EncodeToString(cred.ID)) {
			t.Fatalf("excludeCredentials lacks the user's passkey: %s", c.PublicKey)
		}
		if _, _, err := a.Create(c.PublicKey, passkeytest.Tamper{}); !errors.Is(err, passkeytest.ErrExcluded) {
			t.Fatalf("authenticator did not honour excludeCredentials: %v", err)
		}
	})
}

func TestEvidenceSyncedVersusDeviceBound(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		tests := []struct {
			name     string
			have     *passkeytest.Authenticator
			expected connector.Method
			synced   bool
			pkName   string
		}{
			{"synced passkey", synced(passkeytest.New(origin)), connector.Method{UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true, AAGUID: "01020304-0506-0708-0102-030405060708"}, true, "Chrome on macOS"},
			{"device-bound security key", deviceBound(passkeytest.New(origin)), connector.Method{UserPresent: true, UserVerified: true, AAGUID: "00000000-0000-0000-0000-000000000000", CrossDevice: true}, false, "Chrome on macOS"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u := e.user()
				reg, _ := e.register(e.rp, u, tt.have)
				if reg.Passkey.Synced != tt.synced || reg.Passkey.Name != tt.pkName {
					t.Fatalf("passkey %+v", reg.Passkey)
				}
				lc := e.beginLogin(e.rp, nil)
				resp, err := tt.have.Get(lc.PublicKey, passkeytest.Tamper{})
				if err != nil {
					t.Fatal(err)
				}
				_, m, err := e.rp.FinishLogin(e.ctx, lc.ID, resp)
				if err != nil {
					t.Fatalf("FinishLogin: %v", err)
				}
				tt.expected.Kind, tt.expected.Time, tt.expected.CredentialID = connector.MethodPasskey, m.Time, reg.Credential.ID
				if !reflect.DeepEqual(m, tt.expected) {
					t.Fatalf("method = %+v, want %+v", m, tt.expected)
				}
			})
		}
	})
}

func TestSignup(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		a := passkeytest.New(origin)
		a.AAGUID = passkeytest.AAGUIDZero()
		c, err := e.rp.BeginSignup(e.ctx, connector.Profile{Email: "  New@Example.com ", Name: "New Person"},
			passkey.RegistrationOptions{Hint: passkey.HintHybrid, UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"})
		if err != nil {
			t.Fatalf("BeginSignup: %v", err)
		}
		if !strings.Contains(string(c.PublicKey), `"hints":["hybrid"]`) || !strings.Contains(string(c.PublicKey), `"authenticatorAttachment":"cross-platform"`) {
			t.Fatalf("hybrid hint not applied: %s", c.PublicKey)
		}
		if _, err := s.GetUserByEmail(e.ctx, e.conn.ID, "new@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the user exists before the passkey is verified: %v", err)
		}
		resp, _, err := a.Create(c.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := e.rp.FinishRegistration(e.ctx, c.ID, resp)
		if err != nil {
			t.Fatalf("FinishRegistration: %v", err)
		}
		if !reg.Created || reg.User.Email != "new@example.com" || reg.User.Name != "New Person" || reg.Passkey.Name != "Safari on iOS" {
			t.Fatalf("sign-up: %+v / %+v", reg.User, reg.Passkey)
		}
		if !reg.Method.UserVerified || reg.Method.Kind != connector.MethodPasskey {
			t.Fatalf("method %+v", reg.Method)
		}
		u, err := s.GetUserByEmail(e.ctx, e.conn.ID, "new@example.com")
		if err != nil || u.ID != reg.User.ID {
			t.Fatalf("created user: %+v, %v", u, err)
		}
		// The same email cannot sign up again.
		if _, err := e.rp.BeginSignup(e.ctx, connector.Profile{Email: "new@example.com"}, passkey.RegistrationOptions{}); !errors.Is(err, connector.ErrUserExists) {
			t.Fatalf("second sign-up: %v", err)
		}
		// The new user logs in with the passkey.
		lc := e.beginLogin(e.rp, nil)
		resp, err = a.Get(lc.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := e.rp.FinishLogin(e.ctx, lc.ID, resp); err != nil || got.ID != u.ID {
			t.Fatalf("login after sign-up: %v", err)
		}
		// A policy that requires passwords refuses passkey-only sign-up.
		rp := e.newRP(func(p *passkey.Policy) { p.AllowPasskeyOnly = false })
		var pe *passkey.PolicyError
		if _, err := rp.BeginSignup(e.ctx, connector.Profile{Email: "other@example.com"}, passkey.RegistrationOptions{}); !errors.As(err, &pe) || pe.Rule != "allow_passkey_only" {
			t.Fatalf("passkey-only sign-up with allow_passkey_only=false: %v", err)
		}
	})
}

func TestSignCountRegressionFlagged(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		rp := e.newRP(func(p *passkey.Policy) { p.SignCountRegression = passkey.SignCountFlag })
		u := e.user()
		a := passkeytest.New(origin)
		reg, _ := e.register(rp, u, a)
		for range 3 { // counter 1, 2, 3
			lc := e.beginLogin(rp, nil)
			resp, _ := a.Get(lc.PublicKey, passkeytest.Tamper{})
			if _, _, err := rp.FinishLogin(e.ctx, lc.ID, resp); err != nil {
				t.Fatal(err)
			}
		}
		lc := e.beginLogin(rp, nil)
		two := uint32(2)
		resp, _ := a.Get(lc.PublicKey, passkeytest.Tamper{SignCount: &two})
		if _, _, err := rp.FinishLogin(e.ctx, lc.ID, resp); err != nil {
			t.Fatalf("flag mode refused a regressed counter: %v", err)
		}
		c, err := s.GetCredential(e.ctx, reg.Credential.ID)
		if err != nil {
			t.Fatal(err)
		}
		attrs, _ := passkey.ParseAttributes(c.Attributes)
		if c.SignCount != 3 || !attrs.CloneWarning {
			t.Fatalf("after flagged regression: count %d, clone warning %v", c.SignCount, attrs.CloneWarning)
		}
		if l := e.logs.String(); !strings.Contains(l, "signature counter did not increase") || !strings.Contains(l, "received_sign_count=2") {
			t.Fatalf("regression not logged: %s", l)
		}
		list, _ := rp.List(e.ctx, u.ID)
		if len(list) != 1 || !list[0].CloneWarning {
			t.Fatalf("list: %+v", list)
		}
	})
}

func TestConcurrentFinishOneWins(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		u := e.user()
		a := passkeytest.New(origin)
		reg, _ := e.register(e.rp, u, a)

		for _, kind := range []string{"login", "registration"} {
			t.Run(kind, func(t *testing.T) {
				var (
					finish func() error
					c      passkey.Ceremony
				)
				if kind == "login" {
					c = e.beginLogin(e.rp, nil)
					resp, _ := a.Get(c.PublicKey, passkeytest.Tamper{})
					finish = func() error { _, _, err := e.rp.FinishLogin(e.ctx, c.ID, resp); return err }
				} else {
					c = e.beginReg(e.rp, u)
					resp, _, err := passkeytest.New(origin).Create(c.PublicKey, passkeytest.Tamper{})
					if err != nil {
						t.Fatal(err)
					}
					finish = func() error { _, err := e.rp.FinishRegistration(e.ctx, c.ID, resp); return err }
				}
				const n = 8
				var (
					wg       sync.WaitGroup
					ok, gone atomic.Int32
					others   = make(chan error, n)
				)
				for range n {
					wg.Go(func() {
						switch err := finish(); {
						case err == nil:
							ok.Add(1)
						case errors.Is(err, passkey.ErrCeremonyNotFound):
							gone.Add(1)
						default:
							others <- err
						}
					})
				}
				wg.Wait()
				close(others)
				for err := range others {
					t.Errorf("unexpected error: %v", err)
				}
				if ok.Load() != 1 || gone.Load() != n-1 {
					t.Fatalf("%d finishes succeeded, %d found no ceremony; want 1 and %d", ok.Load(), gone.Load(), n-1)
				}
			})
		}
		c, _ := s.GetCredential(e.ctx, reg.Credential.ID)
		if c.SignCount != 1 {
			t.Fatalf("sign count %d after one winning login", c.SignCount)
		}
		if list, _ := e.rp.List(e.ctx, u.ID); len(list) != 2 {
			t.Fatalf("%d passkeys after one winning registration", len(list))
		}
	})
}

func TestManagement(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		u := e.user()
		a1, a2 := passkeytest.New(origin), deviceBound(passkeytest.New(origin))
		r1, _ := e.register(e.rp, u, a1)
		e.clock.Advance(time.Minute)
		r2, _ := e.register(e.rp, u, a2)

		list, err := e.rp.List(e.ctx, u.ID)
		if err != nil || len(list) != 2 || list[0].ID != r1.Credential.ID || !list[0].Synced || list[1].Synced {
			t.Fatalf("List = %+v, %v", list, err)
		}
		p, err := e.rp.Rename(e.ctx, u.ID, r1.Credential.ID, "  Work laptop ")
		if err != nil || p.Name != "Work laptop" {
			t.Fatalf("Rename = %+v, %v", p, err)
		}
		for _, bad := range []string{"", "   ", strings.Repeat("x", 65), "a\x00b"} {
			if _, err := e.rp.Rename(e.ctx, u.ID, r1.Credential.ID, bad); !errors.Is(err, passkey.ErrInvalidName) {
				t.Errorf("Rename(%q) = %v", bad, err)
			}
		}
		other := e.user()
		if _, err := e.rp.Rename(e.ctx, other.ID, r1.Credential.ID, "mine"); !errors.Is(err, passkey.ErrPasskeyNotFound) {
			t.Fatalf("rename another user's passkey: %v", err)
		}
		if err := e.rp.Delete(e.ctx, other.ID, r1.Credential.ID); !errors.Is(err, passkey.ErrPasskeyNotFound) {
			t.Fatalf("delete another user's passkey: %v", err)
		}
		if err := e.rp.Delete(e.ctx, u.ID, r2.Credential.ID); err != nil {
			t.Fatalf("delete the second passkey: %v", err)
		}
		before := e.snapshot()
		if err := e.rp.Delete(e.ctx, u.ID, r1.Credential.ID); !errors.Is(err, passkey.ErrLastCredential) {
			t.Fatalf("delete the last way to sign in: %v", err)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("refused delete changed the store:\n%s\n%s", before, after)
		}
		// With a password, the last passkey may go.
		if err := s.SetPassword(e.ctx, u.ID, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", 0); err != nil {
			t.Fatal(err)
		}
		if err := e.rp.Delete(e.ctx, u.ID, r1.Credential.ID); err != nil {
			t.Fatalf("delete with a password left: %v", err)
		}
		if list, _ := e.rp.List(e.ctx, u.ID); len(list) != 0 {
			t.Fatalf("passkeys left: %+v", list)
		}
	})
}

// random returns n random bytes.
func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// editJSON decodes a response, applies fn and encodes it again.
func editJSON(t testing.TB, resp []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func responseField(m map[string]any) map[string]any { return m["response"].(map[string]any) }

// A backup-eligible passkey that gets backed up later (BS 0 -> 1) logs in,
// and the stored backup state follows.
func TestBackupStateFollowsLogins(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		u := e.user()
		a := passkeytest.New(origin)
		a.BackupState = false
		reg, _ := e.register(e.rp, u, a)
		if reg.Passkey.BackedUp || !reg.Passkey.Synced {
			t.Fatalf("registered %+v", reg.Passkey)
		}
		a.BackupState = true
		lc := e.beginLogin(e.rp, &u)
		resp, _ := a.Get(lc.PublicKey, passkeytest.Tamper{})
		_, m, err := e.rp.FinishLogin(e.ctx, lc.ID, resp)
		if err != nil || !m.BackupState || !m.BackupEligible {
			t.Fatalf("login: %+v, %v", m, err)
		}
		list, _ := e.rp.List(e.ctx, u.ID)
		if len(list) != 1 || !list[0].BackedUp || list[0].LastUsedAt.IsZero() {
			t.Fatalf("after login: %+v", list)
		}
	})
}

func TestBeginErrors(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		u := e.user()
		off := e.newRP(func(p *passkey.Policy) { p.Enabled = false })
		blocked := e.user()
		blocked, _ = s.UpdateUser(e.ctx, blocked.ID, func(u *storage.User) error { u.Blocked = true; return nil })
		foreign := u
		foreign.ConnectionID = "another-connection"
		tests := []struct {
			name     string
			have     func() error
			expected string
		}{
			{"disabled: registration", func() error { _, err := off.BeginRegistration(e.ctx, u, passkey.RegistrationOptions{}); return err }, passkey.ErrDisabled.Error()},
			{"disabled: sign-up", func() error {
				_, err := off.BeginSignup(e.ctx, connector.Profile{Email: "x@example.com"}, passkey.RegistrationOptions{})
				return err
			}, passkey.ErrDisabled.Error()},
			{"disabled: login", func() error { _, err := off.BeginLogin(e.ctx, nil, passkey.LoginOptions{}); return err }, passkey.ErrDisabled.Error()},
			{"disabled: finish", func() error { _, _, err := off.FinishLogin(e.ctx, "x", []byte("{}")); return err }, passkey.ErrDisabled.Error()},
			{"email first without passkeys", func() error { _, err := e.rp.BeginLogin(e.ctx, &u, passkey.LoginOptions{}); return err }, passkey.ErrNoPasskeys.Error()},
			{"blocked user registers", func() error {
				_, err := e.rp.BeginRegistration(e.ctx, blocked, passkey.RegistrationOptions{})
				return err
			}, connector.ErrUserBlocked.Error()},
			{"user of another connection", func() error {
				_, err := e.rp.BeginRegistration(e.ctx, foreign, passkey.RegistrationOptions{})
				return err
			}, "not a user of this connection"},
			{"bad hint", func() error {
				_, err := e.rp.BeginRegistration(e.ctx, u, passkey.RegistrationOptions{Hint: "carrier-pigeon"})
				return err
			}, "hint"},
			{"sign-up without email", func() error {
				_, err := e.rp.BeginSignup(e.ctx, connector.Profile{Name: "No Mail"}, passkey.RegistrationOptions{})
				return err
			}, "email"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := tt.have(); err == nil || !strings.Contains(err.Error(), tt.expected) {
					t.Fatalf("error = %v, want %q", err, tt.expected)
				}
			})
		}
	})
}

// attestation "direct" asks for an attestation statement; a packed self
// attestation verifies, is stored as such, and is not a trusted chain.
func TestPackedSelfAttestation(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		rp := e.newRP(func(p *passkey.Policy) { p.Attestation = passkey.AttestationDirect })
		u := e.user()
		c := e.beginReg(rp, u)
		if !strings.Contains(string(c.PublicKey), `"attestation":"direct"`) {
			t.Fatalf("options: %s", c.PublicKey)
		}
		a := deviceBound(passkeytest.New(origin))
		a.Attestation = "packed"
		a.AAGUID, _ = passkeytest.ParseAAGUID("ee882879-721c-4913-9775-3dfcce97072a")
		resp, _, err := a.Create(c.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := rp.FinishRegistration(e.ctx, c.ID, resp)
		if err != nil {
			t.Fatalf("FinishRegistration: %v", err)
		}
		attrs, _ := passkey.ParseAttributes(reg.Credential.Attributes)
		if attrs.AttestationFormat != "packed" || attrs.AttestationType != "basic_surrogate" || attrs.AttestationVerified || reg.Method.AttestationVerified {
			t.Fatalf("attestation: %+v", attrs)
		}
		if reg.Passkey.Name != "YubiKey 5 Series" || reg.Passkey.Synced || !reg.Method.CrossDevice {
			t.Fatalf("passkey %+v, method %+v", reg.Passkey, reg.Method)
		}
	})
}
