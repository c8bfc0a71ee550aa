package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"unicode/utf8"
)

// MFA is a hook's multi-factor decision for the login.
type MFA int

// MFA decisions.
const (
	// MFADefault: no hook decided; the connection's MFA policy applies.
	MFADefault MFA = iota
	// MFASkip: no second factor for this login (Auth0's
	// api.multifactor.enable('none')), even when the connection's policy is
	// "always". A relying party that demands multi-factor through acr_values
	// still gets it: a hook cannot weaken what the client asked for.
	MFASkip
	// MFARequire: a second factor is required (Auth0's
	// api.multifactor.enable('any')), even when the policy is "adaptive".
	MFARequire
)

func (m MFA) String() string {
	switch m {
	case MFASkip:
		return "none"
	case MFARequire:
		return "any"
	default:
		return "default"
	}
}

// Limits on custom claims. A token is sent in headers and URLs; a hook that
// would make it huge fails instead.
const (
	// MaxClaimBytes bounds one custom claim's value, as JSON.
	MaxClaimBytes = 16 << 10
	// MaxClaims bounds the custom claims of one token.
	MaxClaims = 64
	// MaxReasonBytes bounds the reason of a denial, which travels in a
	// URL; a longer reason is cut.
	MaxReasonBytes = 500
)

// reservedClaims are the claims Latchkey sets itself in ID and access tokens
// (RFC 7519 4.1, OpenID Connect Core 2 and 3.1.3.6, RFC 9068 2.2). A hook
// may not set or override them.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "iat", "nbf", "jti",
	"auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash", "c_hash",
}

// reservedAccessClaims are also reserved in access tokens: Latchkey's access
// tokens are opaque and their claims are the introspection response (RFC
// 7662 2.2), whose members these are.
var reservedAccessClaims = []string{"active", "scope", "client_id", "username", "token_type"}

// ErrReservedClaim reports an attempt to set a claim Latchkey sets itself.
var ErrReservedClaim = errors.New("actions: reserved claim")

// ErrInvalidClaim reports a claim that cannot go into a token: an empty
// name, a value that is not JSON (a function, undefined, a cycle), or one
// over the size limits.
var ErrInvalidClaim = errors.New("actions: invalid claim")

// Denial is a hook's refusal of the login.
type Denial struct {
	// Action names the hook that denied.
	Action string
	// Reason is the hook's message. It is shown to the person and sent to
	// the client as error_description (Auth0 does the same).
	Reason string
}

// Result is what the hooks of one login decided, combined in order: the last
// MFA decision wins, the first denial wins (and stops the hooks after it),
// and a claim set by a later hook replaces the same claim set earlier.
type Result struct {
	// MFA is the last MFA decision; MFADefault when no hook made one.
	MFA MFA
	// AllowRememberBrowser comes with MFARequire: the person may tick
	// "remember this browser" (Auth0's allowRememberBrowser option).
	AllowRememberBrowser bool
	// Denied is set when a hook denied the login; nothing else applies then.
	Denied *Denial
	// IDTokenClaims and AccessTokenClaims are the custom claims to add. The
	// values are plain JSON values (map[string]any, []any, string,
	// json.Number, bool, nil), copied when the hook set them.
	IDTokenClaims     map[string]any
	AccessTokenClaims map[string]any
}

// MFAOptions qualify a decision to require MFA.
type MFAOptions struct {
	// AllowRememberBrowser lets the person skip MFA on this browser for a
	// while after completing it.
	AllowRememberBrowser bool
}

// API is what a hook calls to change the login, in the shape of Auth0's
// post-login api object. Each hook gets its own API; the Runner combines
// them into a Result when the hook returns. Its methods are safe for
// concurrent use.
//
// Misusing the API (a reserved or invalid claim) returns an error and also
// marks the hook as failed: the login fails even if the hook ignores the
// error (or, in JavaScript, catches the exception).
type API struct {
	mu     sync.Mutex
	closed bool
	err    error
	res    Result
	action string
}

func newAPI(action string) *API {
	return &API{action: action}
}

// RequireMFA requires a second factor for this login.
func (a *API) RequireMFA(opts MFAOptions) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.res.MFA = MFARequire
	a.res.AllowRememberBrowser = opts.AllowRememberBrowser
}

// SkipMFA skips the second factor for this login.
func (a *API) SkipMFA() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.res.MFA = MFASkip
	a.res.AllowRememberBrowser = false
}

// Deny refuses the login. reason is shown to the person and sent to the
// client as the error_description of an access_denied error. The hook runs
// to its end, but no later hook runs. A second Deny in the same hook keeps
// the first reason. A reason over MaxReasonBytes is cut (it travels in the
// redirect URL).
func (a *API) Deny(reason string) {
	reason = truncate(reason, MaxReasonBytes)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || a.res.Denied != nil {
		return
	}
	a.res.Denied = &Denial{Action: a.action, Reason: reason}
}

// SetIDTokenClaim adds a custom claim to the ID token. value must be
// JSON-serialisable; it is copied now. Reserved names (iss, sub, aud, exp,
// iat, nbf, jti, auth_time, nonce, acr, amr, azp, sid, at_hash, c_hash) are
// refused with ErrReservedClaim.
func (a *API) SetIDTokenClaim(name string, value any) error {
	return a.setClaim(&a.res.IDTokenClaims, "ID token", name, value, false)
}

// SetAccessTokenClaim adds a custom claim to the access token (Latchkey's
// access tokens are opaque: the claim appears in the introspection
// response). Besides the ID token's reserved names, active, scope,
// client_id, username and token_type are refused.
func (a *API) SetAccessTokenClaim(name string, value any) error {
	return a.setClaim(&a.res.AccessTokenClaims, "access token", name, value, true)
}

func (a *API) setClaim(dst *map[string]any, token, name string, value any, access bool) error {
	v, err := claimValue(name, value, access)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errors.New("actions: the hook's time is over")
	}
	if err == nil && len(*dst) >= MaxClaims {
		if _, ok := (*dst)[name]; !ok {
			err = fmt.Errorf("%w: more than %d custom claims", ErrInvalidClaim, MaxClaims)
		}
	}
	if err != nil {
		err = fmt.Errorf("set %s claim %q: %w", token, name, err)
		if a.err == nil {
			a.err = err
		}
		return err
	}
	if *dst == nil {
		*dst = map[string]any{}
	}
	(*dst)[name] = v
	return nil
}

// claimValue checks a claim and returns a deep copy of its value made of
// plain JSON values.
func claimValue(name string, value any, access bool) (any, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrInvalidClaim)
	}
	if isReserved(name, access) {
		return nil, ErrReservedClaim
	}
	b, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("%w: value is not JSON: %w", ErrInvalidClaim, err)
	}
	if len(b) > MaxClaimBytes {
		return nil, fmt.Errorf("%w: value is %d bytes of JSON, over %d", ErrInvalidClaim, len(b), MaxClaimBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidClaim, err)
	}
	return v, nil
}

func isReserved(name string, access bool) bool {
	for _, r := range reservedClaims {
		if name == r {
			return true
		}
	}
	if access {
		for _, r := range reservedAccessClaims {
			if name == r {
				return true
			}
		}
	}
	return false
}

// fail records a misuse that fails the hook even if the script catches the
// exception.
func (a *API) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err == nil && !a.closed {
		a.err = err
	}
}

// close ends the hook's turn: later calls (from a hook still running after
// its time limit) change nothing. It returns the hook's decisions and the
// first misuse error.
func (a *API) close() (Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	return a.res, a.err
}

// merge adds one hook's decisions to the combined result.
func (r *Result) merge(h Result) {
	if h.MFA != MFADefault {
		r.MFA = h.MFA
		r.AllowRememberBrowser = h.AllowRememberBrowser
	}
	if r.Denied == nil && h.Denied != nil {
		r.Denied = h.Denied
	}
	r.IDTokenClaims = mergeClaims(r.IDTokenClaims, h.IDTokenClaims)
	r.AccessTokenClaims = mergeClaims(r.AccessTokenClaims, h.AccessTokenClaims)
}

func mergeClaims(dst, src map[string]any) map[string]any {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	maps.Copy(dst, src)
	return dst
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
