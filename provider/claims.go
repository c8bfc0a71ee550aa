package provider

import (
	"slices"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// evidenceRule says which amr values (RFC 8176) one completed
// authentication step contributes.
type evidenceRule struct {
	kind connector.MethodKind
	amr  func(connector.Method) []string
}

// evidenceRules is the table EvidenceClaims reads. A method kind without a
// rule contributes nothing: unknown evidence never raises assurance.
func evidenceRules() []evidenceRule {
	return []evidenceRule{
		{kind: connector.MethodPassword, amr: func(connector.Method) []string { return []string{"pwd"} }},
	}
}

// EvidenceClaims maps the evidence of a login (one Method per completed
// step) to the amr and acr claims. amr lists each value once, in the order
// the steps happened; acr is empty until a rule grants a class (the passkey
// work gives "phr" and "phrh" their meaning).
func EvidenceClaims(methods []connector.Method) (amr []string, acr string) {
	rules := evidenceRules()
	for _, m := range methods {
		for _, r := range rules {
			if r.kind != m.Kind {
				continue
			}
			for _, v := range r.amr(m) {
				if !slices.Contains(amr, v) {
					amr = append(amr, v)
				}
			}
		}
	}
	return amr, acr
}

// UserClaims returns the user's claims released by the granted scopes,
// omitting empty values. The openid scope alone releases none (sub is set
// elsewhere); email releases email and email_verified; profile releases
// name, given_name, family_name, nickname, preferred_username, picture,
// locale and updated_at (seconds since the epoch).
func UserClaims(u storage.User, scopes []string) map[string]any {
	c := map[string]any{}
	set := func(k, v string) {
		if v != "" {
			c[k] = v
		}
	}
	if slices.Contains(scopes, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if slices.Contains(scopes, "profile") {
		set("name", u.Name)
		set("given_name", u.GivenName)
		set("family_name", u.FamilyName)
		set("nickname", u.Nickname)
		set("preferred_username", u.Username)
		set("picture", u.Picture)
		set("locale", u.Locale)
		if !u.UpdatedAt.IsZero() {
			c["updated_at"] = u.UpdatedAt.Unix()
		}
	}
	return c
}
