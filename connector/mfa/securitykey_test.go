package mfa

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

const issuer = "https://id.example.com"

// securityKey is a roaming, device-bound key that does not verify the user.
func securityKey() *passkeytest.Authenticator {
	a := passkeytest.New(issuer)
	a.Attachment, a.Transports = "cross-platform", []string{"usb", "nfc"}
	a.BackupEligible, a.BackupState, a.UserVerified = false, false, false
	a.AAGUID = passkeytest.AAGUIDZero()
	return a
}

func TestSecurityKeyAsSecondFactor(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, DefaultPolicy())
		base := passkey.Config{Policy: passkey.DefaultPolicy(), ConnectionID: e.conn.ID, Issuer: issuer, Store: s, Now: e.clock.Now}
		sk, err := passkey.New(SecurityKeyConfig(base))
		if err != nil {
			t.Fatalf("passkey.New: %v", err)
		}
		svc := e.service(DefaultPolicy(), func(c *Config) { c.SecurityKeys = sk })
		u := e.user()
		key := securityKey()

		c, err := svc.BeginSecurityKey(e.ctx, u)
		if err != nil {
			t.Fatalf("BeginSecurityKey: %v", err)
		}
		var opts struct {
			AuthenticatorSelection struct {
				ResidentKey             string `json:"residentKey"`
				RequireResidentKey      bool   `json:"requireResidentKey"`
				AuthenticatorAttachment string `json:"authenticatorAttachment"`
				UserVerification        string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			Hints []string `json:"hints"`
		}
		if err := json.Unmarshal(c.PublicKey, &opts); err != nil {
			t.Fatal(err)
		}
		as := opts.AuthenticatorSelection
		if as.ResidentKey != "discouraged" || as.RequireResidentKey || as.AuthenticatorAttachment != "cross-platform" ||
			as.UserVerification != "discouraged" || len(opts.Hints) != 1 || opts.Hints[0] != "security-key" {
			t.Fatalf("creation options %s", c.PublicKey)
		}
		resp, _, err := key.Create(c.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := svc.FinishSecurityKey(e.ctx, u.ID, c.ID, resp)
		if err != nil {
			t.Fatalf("FinishSecurityKey: %v", err)
		}
		stored, err := s.GetCredential(e.ctx, f.ID)
		if err != nil || stored.Kind != CredentialSecurityKey || f.Kind != FactorWebAuthnRoaming {
			t.Fatalf("stored %+v, factor %+v, %v", stored, f, err)
		}
		fs, _ := svc.ListFactors(e.ctx, u.ID)
		if len(fs) != 1 || fs[0].ID != f.ID {
			t.Fatalf("ListFactors = %+v", fs)
		}
		ch, err := svc.BeginChallenge(e.ctx, u.ID)
		if err != nil || len(ch.Factors) != 1 || ch.Factors[0] != FactorWebAuthnRoaming {
			t.Fatalf("challenge %+v, %v", ch, err)
		}

		// Second-factor login.
		lc, err := svc.BeginSecurityKeyLogin(e.ctx, u)
		if err != nil {
			t.Fatalf("BeginSecurityKeyLogin: %v", err)
		}
		resp, err = key.Get(lc.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.FinishSecurityKeyLogin(e.ctx, e.user().ID, lc.ID, resp); !errors.Is(err, passkey.ErrUnknownCredential) {
			t.Fatalf("FinishSecurityKeyLogin for another user: %v", err)
		}
		lc, _ = svc.BeginSecurityKeyLogin(e.ctx, u)
		resp, _ = key.Get(lc.PublicKey, passkeytest.Tamper{})
		m, err := svc.FinishSecurityKeyLogin(e.ctx, u.ID, lc.ID, resp)
		if err != nil {
			t.Fatalf("FinishSecurityKeyLogin: %v", err)
		}
		if m.Kind != connector.MethodSecurityKey || !m.UserPresent || m.UserVerified || m.BackupEligible || m.CredentialID != f.ID {
			t.Fatalf("method %+v", m)
		}

		// The key is not a passkey: a passkey login does not know it.
		pk, err := passkey.New(base)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pk.BeginLogin(e.ctx, &u, passkey.LoginOptions{}); !errors.Is(err, passkey.ErrNoPasskeys) {
			t.Fatalf("passkey BeginLogin for a user with only a security key: %v", err)
		}
		dc, err := pk.BeginLogin(e.ctx, nil, passkey.LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err = key.Get(dc.PublicKey, passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := pk.FinishLogin(e.ctx, dc.ID, resp); !errors.Is(err, passkey.ErrUnknownCredential) {
			t.Fatalf("discoverable passkey login with a second-factor key: %v", err)
		}
		// Nor does a second-factor ceremony finish a passkey one.
		if _, err := svc.FinishSecurityKeyLogin(e.ctx, u.ID, dc.ID, resp); !errors.Is(err, passkey.ErrCeremonyNotFound) {
			t.Fatalf("passkey ceremony finished as a second factor: %v", err)
		}

		// A platform authenticator is refused as a security key.
		c, _ = svc.BeginSecurityKey(e.ctx, u)
		platform := passkeytest.New(issuer)
		resp, _, _ = platform.Create(c.PublicKey, passkeytest.Tamper{})
		var pe *passkey.PolicyError
		if _, err := svc.FinishSecurityKey(e.ctx, u.ID, c.ID, resp); !errors.As(err, &pe) || pe.Rule != "authenticator_attachment" {
			t.Fatalf("platform authenticator: %v", err)
		}

		// Removal under "always": not the last factor.
		always := e.service(policy(func(p *Policy) { p.Policy = ModeAlways }), func(c *Config) { c.SecurityKeys = sk })
		if err := always.RemoveFactor(e.ctx, u.ID, f.ID); !errors.Is(err, ErrLastFactor) {
			t.Fatalf("removing the only security key under always: %v", err)
		}
	})
}

func TestSecurityKeyDisabled(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s, DefaultPolicy())
		u := e.user()
		if _, err := e.svc.BeginSecurityKey(e.ctx, u); !errors.Is(err, ErrFactorDisabled) {
			t.Fatalf("BeginSecurityKey without a relying party: %v", err)
		}
		pk, err := passkey.New(passkey.Config{Policy: passkey.DefaultPolicy(), ConnectionID: e.conn.ID, Issuer: issuer, Store: s})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(Config{Store: s, Policy: DefaultPolicy(), Key: testKey, Issuer: "x", SecurityKeys: pk}); err == nil {
			t.Fatal("New accepted a passkey relying party as SecurityKeys")
		}
	})
}
