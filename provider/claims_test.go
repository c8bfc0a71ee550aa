package provider_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

func TestEvidenceClaims(t *testing.T) {
	now := time.Now()
	pwd := connector.Method{Kind: connector.MethodPassword, Time: now}
	tests := []struct {
		name        string
		have        []connector.Method
		expectedAMR []string
		expectedACR string
	}{
		{name: "nothing", have: nil, expectedAMR: nil},
		{name: "password", have: []connector.Method{pwd}, expectedAMR: []string{"pwd"}},
		{name: "password twice", have: []connector.Method{pwd, pwd}, expectedAMR: []string{"pwd"}},
		{name: "unknown kind raises nothing", have: []connector.Method{{Kind: "magic"}}, expectedAMR: nil},
		{
			name:        "synced passkey, UP and UV",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true, BackupEligible: true, BackupState: true}},
			expectedAMR: []string{"pop", "swk", "user", "mfa"}, expectedACR: "phr",
		},
		{
			name:        "backup eligible but not yet backed up is still swk",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true, BackupEligible: true}},
			expectedAMR: []string{"pop", "swk", "user", "mfa"}, expectedACR: "phr",
		},
		{
			name:        "device-bound passkey",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true}},
			expectedAMR: []string{"pop", "hwk", "user", "mfa"}, expectedACR: "phrh",
		},
		{
			name:        "device-bound without UV gets no mfa",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true}},
			expectedAMR: []string{"pop", "hwk", "user"}, expectedACR: "phrh",
		},
		{
			name:        "no user presence reported",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserVerified: true, BackupEligible: true}},
			expectedAMR: []string{"pop", "swk", "mfa"}, expectedACR: "phr",
		},
		{
			name:        "attestation asked for and not verified: swk",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true, AttestationRequired: true}},
			expectedAMR: []string{"pop", "swk", "user", "mfa"}, expectedACR: "phr",
		},
		{
			name:        "attestation asked for and verified: hwk",
			have:        []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true, AttestationRequired: true, AttestationVerified: true}},
			expectedAMR: []string{"pop", "hwk", "user", "mfa"}, expectedACR: "phrh",
		},
		{
			name:        "password then device-bound passkey: strongest acr",
			have:        []connector.Method{pwd, {Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true}},
			expectedAMR: []string{"pwd", "pop", "hwk", "user", "mfa"}, expectedACR: "phrh",
		},
		{name: "password + otp", have: []connector.Method{pwd, {Kind: connector.MethodOTP, Time: now}},
			expectedAMR: []string{"pwd", "otp", "mfa"}, expectedACR: provider.ACRMultiFactor},
		{name: "password + recovery code", have: []connector.Method{pwd, {Kind: connector.MethodRecoveryCode, Time: now}},
			expectedAMR: []string{"pwd", "mfa"}, expectedACR: provider.ACRMultiFactor},
		{name: "password + device-bound security key", have: []connector.Method{pwd, {Kind: connector.MethodSecurityKey, UserPresent: true}},
			expectedAMR: []string{"pwd", "pop", "hwk", "user", "mfa"}, expectedACR: provider.ACRMultiFactor},
		{name: "password + synced key as second factor", have: []connector.Method{pwd, {Kind: connector.MethodSecurityKey, UserPresent: true, BackupEligible: true}},
			expectedAMR: []string{"pwd", "pop", "swk", "user", "mfa"}, expectedACR: provider.ACRMultiFactor},
		{name: "synced passkey + otp keeps phr", have: []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, BackupEligible: true}, {Kind: connector.MethodOTP}},
			expectedAMR: []string{"pop", "swk", "user", "otp", "mfa"}, expectedACR: "phr"},
		{name: "device-bound passkey + otp keeps phrh", have: []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true}, {Kind: connector.MethodOTP}},
			expectedAMR: []string{"pop", "hwk", "user", "mfa", "otp"}, expectedACR: "phrh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			amr, acr := provider.EvidenceClaims(tc.have)
			if !slices.Equal(amr, tc.expectedAMR) || acr != tc.expectedACR {
				t.Fatalf("got %v %q, want %v %q", amr, acr, tc.expectedAMR, tc.expectedACR)
			}
		})
	}
}

func TestUserClaims(t *testing.T) {
	updated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := storage.User{
		ID: "u1", Email: "ada@example.com", EmailVerified: true, Username: "ada", Name: "Ada Lovelace",
		GivenName: "Ada", FamilyName: "Lovelace", Nickname: "countess", Picture: "https://img.example/ada.png",
		Locale: "en-GB", UpdatedAt: updated,
	}
	profile := map[string]any{
		"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace", "nickname": "countess",
		"preferred_username": "ada", "picture": "https://img.example/ada.png", "locale": "en-GB",
		"updated_at": updated.Unix(),
	}
	email := map[string]any{"email": "ada@example.com", "email_verified": true}
	tests := []struct {
		name     string
		user     storage.User
		scopes   []string
		expected map[string]any
	}{
		{name: "openid only", user: full, scopes: []string{"openid"}, expected: map[string]any{}},
		{name: "email", user: full, scopes: []string{"openid", "email"}, expected: email},
		{name: "profile", user: full, scopes: []string{"openid", "profile"}, expected: profile},
		{name: "both", user: full, scopes: []string{"openid", "profile", "email"}, expected: func() map[string]any {
			m := maps.Clone(profile)
			maps.Copy(m, email)
			return m
		}()},
		{name: "empty values omitted", user: storage.User{ID: "u2", Name: "Bob"}, scopes: []string{"profile", "email"},
			expected: map[string]any{"name": "Bob"}},
		{name: "unverified email", user: storage.User{Email: "x@example.com"}, scopes: []string{"email"},
			expected: map[string]any{"email": "x@example.com", "email_verified": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := provider.UserClaims(tc.user, tc.scopes)
			if !maps.Equal(got, tc.expected) {
				t.Fatalf("got %v, want %v", got, tc.expected)
			}
		})
	}
}

func TestACRSatisfies(t *testing.T) {
	tests := []struct {
		have, want string
		expected   bool
	}{
		{"phrh", "phrh", true},
		{"phrh", "phr", true},
		{"phr", "phr", true},
		{"phr", "phrh", false},
		{"", "phr", false},
		{"", "phrh", false},
		{"phrh", "urn:unknown", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if got := provider.ACRSatisfies(tc.have, tc.want); got != tc.expected {
			t.Errorf("ACRSatisfies(%q, %q) = %v, want %v", tc.have, tc.want, got, tc.expected)
		}
	}
	if !provider.KnownACR("phr") || !provider.KnownACR("phrh") || provider.KnownACR("pwd") || !provider.KnownACR(provider.ACRMultiFactor) {
		t.Error("KnownACR: phr, phrh and multi-factor are enforced, nothing else")
	}
	if !provider.ACRSatisfies("phr", provider.ACRMultiFactor) || provider.ACRSatisfies(provider.ACRMultiFactor, "phr") {
		t.Error("a passkey class is stronger than multi-factor, not the other way round")
	}
}

func TestSessionExtraClaims(t *testing.T) {
	s := &provider.Session{Auth: provider.Authentication{AccessTokenExtra: map[string]any{
		"https://example.com/plan": "pro", "scope": "admin", "active": false, "sub": "x",
	}}}
	got := s.GetExtraClaims()
	if len(got) != 1 || got["https://example.com/plan"] != "pro" {
		t.Errorf("GetExtraClaims = %v, want only the custom claim", got)
	}
	if (&provider.Session{}).GetExtraClaims() != nil {
		t.Error("GetExtraClaims of a session without custom claims is not nil")
	}
}
