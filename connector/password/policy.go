package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/latchkey/latchkey/connector"
)

// Strength is one of Auth0's password strength levels.
type Strength string

// The strength levels, as Auth0 documents them for database connections.
const (
	// StrengthNone: at least 1 character.
	StrengthNone Strength = "none"
	// StrengthLow: at least 6 characters.
	StrengthLow Strength = "low"
	// StrengthFair: at least 8 characters including a lower-case letter, an
	// upper-case letter and a number.
	StrengthFair Strength = "fair"
	// StrengthGood: at least 8 characters including at least three of
	// lower-case letters, upper-case letters, numbers and special characters.
	StrengthGood Strength = "good"
	// StrengthExcellent: at least 10 characters, at least three of the four
	// types, and no more than 2 identical characters in a row.
	StrengthExcellent Strength = "excellent"
)

// Valid reports whether s is one of the five levels.
func (s Strength) Valid() bool {
	switch s {
	case StrengthNone, StrengthLow, StrengthFair, StrengthGood, StrengthExcellent:
		return true
	}
	return false
}

// minLength is the level's own minimum length in characters.
func (s Strength) minLength() int {
	switch s {
	case StrengthLow:
		return 6
	case StrengthFair, StrengthGood:
		return 8
	case StrengthExcellent:
		return 10
	}
	return 1
}

// Limits of a policy's settings. MaxLength is Auth0's maximum password
// length; unlike bcrypt (72 bytes), argon2id hashes all of it.
const (
	MaxLength          = 128
	MaxHistory         = 24
	MaxDictionaryWords = 2000
	MaxDictionaryWord  = 50
)

// Rule identifiers, carried in connector.PolicyError.Rule.
const (
	RuleEncoding            = "encoding"
	RuleMinLength           = "min_length"
	RuleMaxLength           = "max_length"
	RuleCharacterTypes      = "character_types"
	RuleIdenticalCharacters = "identical_characters"
	RuleDictionary          = "dictionary"
	RulePersonalInfo        = "personal_info"
	RuleHistory             = "history"
)

// PolicyConfig configures a Policy.
type PolicyConfig struct {
	// Strength is the level; it must be set.
	Strength Strength
	// MinLength raises the level's minimum length when larger (1..MaxLength;
	// 0 keeps the level's).
	MinLength int
	// History rejects the user's last History passwords, the current one
	// included (0..MaxHistory; 0 turns the rule off).
	History int
	// Dictionary rejects the 10,000 most common passwords.
	Dictionary bool
	// DictionaryWords are further forbidden passwords (Auth0's custom
	// dictionary), compared case-insensitively; they apply even when
	// Dictionary is false.
	DictionaryWords []string
	// PersonalInfo rejects passwords containing the user's personal data; see
	// Policy.Check for the exact rule.
	PersonalInfo bool
}

// Validate reports settings out of range.
func (c PolicyConfig) Validate() error {
	if !c.Strength.Valid() {
		return fmt.Errorf("invalid password policy: strength %q is not one of none, low, fair, good, excellent", c.Strength)
	}
	if c.MinLength < 0 || c.MinLength > MaxLength {
		return fmt.Errorf("invalid password policy: minimum length must be 1..%d (or 0 for the strength's), got %d", MaxLength, c.MinLength)
	}
	if c.History < 0 || c.History > MaxHistory {
		return fmt.Errorf("invalid password policy: history must be 0..%d, got %d", MaxHistory, c.History)
	}
	if len(c.DictionaryWords) > MaxDictionaryWords {
		return fmt.Errorf("invalid password policy: at most %d dictionary words, got %d", MaxDictionaryWords, len(c.DictionaryWords))
	}
	for i, w := range c.DictionaryWords {
		if n := utf8.RuneCountInString(w); n == 0 || n > MaxDictionaryWord {
			return fmt.Errorf("invalid password policy: dictionary word %d must have 1..%d characters", i+1, MaxDictionaryWord)
		}
	}
	return nil
}

// PersonalInfo is the user data a password must not contain.
type PersonalInfo struct {
	Email      string
	Username   string
	Name       string
	GivenName  string
	FamilyName string
	Nickname   string
}

// Policy checks new passwords against a connection's rules. It is immutable
// and safe for concurrent use.
type Policy struct {
	cfg       PolicyConfig
	minLength int
	dict      dictionary // nil when no dictionary rule applies
	hasher    *Hasher
}

// NewPolicy builds a Policy. hasher verifies the history hashes given to
// Check; it may be nil when cfg.History is 0.
func NewPolicy(cfg PolicyConfig, hasher *Hasher) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new password policy: %w", err)
	}
	if cfg.History > 0 && hasher == nil {
		return nil, errors.New("new password policy: the history rule needs a hasher")
	}
	p := &Policy{cfg: cfg, minLength: max(cfg.Strength.minLength(), cfg.MinLength), hasher: hasher}
	p.cfg.DictionaryWords = append([]string(nil), cfg.DictionaryWords...)
	if cfg.Dictionary || len(cfg.DictionaryWords) > 0 {
		p.dict = newDictionary(cfg.Dictionary, cfg.DictionaryWords)
	}
	return p, nil
}

// Config returns the policy's configuration.
func (p *Policy) Config() PolicyConfig {
	c := p.cfg
	c.DictionaryWords = append([]string(nil), p.cfg.DictionaryWords...)
	return c
}

// MinLength returns the effective minimum length in characters.
func (p *Policy) MinLength() int { return p.minLength }

// Check reports whether password may become a user's password. A broken
// rule gives a *connector.PolicyError naming it; any other error (ErrBusy,
// ctx's) comes from verifying history.
//
// Characters are Unicode code points; the password must be valid UTF-8.
// The rules are checked in this order, and the first broken one is reported:
//
//   - length: at least MinLength() characters, at most MaxLength;
//   - character types (fair, good, excellent): lower-case letters, upper-case
//     letters and numbers are Unicode's (unicode.IsLower, IsUpper, IsDigit),
//     so "é" is a lower-case letter; special characters are punctuation,
//     symbols and the space. Letters without case (as in Chinese) count as
//     none of the four, as in Auth0;
//   - identical characters (excellent): no character three times in a row
//     ("aaa", "111"); "aA" are different characters;
//   - dictionary: the whole password, case-insensitively, is not in the list;
//   - personal data: see below;
//   - history: the password matches none of the history hashes. The caller
//     passes the hashes the policy should look at (current password first,
//     at most History of them; extra ones are ignored). Hashes that cannot be
//     parsed are skipped.
//
// The personal-data rule compares case-insensitively and ignores parts
// shorter than 3 characters. The password may not contain: the email
// address's local part (all of it, as Auth0 does) nor any word of it
// ("john.doe" gives "john.doe", "john" and "doe", which Auth0 does not
// check); the first label of the email's domain ("example" of
// "example.com"); the username, name, given name, family name and nickname,
// each whole and each word of them (words are runs of letters and digits).
func (p *Policy) Check(ctx context.Context, password string, personal PersonalInfo, history []string) error {
	if !utf8.ValidString(password) {
		return &connector.PolicyError{Rule: RuleEncoding, Message: "Your password contains characters that are not allowed"}
	}
	n := utf8.RuneCountInString(password)
	if n < p.minLength {
		return &connector.PolicyError{Rule: RuleMinLength, Message: "Your password must contain " + atLeast(p.minLength)}
	}
	if n > MaxLength {
		return &connector.PolicyError{Rule: RuleMaxLength, Message: fmt.Sprintf("Your password must contain at most %d characters", MaxLength)}
	}
	if err := p.checkTypes(password); err != nil {
		return err
	}
	if p.cfg.Strength == StrengthExcellent && hasRun(password, 3) {
		return &connector.PolicyError{Rule: RuleIdenticalCharacters, Message: `Your password must not contain more than 2 identical characters in a row (such as "aaa")`}
	}
	if p.dict != nil && p.dict.contains(password) {
		return &connector.PolicyError{Rule: RuleDictionary, Message: "This password is too common"}
	}
	if p.cfg.PersonalInfo && containsPersonal(password, personal) {
		return &connector.PolicyError{Rule: RulePersonalInfo, Message: "Your password must not contain your name, username or email address"}
	}
	return p.checkHistory(ctx, password, history)
}

// checkTypes applies the character-type rule of the strength level.
func (p *Policy) checkTypes(password string) error {
	switch p.cfg.Strength {
	case StrengthFair:
		lower, upper, digit, _ := charTypes(password)
		if !lower || !upper || !digit {
			return &connector.PolicyError{Rule: RuleCharacterTypes, Message: "Your password must contain a lower-case letter (a-z), an upper-case letter (A-Z) and a number (0-9)"}
		}
	case StrengthGood, StrengthExcellent:
		if countTypes(password) < 3 {
			return &connector.PolicyError{Rule: RuleCharacterTypes, Message: "Your password must contain at least 3 of the following 4 types of characters: lower-case letters (a-z), upper-case letters (A-Z), numbers (0-9) and special characters (such as !@#$%^&*)"}
		}
	}
	return nil
}

// checkHistory verifies password against up to History hashes.
func (p *Policy) checkHistory(ctx context.Context, password string, history []string) error {
	if p.cfg.History == 0 {
		return nil
	}
	if len(history) > p.cfg.History {
		history = history[:p.cfg.History]
	}
	for _, h := range history {
		ok, err := p.hasher.Verify(ctx, h, password)
		if errors.Is(err, ErrMalformedHash) {
			continue // an unreadable old hash must not block the change
		}
		if err != nil {
			return fmt.Errorf("check password history: %w", err)
		}
		if ok {
			msg := fmt.Sprintf("Your password must be different from your last %d passwords", p.cfg.History)
			if p.cfg.History == 1 {
				msg = "Your new password must be different from your current password"
			}
			return &connector.PolicyError{Rule: RuleHistory, Message: msg}
		}
	}
	return nil
}

// Describe lists the rules in words, for a sign-up or password-change page.
func (p *Policy) Describe() []string {
	rules := []string{"A" + atLeast(p.minLength)[1:]}
	switch p.cfg.Strength {
	case StrengthFair:
		rules = append(rules, "A lower-case letter (a-z), an upper-case letter (A-Z) and a number (0-9)")
	case StrengthGood, StrengthExcellent:
		rules = append(rules, "At least 3 of the following: lower-case letters (a-z), upper-case letters (A-Z), numbers (0-9), special characters (such as !@#$%^&*)")
	}
	if p.cfg.Strength == StrengthExcellent {
		rules = append(rules, `No more than 2 identical characters in a row (such as "aaa")`)
	}
	if p.dict != nil {
		rules = append(rules, "Not a commonly used password")
	}
	if p.cfg.PersonalInfo {
		rules = append(rules, "Not containing your name, username or email address")
	}
	switch {
	case p.cfg.History == 1:
		rules = append(rules, "Different from your current password")
	case p.cfg.History > 1:
		rules = append(rules, fmt.Sprintf("Different from your last %d passwords", p.cfg.History))
	}
	return rules
}

// atLeast words a minimum length: "at least 8 characters".
func atLeast(n int) string {
	if n == 1 {
		return "at least 1 character"
	}
	return fmt.Sprintf("at least %d characters", n)
}

// charTypes reports which of the four character types s contains.
func charTypes(s string) (lower, upper, digit, special bool) {
	for _, r := range s {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		case r == ' ' || unicode.IsPunct(r) || unicode.IsSymbol(r):
			special = true
		}
	}
	return lower, upper, digit, special
}

// countTypes counts the character types in s (0..4).
func countTypes(s string) int {
	n := 0
	lower, upper, digit, special := charTypes(s)
	for _, b := range []bool{lower, upper, digit, special} {
		if b {
			n++
		}
	}
	return n
}

// hasRun reports whether s has the same character n times in a row.
func hasRun(s string, n int) bool {
	var prev rune
	run := 0
	for i, r := range s {
		if i > 0 && r == prev {
			run++
		} else {
			run = 1
		}
		if run >= n {
			return true
		}
		prev = r
	}
	return false
}

// minPersonalPart is the shortest piece of personal data the rule checks;
// shorter ones ("Al", "Li") would forbid too many passwords.
const minPersonalPart = 3

// containsPersonal applies the personal-data rule described on Check.
func containsPersonal(password string, pi PersonalInfo) bool {
	pw := strings.ToLower(password)
	for _, part := range personalParts(pi) {
		if strings.Contains(pw, part) {
			return true
		}
	}
	return false
}

// personalParts returns the lower-cased pieces of personal data the rule
// looks for.
func personalParts(pi PersonalInfo) []string {
	var parts []string
	add := func(s string) {
		s = strings.ToLower(strings.TrimSpace(s))
		if utf8.RuneCountInString(s) >= minPersonalPart {
			parts = append(parts, s)
		}
	}
	addWithWords := func(s string) {
		add(s)
		words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if len(words) > 1 {
			for _, w := range words {
				add(w)
			}
		}
	}
	if local, domain, ok := cutLast(pi.Email, "@"); ok {
		addWithWords(local)
		label, _, _ := strings.Cut(domain, ".")
		add(label)
	} else {
		addWithWords(pi.Email)
	}
	for _, s := range []string{pi.Username, pi.Name, pi.GivenName, pi.FamilyName, pi.Nickname} {
		addWithWords(s)
	}
	return parts
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}
