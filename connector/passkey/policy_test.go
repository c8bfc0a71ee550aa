package passkey_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func TestDefaultPolicy(t *testing.T) {
	p := passkey.DefaultPolicy()
	if err := p.Validate(); err != nil {
		t.Fatalf("default policy invalid: %v", err)
	}
	// Absent JSON fields keep their defaults; present ones replace them.
	got := passkey.DefaultPolicy()
	if err := json.Unmarshal([]byte(`{"challenge_ui": "button", "allow_synced": false}`), &got); err != nil {
		t.Fatal(err)
	}
	want := passkey.DefaultPolicy()
	want.ChallengeUI, want.AllowSynced = passkey.ChallengeUIButton, false
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name     string
		have     func(*passkey.Policy)
		expected string // in the error; "" for valid
	}{
		{"default", func(*passkey.Policy) {}, ""},
		{"autofill", func(p *passkey.Policy) { p.ChallengeUI = passkey.ChallengeUIAutofill }, ""},
		{"preferred uv, direct, platform, flag", func(p *passkey.Policy) {
			p.UserVerification, p.Attestation = passkey.UserVerificationPreferred, passkey.AttestationDirect
			p.AuthenticatorAttachment, p.SignCountRegression = passkey.AttachmentPlatform, passkey.SignCountFlag
		}, ""},
		{"aaguid lists", func(p *passkey.Policy) {
			p.AAGUIDAllow = []string{"ee882879-721c-4913-9775-3dfcce97072a"}
			p.AAGUIDDeny = []string{"EA9B8D66-4D01-1D21-3CE4-B6B48CB575D4"}
		}, ""},
		{"parent domain rp id", func(p *passkey.Policy) {
			p.RPID, p.RPOrigins = "example.com", []string{"https://login.example.com", "https://example.com:8443"}
		}, ""},
		{"localhost over http", func(p *passkey.Policy) { p.RPID, p.RPOrigins = "localhost", []string{"http://localhost:8080"} }, ""},
		{"bad challenge ui", func(p *passkey.Policy) { p.ChallengeUI = "popup" }, `challenge_ui "popup"`},
		{"empty challenge ui", func(p *passkey.Policy) { p.ChallengeUI = "" }, "challenge_ui"},
		{"discouraged uv", func(p *passkey.Policy) { p.UserVerification = "discouraged" }, "user_verification"},
		{"indirect attestation", func(p *passkey.Policy) { p.Attestation = "indirect" }, "attestation"},
		{"bad attachment", func(p *passkey.Policy) { p.AuthenticatorAttachment = "usb" }, "authenticator_attachment"},
		{"bad regression", func(p *passkey.Policy) { p.SignCountRegression = "ignore" }, "sign_count_regression"},
		{"zero max", func(p *passkey.Policy) { p.MaxPasskeys = 0 }, "max_passkeys 0"},
		{"huge max", func(p *passkey.Policy) { p.MaxPasskeys = 101 }, "max_passkeys 101"},
		{"bad aaguid", func(p *passkey.Policy) { p.AAGUIDDeny = []string{"not-a-uuid"} }, "aaguid_deny"},
		{"aaguid without dashes", func(p *passkey.Policy) { p.AAGUIDAllow = []string{"ee882879721c491397753dfcce97072a"} }, "aaguid_allow"},
		{"bad rp id", func(p *passkey.Policy) { p.RPID = "https://example.com" }, "rp_id"},
		{"upper-case rp id", func(p *passkey.Policy) { p.RPID = "Example.com" }, "rp_id"},
		{"http origin", func(p *passkey.Policy) { p.RPOrigins = []string{"http://login.example.com"} }, "https"},
		{"origin with path", func(p *passkey.Policy) { p.RPOrigins = []string{"https://login.example.com/login"} }, "scheme://host"},
		{"origin outside rp id", func(p *passkey.Policy) {
			p.RPID, p.RPOrigins = "example.com", []string{"https://example.org"}
		}, "not within rp_id"},
		{"lookalike origin", func(p *passkey.Policy) {
			p.RPID, p.RPOrigins = "example.com", []string{"https://evilexample.com"}
		}, "not within rp_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := passkey.DefaultPolicy()
			tt.have(&p)
			err := p.Validate()
			switch {
			case tt.expected == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.expected != "" && (err == nil || !strings.Contains(err.Error(), tt.expected)):
				t.Fatalf("Validate = %v, want an error with %q", err, tt.expected)
			}
		})
	}
}

func TestNew(t *testing.T) {
	s := sqltest.Open(t, "sqlite")
	base := func() passkey.Config {
		return passkey.Config{Policy: passkey.DefaultPolicy(), ConnectionID: "c1", Issuer: "https://login.example.com/tenant", Store: s}
	}
	rp, err := passkey.New(base())
	if err != nil {
		t.Fatal(err)
	}
	if rp.RPID() != "login.example.com" || !reflect.DeepEqual(rp.Origins(), []string{"https://login.example.com"}) {
		t.Fatalf("defaults: %s %v", rp.RPID(), rp.Origins())
	}
	tests := []struct {
		name     string
		have     func(*passkey.Config)
		expected string
	}{
		{"no store", func(c *passkey.Config) { c.Store = nil }, "store and connection ID"},
		{"no connection", func(c *passkey.Config) { c.ConnectionID = "" }, "store and connection ID"},
		{"relative issuer", func(c *passkey.Config) { c.Issuer = "/tenant" }, "absolute URL"},
		{"invalid policy", func(c *passkey.Config) { c.Policy.MaxPasskeys = -1 }, "max_passkeys"},
		{"rp id outside the issuer", func(c *passkey.Config) { c.Policy.RPID = "example.org" }, "not within rp_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.have(&c)
			if _, err := passkey.New(c); err == nil || !strings.Contains(err.Error(), tt.expected) {
				t.Fatalf("New = %v, want an error with %q", err, tt.expected)
			}
		})
	}
}
