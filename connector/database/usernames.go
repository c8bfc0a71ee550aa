package database

import (
	"fmt"
	"strings"

	"github.com/latchkey/latchkey/connector"
)

// Username limits, as in Auth0's "Requires Username" (validation.username
// min and max): 1 to 15 characters by default, configurable up to 128.
const (
	defaultUsernameMin = 1
	defaultUsernameMax = 15
	maxUsernameLimit   = 128
)

// usernameSpecials are the characters Auth0 allows in usernames besides
// letters and digits.
const usernameSpecials = "_+-.!#$'^`~@"

// UsernameSettings are the username rules of a connection. They are
// embedded in Settings, so their JSON fields sit at its top level.
type UsernameSettings struct {
	// RequiresUsername makes a username mandatory at sign-up (Auth0's
	// requires_username). Without it a username is optional; when given,
	// the same rules apply.
	RequiresUsername bool `json:"requires_username,omitempty"`
	// UsernameMin and UsernameMax bound a username's length in characters
	// (defaults 1 and 15; 1 <= min <= max <= 128).
	UsernameMin int `json:"username_min,omitempty"`
	UsernameMax int `json:"username_max,omitempty"`
}

// defaultUsernameSettings: usernames optional, 1 to 15 characters.
func defaultUsernameSettings() UsernameSettings {
	return UsernameSettings{UsernameMin: defaultUsernameMin, UsernameMax: defaultUsernameMax}
}

// validate reports limits out of range.
func (u UsernameSettings) validate() error {
	if u.UsernameMin < 1 || u.UsernameMin > maxUsernameLimit {
		return fmt.Errorf("username_min %d: want 1..%d", u.UsernameMin, maxUsernameLimit)
	}
	if u.UsernameMax < u.UsernameMin || u.UsernameMax > maxUsernameLimit {
		return fmt.Errorf("username_max %d: want username_min (%d)..%d", u.UsernameMax, u.UsernameMin, maxUsernameLimit)
	}
	return nil
}

// message describes the rules for people.
func (u UsernameSettings) message() string {
	return fmt.Sprintf("Username must be %d to %d characters: letters, numbers and %s, and not an email address.",
		u.UsernameMin, u.UsernameMax, strings.Join(strings.Split(usernameSpecials, ""), " "))
}

// check validates a normalised (trimmed, lower-case) username against the
// rules: length, Auth0's characters (a-z, 0-9 and _ + - . ! # $ ' ^ ` ~ @),
// and not in email format, so that an identifier that is a valid email
// always means the email. An empty username is refused; whether one is
// required is the caller's decision.
func (u UsernameSettings) check(username string) error {
	if n := len(username); n < u.UsernameMin || n > u.UsernameMax {
		return &connector.FieldError{Field: "username", Message: u.message()}
	}
	for i := 0; i < len(username); i++ {
		c := username[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte(usernameSpecials, c) >= 0) {
			return &connector.FieldError{Field: "username", Message: u.message()}
		}
	}
	if validateEmail(username) == nil {
		return &connector.FieldError{Field: "username", Message: u.message()}
	}
	return nil
}
