package password

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey/connector"
)

func newTestPolicy(t testing.TB, cfg PolicyConfig, h *Hasher) *Policy {
	t.Helper()
	p, err := NewPolicy(cfg, h)
	if err != nil {
		t.Fatalf("NewPolicy: %v", err)
	}
	return p
}

// rule returns the PolicyError's rule, "" for nil, and fails on other errors.
func rule(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var pe *connector.PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *connector.PolicyError", err)
	}
	if pe.Message == "" {
		t.Fatalf("PolicyError %q has no message", pe.Rule)
	}
	return pe.Rule
}

func TestStrengthLevels(t *testing.T) {
	tests := []struct {
		name     string
		strength Strength
		have     string
		expected string // rule, "" for accepted
	}{
		{"none empty", StrengthNone, "", RuleMinLength},
		{"none 1 char", StrengthNone, "a", ""},
		{"none 1 multibyte char", StrengthNone, "é", ""},

		{"low 5", StrengthLow, "abcde", RuleMinLength},
		{"low 6", StrengthLow, "abcdef", ""},
		{"low 6 digits", StrengthLow, "839201", ""},
		{"low 5 runes 10 bytes", StrengthLow, "ééééé", RuleMinLength},

		{"fair 7", StrengthFair, "Abcde1x", RuleMinLength},
		{"fair 8", StrengthFair, "Abcdef1x", ""},
		{"fair no upper", StrengthFair, "abcdef1x", RuleCharacterTypes},
		{"fair no lower", StrengthFair, "ABCDEF1X", RuleCharacterTypes},
		{"fair no digit", StrengthFair, "Abcdef!x", RuleCharacterTypes},
		{"fair special instead of digit", StrengthFair, "Abcdefg!", RuleCharacterTypes},
		{"fair unicode letters", StrengthFair, "Ébcdéfg1", ""},

		{"good 7", StrengthGood, "Abcde1x", RuleMinLength},
		{"good 8 lower upper digit", StrengthGood, "Abcdef1x", ""},
		{"good 8 lower digit special", StrengthGood, "abcd!fg1", ""},
		{"good 8 upper digit special", StrengthGood, "ABCD!FG1", ""},
		{"good 8 lower upper special", StrengthGood, "abcD!fgh", ""},
		{"good space is special", StrengthGood, "abc 1234", ""},
		{"good 2 types", StrengthGood, "abcdEFGH", RuleCharacterTypes},
		{"good digits and special", StrengthGood, "1234!@#$", RuleCharacterTypes},
		{"good 1 type long", StrengthGood, "abcdefghijklmnop", RuleCharacterTypes},
		{"good caseless letters are no type", StrengthGood, "密码密码密码1!", RuleCharacterTypes},
		{"good 3 identical allowed", StrengthGood, "aaaBBB111", ""},

		{"excellent 9", StrengthExcellent, "Abcdefg12", RuleMinLength},
		{"excellent 10", StrengthExcellent, "Abcdefgh12", ""},
		{"excellent 2 types", StrengthExcellent, "abcdefgh12", RuleCharacterTypes},
		{"excellent 2 identical", StrengthExcellent, "AAbcdefg12", ""},
		{"excellent 3 identical letters", StrengthExcellent, "Aaaabcdf12", RuleIdenticalCharacters},
		{"excellent 3 identical digits at end", StrengthExcellent, "Abcdefgh111", RuleIdenticalCharacters},
		{"excellent 3 identical specials", StrengthExcellent, "Abcdef!!!1", RuleIdenticalCharacters},
		{"excellent case differs", StrengthExcellent, "aaAbcdef12", ""},
		{"excellent 3 identical multibyte", StrengthExcellent, "Abcdéééf12", RuleIdenticalCharacters},
		{"excellent repeated apart", StrengthExcellent, "abab1ABAB1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPolicy(t, PolicyConfig{Strength: tt.strength}, nil)
			if got := rule(t, p.Check(context.Background(), tt.have, PersonalInfo{}, nil)); got != tt.expected {
				t.Fatalf("Check(%q) rule = %q, want %q", tt.have, got, tt.expected)
			}
		})
	}
}

func TestLengthLimits(t *testing.T) {
	tests := []struct {
		name      string
		strength  Strength
		minLength int
		have      string
		expected  string
		message   string
	}{
		{"min length raises level", StrengthGood, 12, "Abcdefgh12x", RuleMinLength, "Your password must contain at least 12 characters"},
		{"min length reached", StrengthGood, 12, "Abcdefgh12xy", "", ""},
		{"min length below level keeps level", StrengthGood, 4, "Abc1xyz", RuleMinLength, "Your password must contain at least 8 characters"},
		{"none level message", StrengthNone, 0, "", RuleMinLength, "Your password must contain at least 1 character"},
		{"max length", StrengthNone, 0, strings.Repeat("a", MaxLength), "", ""},
		{"max length + 1", StrengthNone, 0, strings.Repeat("a", MaxLength+1), RuleMaxLength, "Your password must contain at most 128 characters"},
		{"max length counts characters not bytes", StrengthNone, 0, strings.Repeat("é", MaxLength), "", ""},
		{"min length 128", StrengthNone, 128, strings.Repeat("a", 127), RuleMinLength, "Your password must contain at least 128 characters"},
		{"invalid utf-8", StrengthNone, 0, "abc\xff", RuleEncoding, "Your password contains characters that are not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPolicy(t, PolicyConfig{Strength: tt.strength, MinLength: tt.minLength}, nil)
			err := p.Check(context.Background(), tt.have, PersonalInfo{}, nil)
			if got := rule(t, err); got != tt.expected {
				t.Fatalf("rule = %q, want %q", got, tt.expected)
			}
			if err != nil {
				var pe *connector.PolicyError
				errors.As(err, &pe)
				if pe.Message != tt.message {
					t.Fatalf("message = %q, want %q", pe.Message, tt.message)
				}
			}
		})
	}
}

func TestDictionary(t *testing.T) {
	tests := []struct {
		name     string
		cfg      PolicyConfig
		have     string
		expected string
	}{
		{"most common", PolicyConfig{Strength: StrengthNone, Dictionary: true}, "123456", RuleDictionary},
		{"case-insensitive", PolicyConfig{Strength: StrengthNone, Dictionary: true}, "PassWord", RuleDictionary},
		{"passes fair but common", PolicyConfig{Strength: StrengthFair, Dictionary: true}, "Password1", RuleDictionary},
		{"last of the list", PolicyConfig{Strength: StrengthNone, Dictionary: true}, "159753456", RuleDictionary},
		{"substring is fine", PolicyConfig{Strength: StrengthNone, Dictionary: true}, "password is not my password", ""},
		{"off", PolicyConfig{Strength: StrengthNone}, "password", ""},
		{"extra word", PolicyConfig{Strength: StrengthNone, DictionaryWords: []string{"Latchkey"}}, "LATCHKEY", RuleDictionary},
		{"extra word with list on", PolicyConfig{Strength: StrengthNone, Dictionary: true, DictionaryWords: []string{"latchkey"}}, "latchkey", RuleDictionary},
		{"extra words only", PolicyConfig{Strength: StrengthNone, DictionaryWords: []string{"latchkey"}}, "password", ""},
		{"length checked first", PolicyConfig{Strength: StrengthGood, Dictionary: true}, "123456", RuleMinLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPolicy(t, tt.cfg, nil)
			if got := rule(t, p.Check(context.Background(), tt.have, PersonalInfo{}, nil)); got != tt.expected {
				t.Fatalf("rule = %q, want %q", got, tt.expected)
			}
		})
	}
}

func TestEmbeddedDictionary(t *testing.T) {
	d := newDictionary(true, nil)
	if len(d) != 10000 {
		t.Fatalf("dictionary has %d entries, want 10000", len(d))
	}
	for _, w := range []string{"123456", "password", "qwerty", "letmein", "trustno1"} {
		if !d.contains(w) {
			t.Errorf("dictionary lacks %q", w)
		}
	}
	for w := range d {
		if strings.HasPrefix(w, "#") || w != strings.TrimSpace(w) || w == "" {
			t.Errorf("bad entry %q", w)
		}
	}
}

func TestPersonalInfo(t *testing.T) {
	john := PersonalInfo{
		Email:      "John.Doe@Example.com",
		Username:   "jdoe_77",
		Name:       "Johnny Q Doe",
		GivenName:  "Johnny",
		FamilyName: "Doe",
		Nickname:   "Jo",
	}
	tests := []struct {
		name     string
		personal PersonalInfo
		have     string
		expected string
	}{
		{"email local part", john, "xxJOHN.DOExx1!", RulePersonalInfo},
		{"word of email local part", john, "my-john-99!", RulePersonalInfo},
		{"email domain label", john, "Example-2024!", RulePersonalInfo},
		{"top-level domain is fine", john, "dot-com-2024!", ""},
		{"username", john, "Jdoe_77!xyz", RulePersonalInfo},
		{"word of username", john, "jdoe-the-great", RulePersonalInfo},
		{"full name", john, "JohnnyQDoe-1", RulePersonalInfo},
		{"family name", john, "hello-doe-42", RulePersonalInfo},
		{"given name", john, "JOHNNY-be-good", RulePersonalInfo},
		{"short nickname ignored", john, "jolly-roger-9", ""},
		{"single letter of name ignored", john, "q-q-q-q-quiet", ""},
		{"unrelated", john, "Tr0ub4dor&3", ""},
		{"empty info", PersonalInfo{}, "anything-goes", ""},
		{"email without at", PersonalInfo{Email: "alice"}, "ALICE-1234", RulePersonalInfo},
		{"three letters count", PersonalInfo{GivenName: "Ann"}, "planning-42", RulePersonalInfo},
		{"unicode case-insensitive", PersonalInfo{FamilyName: "Ölund"}, "xxölundxx", RulePersonalInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPolicy(t, PolicyConfig{Strength: StrengthNone, PersonalInfo: true}, nil)
			if got := rule(t, p.Check(context.Background(), tt.have, tt.personal, nil)); got != tt.expected {
				t.Fatalf("Check(%q) rule = %q, want %q", tt.have, got, tt.expected)
			}
			off := newTestPolicy(t, PolicyConfig{Strength: StrengthNone}, nil)
			if got := rule(t, off.Check(context.Background(), tt.have, tt.personal, nil)); got != "" {
				t.Fatalf("rule off: Check(%q) rule = %q", tt.have, got)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, 2, 100)
	hash := func(pw string) string {
		s, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	current, older, oldest := hash("Current-1"), hash("Older-2"), hash("Oldest-3")
	history := []string{current, "garbage", older, oldest}
	tests := []struct {
		name     string
		keep     int
		history  []string
		have     string
		expected string
		message  string
	}{
		{"current rejected", 3, history, "Current-1", RuleHistory, "Your password must be different from your last 3 passwords"},
		{"older rejected past a malformed hash", 3, history, "Older-2", RuleHistory, ""},
		{"beyond the limit ignored", 3, history, "Oldest-3", "", ""},
		{"within a larger limit", 4, history, "Oldest-3", RuleHistory, ""},
		{"case matters", 3, history, "current-1", "", ""},
		{"new password", 3, history, "Brand-new-4", "", ""},
		{"history of one", 1, history, "Current-1", RuleHistory, "Your new password must be different from your current password"},
		{"off", 0, history, "Current-1", "", ""},
		{"no hashes", 5, nil, "Current-1", "", ""},
		{"bcrypt history", 2, []string{"$2y$10$5guPsrGoJfjlwRl/6CEJOe26goWWfJlJQhCJKdl6UOgXFW7AT10pS"}, "correct horse battery staple", RuleHistory, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPolicy(t, PolicyConfig{Strength: StrengthNone, History: tt.keep}, h)
			err := p.Check(ctx, tt.have, PersonalInfo{}, tt.history)
			if got := rule(t, err); got != tt.expected {
				t.Fatalf("rule = %q, want %q", got, tt.expected)
			}
			if tt.message != "" {
				var pe *connector.PolicyError
				errors.As(err, &pe)
				if pe.Message != tt.message {
					t.Fatalf("message = %q, want %q", pe.Message, tt.message)
				}
			}
		})
	}

	t.Run("busy hasher is not a policy error", func(t *testing.T) {
		busy := newTestHasher(t, 1, 0)
		if err := busy.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		defer busy.release()
		p := newTestPolicy(t, PolicyConfig{Strength: StrengthNone, History: 2}, busy)
		err := p.Check(ctx, "Current-1", PersonalInfo{}, history)
		var pe *connector.PolicyError
		if !errors.Is(err, ErrBusy) || errors.As(err, &pe) {
			t.Fatalf("Check = %v, want ErrBusy", err)
		}
	})
}

func TestRuleOrder(t *testing.T) {
	// A password breaking several rules reports the first in Check's order.
	h := newTestHasher(t, 1, 10)
	old, _ := h.Hash(context.Background(), "password")
	p := newTestPolicy(t, PolicyConfig{Strength: StrengthExcellent, History: 1, Dictionary: true, PersonalInfo: true}, h)
	personal := PersonalInfo{GivenName: "Pass"}
	tests := []struct {
		have     string
		expected string
	}{
		{"password", RuleMinLength},
		{"passwordpassword", RuleCharacterTypes},
		{"Passsword123", RuleIdenticalCharacters},
		{"Password123", RuleDictionary},
		{"Password12345", RulePersonalInfo},
	}
	for _, tt := range tests {
		if got := rule(t, p.Check(context.Background(), tt.have, personal, []string{old})); got != tt.expected {
			t.Errorf("Check(%q) rule = %q, want %q", tt.have, got, tt.expected)
		}
	}
}

func TestDescribe(t *testing.T) {
	h := newTestHasher(t, 1, 0)
	tests := []struct {
		name     string
		cfg      PolicyConfig
		expected []string
	}{
		{"none", PolicyConfig{Strength: StrengthNone}, []string{"At least 1 character"}},
		{"low", PolicyConfig{Strength: StrengthLow}, []string{"At least 6 characters"}},
		{"fair", PolicyConfig{Strength: StrengthFair}, []string{
			"At least 8 characters",
			"A lower-case letter (a-z), an upper-case letter (A-Z) and a number (0-9)",
		}},
		{"good with options", PolicyConfig{Strength: StrengthGood, MinLength: 12, Dictionary: true, PersonalInfo: true, History: 5}, []string{
			"At least 12 characters",
			"At least 3 of the following: lower-case letters (a-z), upper-case letters (A-Z), numbers (0-9), special characters (such as !@#$%^&*)",
			"Not a commonly used password",
			"Not containing your name, username or email address",
			"Different from your last 5 passwords",
		}},
		{"excellent", PolicyConfig{Strength: StrengthExcellent, History: 1}, []string{
			"At least 10 characters",
			"At least 3 of the following: lower-case letters (a-z), upper-case letters (A-Z), numbers (0-9), special characters (such as !@#$%^&*)",
			`No more than 2 identical characters in a row (such as "aaa")`,
			"Different from your current password",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPolicy(t, tt.cfg, h)
			if got := p.Describe(); !reflect.DeepEqual(got, tt.expected) {
				t.Fatalf("Describe() =\n%q\nwant\n%q", got, tt.expected)
			}
		})
	}
}

func TestNewPolicyInvalid(t *testing.T) {
	h := newTestHasher(t, 1, 0)
	tests := []struct {
		name   string
		cfg    PolicyConfig
		hasher *Hasher
	}{
		{"empty strength", PolicyConfig{}, h},
		{"unknown strength", PolicyConfig{Strength: "strong"}, h},
		{"min length negative", PolicyConfig{Strength: StrengthLow, MinLength: -1}, h},
		{"min length 129", PolicyConfig{Strength: StrengthLow, MinLength: 129}, h},
		{"history 25", PolicyConfig{Strength: StrengthLow, History: 25}, h},
		{"history negative", PolicyConfig{Strength: StrengthLow, History: -1}, h},
		{"history without hasher", PolicyConfig{Strength: StrengthLow, History: 2}, nil},
		{"empty dictionary word", PolicyConfig{Strength: StrengthLow, DictionaryWords: []string{""}}, h},
		{"long dictionary word", PolicyConfig{Strength: StrengthLow, DictionaryWords: []string{strings.Repeat("x", 51)}}, h},
		{"too many dictionary words", PolicyConfig{Strength: StrengthLow, DictionaryWords: make([]string, 2001)}, h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewPolicy(tt.cfg, tt.hasher); err == nil {
				t.Fatal("NewPolicy: no error")
			}
		})
	}
	if _, err := NewPolicy(PolicyConfig{Strength: StrengthLow, MinLength: 128, History: 24}, h); err != nil {
		t.Fatalf("upper bounds rejected: %v", err)
	}
}

func TestPolicyConfigCopied(t *testing.T) {
	words := []string{"latchkey"}
	p := newTestPolicy(t, PolicyConfig{Strength: StrengthNone, DictionaryWords: words}, nil)
	words[0] = "changed"
	if got := p.Config().DictionaryWords; got[0] != "latchkey" {
		t.Fatalf("Config().DictionaryWords = %q; NewPolicy kept the caller's slice", got)
	}
	if p.MinLength() != 1 {
		t.Fatalf("MinLength() = %d", p.MinLength())
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"", "a", "password", "Abcdefgh12", "Aaaabcdf12", "密码密码密码1!", "abc\xff", "John.Doe-42!", strings.Repeat("Ab1!", 40)} {
		f.Add(s)
	}
	h, err := NewHasher(cheapParams(), 1, 1000)
	if err != nil {
		f.Fatal(err)
	}
	old, err := h.Hash(context.Background(), "Old-password-1")
	if err != nil {
		f.Fatal(err)
	}
	p, err := NewPolicy(PolicyConfig{Strength: StrengthExcellent, History: 2, Dictionary: true, PersonalInfo: true}, h)
	if err != nil {
		f.Fatal(err)
	}
	personal := PersonalInfo{Email: "john.doe@example.com", Name: "John Doe"}
	common := newDictionary(true, nil)
	f.Fuzz(func(t *testing.T, pw string) {
		err := p.Check(context.Background(), pw, personal, []string{old, "not a hash"})
		if err != nil {
			var pe *connector.PolicyError
			if !errors.As(err, &pe) || pe.Rule == "" || pe.Message == "" {
				t.Fatalf("Check(%q) = %v, want a complete *PolicyError", pw, err)
			}
			return
		}
		// Accepted passwords satisfy every rule.
		n := utf8.RuneCountInString(pw)
		switch {
		case !utf8.ValidString(pw):
			t.Fatalf("accepted invalid UTF-8 %q", pw)
		case n < 10 || n > MaxLength:
			t.Fatalf("accepted %q of length %d", pw, n)
		case countTypes(pw) < 3:
			t.Fatalf("accepted %q with %d character types", pw, countTypes(pw))
		case hasRun(pw, 3):
			t.Fatalf("accepted %q with 3 identical characters in a row", pw)
		case common.contains(pw):
			t.Fatalf("accepted common password %q", pw)
		case strings.Contains(strings.ToLower(pw), "john"), strings.Contains(strings.ToLower(pw), "example"):
			t.Fatalf("accepted %q containing personal data", pw)
		case pw == "Old-password-1":
			t.Fatalf("accepted a password from history")
		}
	})
}
