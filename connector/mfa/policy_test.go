package mfa

import (
	"strings"
	"testing"

	"github.com/latchkey/latchkey/connector"
)

func TestRequired(t *testing.T) {
	pwd := []connector.Method{{Kind: connector.MethodPassword}}
	uvPasskey := []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true, UserVerified: true}}
	upPasskey := []connector.Method{{Kind: connector.MethodPasskey, UserPresent: true}}
	pwdOTP := []connector.Method{{Kind: connector.MethodPassword}, {Kind: connector.MethodOTP}}
	pwdKey := []connector.Method{{Kind: connector.MethodPassword}, {Kind: connector.MethodSecurityKey}}
	pwdRecovery := []connector.Method{{Kind: connector.MethodPassword}, {Kind: connector.MethodRecoveryCode}}
	never := DefaultPolicy()
	always := policy(func(p *Policy) { p.Policy = ModeAlways })
	alwaysPK := policy(func(p *Policy) { p.Policy, p.PasskeySatisfiesMFA = ModeAlways, true })
	adaptive := policy(func(p *Policy) { p.Policy = ModeAdaptive })
	adaptivePK := policy(func(p *Policy) { p.Policy, p.PasskeySatisfiesMFA = ModeAdaptive, true })

	tests := []struct {
		name     string
		policy   Policy
		methods  []connector.Method
		action   ActionDecision
		acr      bool
		expected bool
	}{
		{"never, password", never, pwd, ActionUnset, false, false},
		{"never, action any", never, pwd, ActionAny, false, true},
		{"never, acr requested (step-up)", never, pwd, ActionUnset, true, true},
		{"always, password", always, pwd, ActionUnset, false, true},
		{"always, UV passkey, switch off", always, uvPasskey, ActionUnset, false, true},
		{"always, UV passkey, switch on", alwaysPK, uvPasskey, ActionUnset, false, false},
		{"always, UP-only passkey, switch on", alwaysPK, upPasskey, ActionUnset, false, true},
		{"always, password, switch on", alwaysPK, pwd, ActionUnset, false, true},
		{"always, action none skips", always, pwd, ActionNone, false, false},
		{"always, action any", always, uvPasskey, ActionAny, false, true},
		{"always, switch on, action any still requires", alwaysPK, uvPasskey, ActionAny, false, true},
		{"adaptive, password", adaptive, pwd, ActionUnset, false, false},
		{"adaptive, action any", adaptive, pwd, ActionAny, false, true},
		{"adaptive, action none", adaptive, pwd, ActionNone, false, false},
		{"adaptive, acr", adaptive, pwd, ActionUnset, true, true},
		{"acr beats action none", adaptive, pwd, ActionNone, true, true},
		{"acr, UV passkey, switch off", adaptive, uvPasskey, ActionUnset, true, true},
		{"acr, UV passkey, switch on", adaptivePK, uvPasskey, ActionUnset, true, false},
		{"already did otp", always, pwdOTP, ActionAny, true, false},
		{"already did a security key", always, pwdKey, ActionUnset, true, false},
		{"already did a recovery code", always, pwdRecovery, ActionUnset, false, false},
		{"no evidence, always", always, nil, ActionUnset, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Required(tt.policy, tt.methods, tt.action, tt.acr); got != tt.expected {
				t.Fatalf("Required = %v, want %v", got, tt.expected)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("DefaultPolicy: %v", err)
	}
	tests := []struct {
		name     string
		have     func(*Policy)
		expected string
	}{
		{"mode", func(p *Policy) { p.Policy = "sometimes" }, `policy "sometimes"`},
		{"factor", func(p *Policy) { p.Factors = []FactorKind{"sms"} }, `"sms"`},
		{"duplicate factor", func(p *Policy) { p.Factors = []FactorKind{FactorOTP, FactorOTP} }, "twice"},
		{"recovery only under always", func(p *Policy) { p.Policy, p.Factors = ModeAlways, []FactorKind{FactorRecoveryCode} }, "needs otp"},
		{"per challenge", func(p *Policy) { p.MaxAttemptsPerChallenge = 0 }, "max_attempts_per_challenge"},
		{"per user", func(p *Policy) { p.MaxAttemptsPerUser = 1001 }, "max_attempts_per_user"},
		{"window", func(p *Policy) { p.AttemptWindowSeconds = 59 }, "attempt_window_seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := policy(tt.have).Validate()
			if err == nil || !strings.Contains(err.Error(), tt.expected) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tt.expected)
			}
		})
	}
}

func TestParseActionDecision(t *testing.T) {
	for have, want := range map[string]ActionDecision{"none": ActionNone, "ANY": ActionAny, " any ": ActionAny} {
		if got, err := ParseActionDecision(have); err != nil || got != want {
			t.Fatalf("ParseActionDecision(%q) = %q, %v", have, got, err)
		}
	}
	if _, err := ParseActionDecision("guardian"); err == nil {
		t.Fatal("guardian accepted")
	}
}
