package database

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/password"
)

// Settings configure a database connection. They are stored as JSON in
// storage.Connection.Settings, for example:
//
//	{"disable_signup": false,
//	 "password_policy": {"strength": "good", "min_length": 10, "history": 5,
//	                     "dictionary": true, "personal_info": true},
//	 "passkeys": {"user_verification": "required", "allow_synced": true},
//	 "mfa": {"policy": "always", "passkey_satisfies_mfa": true}}
//
// Build them with ParseSettings or DefaultSettings: absent JSON fields take
// their defaults there, while a zero Settings literal turns the dictionary
// and personal-data rules off and has no strength (and fails Validate).
type Settings struct {
	// DisableSignup turns self sign-up off (Auth0's disable_signup). The zero
	// value allows sign-up; users can still be created with CreateUser.
	DisableSignup bool `json:"disable_signup,omitempty"`
	// PasswordPolicy is the password policy for sign-up and password changes.
	PasswordPolicy PasswordPolicy `json:"password_policy"`

	// Passkeys is the passkey policy (see passkey.Policy for its fields and
	// defaults).
	Passkeys passkey.Policy `json:"passkeys"`

	// UsernameSettings: requires_username, username_min, username_max.
	UsernameSettings
	// BruteForce is the brute-force protection (see BruteForce).
	BruteForce BruteForce `json:"brute_force"`

	// MFA is the multi-factor policy (see mfa.Policy for its fields and
	// defaults: off unless set).
	MFA mfa.Policy `json:"mfa"`
}

// PasswordPolicy is the JSON form of password.PolicyConfig.
type PasswordPolicy struct {
	// Strength is none, low, fair, good or excellent (default good).
	Strength password.Strength `json:"strength"`
	// MinLength raises the strength's minimum length (1..128; 0: the
	// strength's own).
	MinLength int `json:"min_length,omitempty"`
	// History rejects the user's last History passwords, the current one
	// included (0..24; default 0, off).
	History int `json:"history,omitempty"`
	// Dictionary rejects the 10,000 most common passwords (default true).
	Dictionary bool `json:"dictionary"`
	// DictionaryWords are extra forbidden passwords (at most 2,000 of at most
	// 50 characters), compared case-insensitively.
	DictionaryWords []string `json:"dictionary_words,omitempty"`
	// PersonalInfo rejects passwords containing the user's name, username or
	// email (default true).
	PersonalInfo bool `json:"personal_info"`
}

// DefaultSettings returns the settings of a connection stored with "{}":
// sign-up allowed, strength good, dictionary and personal-data rules on, no
// history; passkeys per passkey.DefaultPolicy; MFA per mfa.DefaultPolicy.
func DefaultSettings() Settings {
	return Settings{
		PasswordPolicy: PasswordPolicy{
			Strength:     password.StrengthGood,
			Dictionary:   true,
			PersonalInfo: true,
		},
		Passkeys: passkey.DefaultPolicy(),
		// Usernames 1..15 characters, optional; brute-force protection on.
		UsernameSettings: defaultUsernameSettings(),
		BruteForce:       DefaultBruteForce(),
		MFA:              mfa.DefaultPolicy(),
	}
}

// ParseSettings decodes stored settings over DefaultSettings and validates
// them. Empty input or "null" gives the defaults. Unknown fields are errors,
// so that a misspelt option does not silently fall back to its default.
func ParseSettings(b []byte) (Settings, error) {
	s := DefaultSettings()
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return s, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("parse database connection settings: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Settings{}, errors.New("parse database connection settings: unexpected data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Settings{}, fmt.Errorf("parse database connection settings: %w", err)
	}
	return s, nil
}

// Validate reports settings out of range, naming the field.
func (s Settings) Validate() error {
	if err := s.PasswordPolicy.config().Validate(); err != nil {
		return fmt.Errorf("password_policy: %w", err)
	}
	if err := s.Passkeys.Validate(); err != nil {
		return fmt.Errorf("passkeys: %w", err)
	}
	if err := s.UsernameSettings.validate(); err != nil {
		return err
	}
	if err := s.BruteForce.validate(); err != nil {
		return fmt.Errorf("brute_force: %w", err)
	}
	if err := s.MFA.Validate(); err != nil {
		return fmt.Errorf("mfa: %w", err)
	}
	return nil
}

// config converts the JSON form to the password package's.
func (p PasswordPolicy) config() password.PolicyConfig {
	return password.PolicyConfig{
		Strength:        p.Strength,
		MinLength:       p.MinLength,
		History:         p.History,
		Dictionary:      p.Dictionary,
		DictionaryWords: p.DictionaryWords,
		PersonalInfo:    p.PersonalInfo,
	}
}
