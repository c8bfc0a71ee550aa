package database

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/connector"
)

// Limits on identifiers.
const (
	// maxEmailLen is the longest address SMTP carries (RFC 5321 4.5.3.1.3).
	maxEmailLen = 254
	// maxNameLen bounds the name fields, in characters.
	maxNameLen = 255
	// maxLocaleLen bounds the locale (a BCP 47 tag; 35 covers the longest
	// in common use).
	maxLocaleLen = 35
)

// Messages for rejected identifiers (Auth0's wording where it has one).
const (
	msgEmailRequired    = "Email is required."
	msgEmailInvalid     = "Email is not valid."
	msgUsernameRequired = "Username is required."
)

// normalizeIdentifier trims and lower-cases an email or username.
func normalizeIdentifier(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}

// validateEmail checks a normalised email: a bare address net/mail accepts
// (no display name, no comments), at most 254 bytes, whose domain has at
// least two labels ("example.com", not "localhost") and no empty ones.
// Domain literals ("[192.0.2.1]") are refused.
func validateEmail(email string) error {
	if email == "" {
		return &connector.FieldError{Field: "email", Message: msgEmailRequired}
	}
	if len(email) > maxEmailLen || !utf8.ValidString(email) {
		return &connector.FieldError{Field: "email", Message: msgEmailInvalid}
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email {
		return &connector.FieldError{Field: "email", Message: msgEmailInvalid}
	}
	at := strings.LastIndexByte(email, '@')
	domain := email[at+1:]
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || strings.ContainsAny(domain, "[]") {
		return &connector.FieldError{Field: "email", Message: msgEmailInvalid}
	}
	for _, l := range labels {
		if l == "" {
			return &connector.FieldError{Field: "email", Message: msgEmailInvalid}
		}
	}
	return nil
}

// validateLength checks that a free-text profile field has at most max
// characters of valid UTF-8.
func validateLength(field, value string, max int) error {
	if !utf8.ValidString(value) || utf8.RuneCountInString(value) > max {
		return &connector.FieldError{Field: field, Message: fmt.Sprintf("At most %d characters.", max)}
	}
	return nil
}
