package password

import (
	_ "embed"
	"strings"
)

// commonPasswords is the embedded list of the 10,000 most common passwords;
// see the header of common-passwords.txt for its origin and licence. It is
// the package's only package-level variable besides sentinel errors.
//
//go:embed common-passwords.txt
var commonPasswords string

// dictionary is a set of forbidden passwords, compared case-insensitively.
type dictionary map[string]struct{}

// newDictionary builds the set from the embedded list plus extra words.
// Entries are lower-cased; comment lines ('#') and blank lines are skipped.
func newDictionary(builtin bool, extra []string) dictionary {
	d := make(dictionary, 10000+len(extra))
	if builtin {
		for line := range strings.Lines(commonPasswords) {
			line = strings.TrimRight(line, "\r\n")
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			d[strings.ToLower(line)] = struct{}{}
		}
	}
	for _, w := range extra {
		if w != "" {
			d[strings.ToLower(w)] = struct{}{}
		}
	}
	return d
}

// contains reports whether password, lower-cased, is in the set.
func (d dictionary) contains(password string) bool {
	_, ok := d[strings.ToLower(password)]
	return ok
}
