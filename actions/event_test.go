package actions

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

func TestNewUser(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		metadata string
		want     string
	}{
		{"no metadata", ``, `{"app":null,"user":null}`},
		{"both", `{"app_metadata":{"plan":"pro"},"user_metadata":{"theme":"dark"},"latchkey_passkeys":{"x":1}}`,
			`{"app":{"plan":"pro"},"user":{"theme":"dark"}}`},
		{"not an object", `[1,2]`, `{"app":null,"user":null}`},
		{"app_metadata not an object", `{"app_metadata":"x"}`, `{"app":null,"user":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := NewUser(storage.User{ID: "u", Email: "a@b.c", EmailVerified: true, Username: "ada",
				Metadata: []byte(tt.metadata), CreatedAt: created})
			if u.UserID != "u" || u.Email != "a@b.c" || !u.EmailVerified || u.Username != "ada" || !u.CreatedAt.Equal(created) {
				t.Errorf("user %+v", u)
			}
			assertJSON(t, map[string]any{"app": u.AppMetadata, "user": u.UserMetadata}, tt.want)
		})
	}
}

func TestNewConnectionAndClient(t *testing.T) {
	if c := NewConnection(storage.Connection{ID: "1", Name: "db", Type: "database"}); c.Strategy != "auth0" || c.ID != "1" || c.Name != "db" {
		t.Errorf("database connection: %+v", c)
	}
	if c := NewConnection(storage.Connection{ID: "2", Name: "corp", Type: "ldap"}); c.Strategy != "ldap" {
		t.Errorf("custom connection: %+v", c)
	}
	if c := NewClient(storage.Client{ID: "app", Name: "App"}); c.ClientID != "app" || c.Name != "App" {
		t.Errorf("client: %+v", c)
	}
}

func TestNewMethod(t *testing.T) {
	tests := []struct {
		name string
		have connector.Method
		want Method
	}{
		{"password", connector.Method{Kind: connector.MethodPassword, Time: t0, UserVerified: true},
			Method{Name: "pwd", Timestamp: t0}},
		{"synced passkey", connector.Method{Kind: connector.MethodPasskey, Time: t0, UserPresent: true, UserVerified: true,
			BackupEligible: true, BackupState: true, AAGUID: "g"},
			Method{Name: "passkey", Timestamp: t0, UserVerified: true, BackupEligible: true, BackupState: true, AAGUID: "g"}},
		{"device-bound passkey", connector.Method{Kind: connector.MethodPasskey, Time: t0, UserVerified: true},
			Method{Name: "passkey", Timestamp: t0, UserVerified: true, HardwareBound: true}},
		{"device-bound, attestation required, not verified", connector.Method{Kind: connector.MethodPasskey, Time: t0,
			AttestationRequired: true},
			Method{Name: "passkey", Timestamp: t0}},
		{"device-bound, attestation verified, cross-device", connector.Method{Kind: connector.MethodPasskey, Time: t0,
			AttestationRequired: true, AttestationVerified: true, CrossDevice: true},
			Method{Name: "passkey", Timestamp: t0, HardwareBound: true, CrossDevice: true}},
		{"otp", connector.Method{Kind: "otp", Time: t0}, Method{Name: "mfa", Timestamp: t0, Type: "otp"}},
		{"recovery code", connector.Method{Kind: "recovery-code", Time: t0}, Method{Name: "mfa", Timestamp: t0, Type: "recovery-code"}},
		{"security key", connector.Method{Kind: "security-key", Time: t0, UserVerified: true},
			Method{Name: "mfa", Timestamp: t0, Type: "webauthn-roaming", UserVerified: true, HardwareBound: true}},
		{"unknown kind passes through", connector.Method{Kind: "https://example.com/custom", Time: t0},
			Method{Name: "https://example.com/custom", Timestamp: t0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewMethod(tt.have); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if ms := NewMethods(nil); ms == nil || len(ms) != 0 {
		t.Errorf("NewMethods(nil) = %#v", ms)
	}
}
