package database

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/password"
)

func TestParseSettings(t *testing.T) {
	def := DefaultSettings()
	with := func(f func(*Settings)) Settings {
		s := DefaultSettings()
		f(&s)
		return s
	}
	tests := []struct {
		name     string
		have     string
		expected Settings
	}{
		{"empty", "", def},
		{"null", "null", def},
		{"blank", "  \n", def},
		{"empty object", "{}", def},
		{"empty policy", `{"password_policy": {}}`, def},
		{"signup disabled", `{"disable_signup": true}`, with(func(s *Settings) { s.DisableSignup = true })},
		{"strength", `{"password_policy": {"strength": "excellent"}}`, with(func(s *Settings) { s.PasswordPolicy.Strength = password.StrengthExcellent })},
		{"dictionary off keeps the rest", `{"password_policy": {"dictionary": false}}`, with(func(s *Settings) { s.PasswordPolicy.Dictionary = false })},
		{"personal info off", `{"password_policy": {"personal_info": false}}`, with(func(s *Settings) { s.PasswordPolicy.PersonalInfo = false })},
		{"everything", `{"disable_signup": true, "password_policy": {"strength": "fair", "min_length": 12, "history": 24,
			"dictionary": false, "dictionary_words": ["acme", "Acme2024"], "personal_info": false}}`, Settings{
			DisableSignup: true,
			PasswordPolicy: PasswordPolicy{
				Strength: password.StrengthFair, MinLength: 12, History: 24,
				DictionaryWords: []string{"acme", "Acme2024"},
			},
			Passkeys:         passkey.DefaultPolicy(),
			MFA:              mfa.DefaultPolicy(),
			UsernameSettings: defaultUsernameSettings(),
			BruteForce:       DefaultBruteForce(),
		}},
		{"passkeys", `{"passkeys": {"allow_synced": false, "max_passkeys": 5, "sign_count_regression": "flag"}}`, with(func(s *Settings) {
			s.Passkeys.AllowSynced, s.Passkeys.MaxPasskeys, s.Passkeys.SignCountRegression = false, 5, passkey.SignCountFlag
		})},
		{"mfa", `{"mfa": {"policy": "always", "passkey_satisfies_mfa": true, "factors": ["otp"], "max_attempts_per_user": 20}}`, with(func(s *Settings) {
			s.MFA.Policy, s.MFA.PasskeySatisfiesMFA, s.MFA.Factors, s.MFA.MaxAttemptsPerUser = mfa.ModeAlways, true, []mfa.FactorKind{mfa.FactorOTP}, 20
		})},
		{"bounds", `{"password_policy": {"min_length": 128, "history": 0}}`, with(func(s *Settings) { s.PasswordPolicy.MinLength = 128 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSettings([]byte(tt.have))
			if err != nil {
				t.Fatalf("ParseSettings: %v", err)
			}
			if !reflect.DeepEqual(got, tt.expected) {
				t.Fatalf("ParseSettings =\n%+v\nwant\n%+v", got, tt.expected)
			}
			// What is marshalled parses back to the same settings.
			b, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseSettings(b)
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip via %s: %+v, %v", b, again, err)
			}
		})
	}
}

func TestParseSettingsErrors(t *testing.T) {
	tests := []struct {
		name     string
		have     string
		expected string // in the error
	}{
		{"not json", "{", "unexpected EOF"},
		{"array", "[]", "cannot unmarshal"},
		{"unknown field", `{"disable_sign_up": true}`, `unknown field "disable_sign_up"`},
		{"unknown policy field", `{"password_policy": {"strenght": "good"}}`, `unknown field "strenght"`},
		{"trailing data", `{} {}`, "after the JSON object"},
		{"bad strength", `{"password_policy": {"strength": "strong"}}`, `strength "strong" is not one of`},
		{"empty strength", `{"password_policy": {"strength": ""}}`, "strength"},
		{"min length too big", `{"password_policy": {"min_length": 129}}`, "minimum length"},
		{"bad passkey challenge ui", `{"passkeys": {"challenge_ui": "popup"}}`, `passkeys: challenge_ui "popup"`},
		{"unknown passkey field", `{"passkeys": {"allow_sync": true}}`, `unknown field "allow_sync"`},
		{"bad mfa policy", `{"mfa": {"policy": "sometimes"}}`, `mfa: policy "sometimes"`},
		{"bad mfa factor", `{"mfa": {"factors": ["sms"]}}`, `mfa: factors: "sms"`},
		{"unknown mfa field", `{"mfa": {"mode": "always"}}`, `unknown field "mode"`},
		{"min length negative", `{"password_policy": {"min_length": -1}}`, "minimum length"},
		{"history too big", `{"password_policy": {"history": 25}}`, "history must be 0..24"},
		{"wrong type", `{"password_policy": {"history": "5"}}`, "cannot unmarshal"},
		{"long dictionary word", `{"password_policy": {"dictionary_words": ["` + strings.Repeat("x", 51) + `"]}}`, "dictionary word 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSettings([]byte(tt.have))
			if err == nil {
				t.Fatal("ParseSettings: no error")
			}
			if !strings.Contains(err.Error(), tt.expected) {
				t.Fatalf("error %q does not mention %q", err, tt.expected)
			}
		})
	}
}

func TestSettingsValidateZero(t *testing.T) {
	if err := (Settings{}).Validate(); err == nil {
		t.Fatal("zero Settings validated; it has no strength")
	}
	if err := DefaultSettings().Validate(); err != nil {
		t.Fatalf("DefaultSettings invalid: %v", err)
	}
}

func TestValidateEmail(t *testing.T) {
	tests := []struct {
		name     string
		have     string
		expected string // "" valid, else the FieldError message
	}{
		{"plain", "john@example.com", ""},
		{"subdomain", "john.doe+tag@mail.example.co.uk", ""},
		{"idn", "jöhn@exämple.com", ""},
		{"empty", "", msgEmailRequired},
		{"no at", "john.example.com", msgEmailInvalid},
		{"no local part", "@example.com", msgEmailInvalid},
		{"no domain", "john@", msgEmailInvalid},
		{"single-label domain", "john@localhost", msgEmailInvalid},
		{"empty label", "john@example..com", msgEmailInvalid},
		{"leading dot", "john@.example.com", msgEmailInvalid},
		{"trailing dot", "john@example.com.", msgEmailInvalid},
		{"domain literal", "john@[192.0.2.1]", msgEmailInvalid},
		{"display name", "John <john@example.com>", msgEmailInvalid},
		{"angle brackets", "<john@example.com>", msgEmailInvalid},
		{"space", "john doe@example.com", msgEmailInvalid},
		{"two ats", "john@doe@example.com", msgEmailInvalid},
		{"too long", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com", msgEmailInvalid},
		{"longest", strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com", ""},
		{"invalid utf-8", "jo\xffhn@example.com", msgEmailInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateEmail(tt.have)
			if tt.expected == "" {
				if err != nil {
					t.Fatalf("validateEmail(%q) = %v", tt.have, err)
				}
				return
			}
			var fe *connector.FieldError
			if !errors.As(err, &fe) || fe.Field != "email" || fe.Message != tt.expected {
				t.Fatalf("validateEmail(%q) = %v, want FieldError email %q", tt.have, err, tt.expected)
			}
		})
	}
}

func TestNormalizeIdentifier(t *testing.T) {
	if got := normalizeIdentifier("  John.Doe@Example.COM \t"); got != "john.doe@example.com" {
		t.Fatalf("normalizeIdentifier = %q", got)
	}
}

func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{"", "{}", `{"disable_signup": true}`, `{"password_policy": {"strength": "fair", "min_length": 12, "history": 3, "dictionary": false, "dictionary_words": ["a"], "personal_info": false}}`, `{"password_policy": null}`, "[1]", `{"a":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSettings(b)
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("ParseSettings accepted invalid settings: %v", err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseSettings(out)
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip of %q via %s: %+v, %v", b, out, again, err)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"john@example.com", `"john@doe"@example.com`, "john@[192.0.2.1]", "a@b.c", "(comment)john@example.com", "john@example.com (x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		email := normalizeIdentifier(s)
		err := validateEmail(email)
		if err != nil {
			var fe *connector.FieldError
			if !errors.As(err, &fe) || fe.Field != "email" {
				t.Fatalf("validateEmail(%q) = %v, want a FieldError", email, err)
			}
			return
		}
		if strings.Count(email, "@") != 1 || strings.ContainsAny(email, " \t\r\n<>()[]\"") || len(email) > maxEmailLen {
			t.Fatalf("accepted %q", email)
		}
		local, domain, _ := strings.Cut(email, "@")
		if local == "" || !strings.Contains(domain, ".") {
			t.Fatalf("accepted %q", email)
		}
	})
}
