package passkey_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// fixture is a store with two users, each with a synced passkey.
type fixture struct {
	*env
	alice, bob      storage.User
	aliceA, bobA    *passkeytest.Authenticator
	aliceCred       *passkeytest.Credential
	bobCred         *passkeytest.Credential
	aliceRegistered passkey.Registration
}

func newFixture(t *testing.T, s *sqlstore.Store) *fixture {
	e := newEnv(t, s)
	f := &fixture{env: e, alice: e.user(), bob: e.user(), aliceA: passkeytest.New(origin), bobA: passkeytest.New(origin)}
	f.aliceRegistered, f.aliceCred = e.register(e.rp, f.alice, f.aliceA)
	_, f.bobCred = e.register(e.rp, f.bob, f.bobA)
	return f
}

// expectation checks a finish error.
type expectation func(t *testing.T, err error)

func isErr(target error) expectation {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("error = %v, want %v", err, target)
		}
	}
}

func verification(reason string) expectation {
	return func(t *testing.T, err error) {
		t.Helper()
		var ve *passkey.VerificationError
		if !errors.As(err, &ve) {
			t.Fatalf("error = %v (%T), want a *passkey.VerificationError", err, err)
		}
		if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(reason)) {
			t.Fatalf("error %q does not say %q", err, reason)
		}
	}
}

func policy(rule string) expectation {
	return func(t *testing.T, err error) {
		t.Helper()
		var pe *passkey.PolicyError
		if !errors.As(err, &pe) || pe.Rule != rule {
			t.Fatalf("error = %v, want a policy error on %s", err, rule)
		}
	}
}

// login starts a login on rp (discoverable when user is nil) and returns its
// ceremony ID and a response from a, tampered with t.
func (f *fixture) login(rp *passkey.RelyingParty, user *storage.User, a *passkeytest.Authenticator, tm passkeytest.Tamper) (string, []byte) {
	f.t.Helper()
	c := f.beginLogin(rp, user)
	resp, err := a.Get(c.PublicKey, tm)
	if err != nil {
		f.t.Fatalf("authenticator get: %v", err)
	}
	return c.ID, resp
}

// registration starts a registration for user on rp and returns its ceremony
// ID and a response from a, tampered with t.
func (f *fixture) registration(rp *passkey.RelyingParty, user storage.User, a *passkeytest.Authenticator, tm passkeytest.Tamper) (string, []byte) {
	f.t.Helper()
	c := f.beginReg(rp, user)
	resp, _, err := a.Create(c.PublicKey, tm)
	if err != nil {
		f.t.Fatalf("authenticator create: %v", err)
	}
	return c.ID, resp
}

func (f *fixture) finishLogin(rp *passkey.RelyingParty, id string, resp []byte) func() error {
	return func() error { _, _, err := rp.FinishLogin(f.ctx, id, resp); return err }
}

func (f *fixture) finishReg(rp *passkey.RelyingParty, id string, resp []byte) func() error {
	return func() error { _, err := rp.FinishRegistration(f.ctx, id, resp); return err }
}

// TestNegativeCeremonies runs every hostile or malformed ceremony and checks
// that each fails with a clear error and changes nothing in the store.
func TestNegativeCeremonies(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	u32 := func(v uint32) *uint32 { return &v }
	tests := []struct {
		name     string
		prepare  func(f *fixture) func() error
		expected expectation
	}{
		{"registration: bad JSON", func(f *fixture) func() error {
			id, _ := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			return f.finishReg(f.rp, id, []byte(`{"id": "abc", "rawId": `))
		}, verification("parse registration response")},
		{"login: bad JSON", func(f *fixture) func() error {
			id, _ := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			return f.finishLogin(f.rp, id, []byte(`not json`))
		}, verification("parse authentication response")},
		{"registration: empty body", func(f *fixture) func() error {
			id, _ := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			return f.finishReg(f.rp, id, nil)
		}, verification("1 to")},
		{"login: oversized body", func(f *fixture) func() error {
			id, _ := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			return f.finishLogin(f.rp, id, []byte(`{"id":"`+strings.Repeat("A", 70000)+`"}`))
		}, verification("1 to")},
		{"registration: bad base64 in clientDataJSON", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			resp = editJSON(f.t, resp, func(m map[string]any) { responseField(m)["clientDataJSON"] = "!!not base64!!" })
			return f.finishReg(f.rp, id, resp)
		}, verification("parse registration response")},
		{"login: bad base64 in signature", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			resp = editJSON(f.t, resp, func(m map[string]any) { responseField(m)["signature"] = "%%%%" })
			return f.finishLogin(f.rp, id, resp)
		}, verification("parse authentication response")},
		{"registration: bad CBOR attestation object", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			resp = editJSON(f.t, resp, func(m map[string]any) {
				responseField(m)["attestationObject"] = b64([]byte{0xbf, 0xff, 0x00, 0x13, 0x37})
			})
			return f.finishReg(f.rp, id, resp)
		}, verification("parse registration response")},
		{"login: truncated authenticator data", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			resp = editJSON(f.t, resp, func(m map[string]any) { responseField(m)["authenticatorData"] = b64([]byte{1, 2, 3}) })
			return f.finishLogin(f.rp, id, resp)
		}, verification("parse authentication response")},
		{"registration: credential type not public-key", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			resp = editJSON(f.t, resp, func(m map[string]any) { m["type"] = "password" })
			return f.finishReg(f.rp, id, resp)
		}, verification("parse registration response")},
		{"registration: clientData type webauthn.get", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{Type: "webauthn.get"})
			return f.finishReg(f.rp, id, resp)
		}, verification("verify registration")},
		{"login: clientData type webauthn.create", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{Type: "webauthn.create"})
			return f.finishLogin(f.rp, id, resp)
		}, verification("verify authentication")},
		{"registration: wrong origin", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{Origin: "https://evil.example"})
			return f.finishReg(f.rp, id, resp)
		}, verification("origin")},
		{"login: wrong origin", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{Origin: "https://login.example.test.evil.example"})
			return f.finishLogin(f.rp, id, resp)
		}, verification("origin")},
		{"registration: wrong RP ID hash", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{RPID: "evil.example"})
			return f.finishReg(f.rp, id, resp)
		}, verification("rp hash")},
		{"login: wrong RP ID hash", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{RPID: "example.test"})
			return f.finishLogin(f.rp, id, resp)
		}, verification("rp hash")},
		{"login: wrong challenge", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{Challenge: random(32)})
			return f.finishLogin(f.rp, id, resp)
		}, verification("challenge")},
		{"registration: wrong challenge", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{Challenge: random(32)})
			return f.finishReg(f.rp, id, resp)
		}, verification("challenge")},
		{"login: replayed ceremony", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			if err := f.finishLogin(f.rp, id, resp)(); err != nil {
				f.t.Fatalf("first finish: %v", err)
			}
			return f.finishLogin(f.rp, id, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"login: a failed finish consumes the ceremony", func(f *fixture) func() error {
			c := f.beginLogin(f.rp, nil)
			bad, err := f.aliceA.Get(c.PublicKey, passkeytest.Tamper{Origin: "https://evil.example"})
			if err != nil {
				f.t.Fatal(err)
			}
			if err := f.finishLogin(f.rp, c.ID, bad)(); err == nil {
				f.t.Fatal("tampered finish succeeded")
			}
			good, err := f.aliceA.Get(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				f.t.Fatal(err)
			}
			return f.finishLogin(f.rp, c.ID, good)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"login: the caller's step in the transaction fails", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			boom := errors.New("caller failed")
			_, _, err := f.rp.FinishLoginTx(f.ctx, id, resp, func(context.Context, storage.User, connector.Method) error { return boom })
			if !errors.Is(err, boom) {
				f.t.Fatalf("FinishLoginTx: %v, want the caller's error", err)
			}
			// Rolled back (the store is unchanged: no counter, no last
			// login), and the ceremony is consumed all the same.
			return f.finishLogin(f.rp, id, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"registration: replayed ceremony", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			if err := f.finishReg(f.rp, id, resp)(); err != nil {
				f.t.Fatalf("first finish: %v", err)
			}
			// The credential is now registered; the replay must fail on the
			// ceremony, before anything else.
			return f.finishReg(f.rp, id, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"login: expired ceremony (relying party clock)", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			f.clock.Advance(passkey.CeremonyTTL + time.Second)
			return f.finishLogin(f.rp, id, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"registration: expired ceremony (store clock)", func(f *fixture) func() error {
			f.clock.Advance(-passkey.CeremonyTTL - time.Minute) // begun six minutes ago
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			f.clock.Advance(passkey.CeremonyTTL + time.Minute)
			return f.finishReg(f.rp, id, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"login: unknown ceremony ID", func(f *fixture) func() error {
			_, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			return f.finishLogin(f.rp, "00000000-0000-7000-8000-000000000000", resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"login: registration ceremony used for login", func(f *fixture) func() error {
			c := f.beginReg(f.rp, f.alice)
			_, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			return f.finishLogin(f.rp, c.ID, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"registration: login ceremony used for registration", func(f *fixture) func() error {
			c := f.beginLogin(f.rp, &f.alice)
			_, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			return f.finishReg(f.rp, c.ID, resp)
		}, isErr(passkey.ErrCeremonyNotFound)},
		{"login: user presence missing", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{ClearFlags: passkeytest.FlagUP})
			return f.finishLogin(f.rp, id, resp)
		}, verification("user presence")},
		{"registration: user presence missing", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{ClearFlags: passkeytest.FlagUP})
			return f.finishReg(f.rp, id, resp)
		}, verification("user presence")},
		{"registration: user verification missing when required", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{ClearFlags: passkeytest.FlagUV})
			return f.finishReg(f.rp, id, resp)
		}, isErr(passkey.ErrUserVerificationRequired)},
		{"login: user verification missing when required", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{ClearFlags: passkeytest.FlagUV})
			return f.finishLogin(f.rp, id, resp)
		}, isErr(passkey.ErrUserVerificationRequired)},
		{"login: backup eligibility flipped against the stored credential", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{ClearFlags: passkeytest.FlagBE | passkeytest.FlagBS})
			return f.finishLogin(f.rp, id, resp)
		}, verification("backup eligible flag inconsistency")},
		{"login: device-bound credential turns backup eligible", func(f *fixture) func() error {
			a := deviceBound(passkeytest.New(origin))
			u := f.user()
			f.register(f.rp, u, a)
			id, resp := f.login(f.rp, &u, a, passkeytest.Tamper{SetFlags: passkeytest.FlagBE})
			return f.finishLogin(f.rp, id, resp)
		}, verification("backup eligible flag inconsistency")},
		{"registration: backup state without backup eligibility", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, deviceBound(passkeytest.New(origin)), passkeytest.Tamper{SetFlags: passkeytest.FlagBS})
			return f.finishReg(f.rp, id, resp)
		}, verification("backup")},
		{"login: backup state without backup eligibility", func(f *fixture) func() error {
			a := deviceBound(passkeytest.New(origin))
			u := f.user()
			f.register(f.rp, u, a)
			id, resp := f.login(f.rp, nil, a, passkeytest.Tamper{SetFlags: passkeytest.FlagBS})
			return f.finishLogin(f.rp, id, resp)
		}, verification("backup")},
		{"login: unknown credential", func(f *fixture) func() error {
			stranger := passkeytest.New(origin)
			c := f.beginReg(f.rp, f.alice)
			if _, _, err := stranger.Create(c.PublicKey, passkeytest.Tamper{}); err != nil { // never finished
				f.t.Fatal(err)
			}
			id, resp := f.login(f.rp, nil, stranger, passkeytest.Tamper{})
			return f.finishLogin(f.rp, id, resp)
		}, isErr(passkey.ErrUnknownCredential)},
		{"login: user handle of another user", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{UserHandle: []byte(f.bob.ID)})
			return f.finishLogin(f.rp, id, resp)
		}, verification("user handle")},
		{"login: discoverable without user handle", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{UserHandle: []byte{}})
			return f.finishLogin(f.rp, id, resp)
		}, verification("user handle")},
		{"login: email-first ceremony answered with another user's passkey", func(f *fixture) func() error {
			c := f.beginLogin(f.rp, &f.alice)
			resp, err := f.bobA.Get(c.PublicKey, passkeytest.Tamper{Credential: f.bobCred})
			if err != nil {
				f.t.Fatal(err)
			}
			return f.finishLogin(f.rp, c.ID, resp)
		}, isErr(passkey.ErrUnknownCredential)},
		{"login: credential of another connection", func(f *fixture) func() error {
			other, err := f.store.UpsertConnection(f.ctx, storage.Connection{Name: "other-" + f.alice.ID, Type: "database"})
			if err != nil {
				f.t.Fatal(err)
			}
			rp := f.newRPFor(other.ID, nil)
			id, resp := f.login(rp, nil, f.aliceA, passkeytest.Tamper{})
			return f.finishLogin(rp, id, resp)
		}, isErr(passkey.ErrUnknownCredential)},
		{"login: bad signature", func(f *fixture) func() error {
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{CorruptSignature: true})
			return f.finishLogin(f.rp, id, resp)
		}, verification("signature")},
		{"registration: bad packed self-attestation signature", func(f *fixture) func() error {
			a := passkeytest.New(origin)
			a.Attestation = "packed"
			id, resp := f.registration(f.rp, f.alice, a, passkeytest.Tamper{CorruptSignature: true})
			return f.finishReg(f.rp, id, resp)
		}, verification("verify registration")},
		{"registration: credential ID registered to another user", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.bob, f.aliceA, passkeytest.Tamper{Credential: f.aliceCred})
			return f.finishReg(f.rp, id, resp)
		}, isErr(passkey.ErrCredentialExists)},
		{"registration: excluded credential (the user's own)", func(f *fixture) func() error {
			id, resp := f.registration(f.rp, f.alice, f.aliceA, passkeytest.Tamper{Credential: f.aliceCred})
			return f.finishReg(f.rp, id, resp)
		}, isErr(passkey.ErrCredentialExists)},
		{"registration: synced passkey under a device-bound-only policy", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.AllowSynced = false })
			id, resp := f.registration(rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			return f.finishReg(rp, id, resp)
		}, policy("allow_synced")},
		{"registration: AAGUID denied", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.AAGUIDDeny = []string{"01020304-0506-0708-0102-030405060708"} })
			id, resp := f.registration(rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			return f.finishReg(rp, id, resp)
		}, policy("aaguid_deny")},
		{"registration: AAGUID not in the allow list", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.AAGUIDAllow = []string{"ee882879-721c-4913-9775-3dfcce97072a"} })
			id, resp := f.registration(rp, f.alice, passkeytest.New(origin), passkeytest.Tamper{})
			return f.finishReg(rp, id, resp)
		}, policy("aaguid_allow")},
		{"registration: zero AAGUID with an allow list", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.AAGUIDAllow = []string{"ee882879-721c-4913-9775-3dfcce97072a"} })
			id, resp := f.registration(rp, f.alice, deviceBound(passkeytest.New(origin)), passkeytest.Tamper{})
			return f.finishReg(rp, id, resp)
		}, policy("aaguid_allow")},
		{"registration: attachment other than the policy's", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.AuthenticatorAttachment = passkey.AttachmentPlatform })
			id, resp := f.registration(rp, f.alice, deviceBound(passkeytest.New(origin)), passkeytest.Tamper{})
			return f.finishReg(rp, id, resp)
		}, policy("authenticator_attachment")},
		{"registration: max passkeys reached between begin and finish", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.MaxPasskeys = 2 })
			u := f.user()
			f.register(rp, u, passkeytest.New(origin))
			id, resp := f.registration(rp, u, passkeytest.New(origin), passkeytest.Tamper{})
			f.register(rp, u, passkeytest.New(origin)) // the second passkey, meanwhile
			return f.finishReg(rp, id, resp)
		}, policy("max_passkeys")},
		{"registration: max passkeys reached at begin", func(f *fixture) func() error {
			rp := f.newRP(func(p *passkey.Policy) { p.MaxPasskeys = 1 })
			return func() error {
				_, err := rp.BeginRegistration(f.ctx, f.alice, passkey.RegistrationOptions{})
				return err
			}
		}, policy("max_passkeys")},
		{"login: sign count regression refused", func(f *fixture) func() error {
			// The fixture's login (counter 1) raised the stored count; an
			// assertion reporting 0 again goes backwards.
			id, resp := f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{})
			if err := f.finishLogin(f.rp, id, resp)(); err != nil {
				f.t.Fatal(err)
			}
			id, resp = f.login(f.rp, nil, f.aliceA, passkeytest.Tamper{SignCount: u32(0)})
			return f.finishLogin(f.rp, id, resp)
		}, isErr(passkey.ErrSignCountRegression)},
		{"login: blocked user", func(f *fixture) func() error {
			u := f.user()
			a := passkeytest.New(origin)
			f.register(f.rp, u, a)
			if _, err := f.store.UpdateUser(f.ctx, u.ID, func(u *storage.User) error { u.Blocked = true; return nil }); err != nil {
				f.t.Fatal(err)
			}
			id, resp := f.login(f.rp, nil, a, passkeytest.Tamper{})
			return f.finishLogin(f.rp, id, resp)
		}, isErr(connector.ErrUserBlocked)},
		{"sign-up: no user when verification fails", func(f *fixture) func() error {
			c, err := f.rp.BeginSignup(f.ctx, connector.Profile{Email: "ghost@example.com"}, passkey.RegistrationOptions{})
			if err != nil {
				f.t.Fatal(err)
			}
			resp, _, err := passkeytest.New(origin).Create(c.PublicKey, passkeytest.Tamper{Origin: "https://evil.example"})
			if err != nil {
				f.t.Fatal(err)
			}
			return f.finishReg(f.rp, c.ID, resp)
		}, verification("origin")},
		{"sign-up: no user when the credential is taken", func(f *fixture) func() error {
			c, err := f.rp.BeginSignup(f.ctx, connector.Profile{Email: "thief@example.com"}, passkey.RegistrationOptions{})
			if err != nil {
				f.t.Fatal(err)
			}
			resp, _, err := f.aliceA.Create(c.PublicKey, passkeytest.Tamper{Credential: f.aliceCred})
			if err != nil {
				f.t.Fatal(err)
			}
			return f.finishReg(f.rp, c.ID, resp)
		}, isErr(passkey.ErrCredentialExists)},
		{"sign-up: no user when UV is missing", func(f *fixture) func() error {
			c, err := f.rp.BeginSignup(f.ctx, connector.Profile{Email: "nouv@example.com"}, passkey.RegistrationOptions{})
			if err != nil {
				f.t.Fatal(err)
			}
			resp, _, err := passkeytest.New(origin).Create(c.PublicKey, passkeytest.Tamper{ClearFlags: passkeytest.FlagUV})
			if err != nil {
				f.t.Fatal(err)
			}
			return f.finishReg(f.rp, c.ID, resp)
		}, isErr(passkey.ErrUserVerificationRequired)},
	}
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f.t = t
				defer func() { f.t = t }()
				finish := tt.prepare(f)
				before := f.snapshot()
				err := finish()
				t.Logf("error: %v", err)
				tt.expected(t, err)
				if after := f.snapshot(); after != before {
					t.Fatalf("the failed ceremony changed the store:\nbefore:\n%s\nafter:\n%s", before, after)
				}
				if _, err := f.store.GetUserByEmail(f.ctx, f.conn.ID, "ghost@example.com"); !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("a failed sign-up created its user: %v", err)
				}
			})
		}
	})
}
