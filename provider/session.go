package provider

import (
	"maps"
	"slices"
	"time"

	"github.com/mohae/deepcopy"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// Authentication is what Latchkey knows about the login behind a grant. It
// travels inside the Session that fosite stores with every code and token,
// so it must survive a JSON round trip.
type Authentication struct {
	// Subject is the user ID (the sub claim).
	Subject string `json:"sub,omitempty"`
	// ClientID is the client the grant was issued to.
	ClientID string `json:"client_id,omitempty"`
	// SessionID is the browser session (the sid claim).
	SessionID string `json:"sid,omitempty"`
	// ConnectionID is the connection the user logged in through.
	ConnectionID string `json:"connection_id,omitempty"`
	// AuthTime is when the user authenticated (auth_time).
	AuthTime time.Time `json:"auth_time,omitzero"`
	// RequestedAt is when the authorization request was first received.
	// fosite compares AuthTime with it for prompt=login, prompt=none and
	// max_age, so it must not be later than a fresh login's AuthTime.
	RequestedAt time.Time `json:"requested_at,omitzero"`
	// AMR and ACR describe how the user authenticated (see EvidenceClaims).
	AMR []string `json:"amr,omitempty"`
	ACR string   `json:"acr,omitempty"`
	// Nonce is the authorization request's nonce, kept for reference; fosite
	// copies the nonce into the ID token from the stored request itself.
	Nonce string `json:"nonce,omitempty"`
	// IDTokenExtra holds the user claims for the ID token (see UserClaims).
	// Registered claims (iss, sub, aud, exp, iat, nonce, ...) are ignored.
	IDTokenExtra map[string]any `json:"id_token_extra,omitempty"`
	// AccessTokenExtra holds custom claims of the access token (set by
	// post-login actions). Latchkey's access tokens are opaque: the claims
	// are members of the introspection response (RFC 7662 section 2.2).
	// Members the response sets itself are ignored.
	AccessTokenExtra map[string]any `json:"access_token_extra,omitempty"`
	// UserinfoClaims names claims the client asked for at the userinfo
	// endpoint through the claims request parameter.
	UserinfoClaims []string `json:"userinfo_claims,omitempty"`
}

// Session is the fosite session of a Latchkey grant. It implements
// fosite.Session and openid.Session through the embedded
// openid.DefaultSession, and carries the Authentication so that userinfo
// and refresh can read it back.
type Session struct {
	*openid.DefaultSession `json:"oidc"`
	// Auth is the authentication behind the grant; read it with
	// Authentication.
	Auth Authentication `json:"auth"`
}

var _ openid.Session = (*Session)(nil)

// reservedIDTokenClaims are set by fosite or by NewSession and never taken
// from Authentication.IDTokenExtra.
func reservedIDTokenClaims() []string {
	return []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "nonce", "auth_time",
		"acr", "amr", "azp", "at_hash", "c_hash", "rat", "sid"}
}

// NewSession builds the session for a grant from an authentication: the ID
// token's sub, auth_time, acr, amr and sid claims and the user claims of
// a.IDTokenExtra. fosite adds iss, aud, exp, iat, nonce and at_hash; the
// signing key (and kid header) is chosen per client when the ID token is
// signed.
func (p *Provider) NewSession(a Authentication) *Session {
	extra := make(map[string]any, len(a.IDTokenExtra)+1)
	for k, v := range a.IDTokenExtra {
		if !slices.Contains(reservedIDTokenClaims(), k) {
			extra[k] = v
		}
	}
	if a.SessionID != "" {
		extra["sid"] = a.SessionID
	}
	a.AMR = slices.Clone(a.AMR)
	a.IDTokenExtra = maps.Clone(a.IDTokenExtra)
	a.AccessTokenExtra = maps.Clone(a.AccessTokenExtra)
	a.UserinfoClaims = slices.Clone(a.UserinfoClaims)
	return &Session{
		DefaultSession: &openid.DefaultSession{
			Claims: &jwt.IDTokenClaims{
				Issuer:                              p.cfg.Issuer,
				Subject:                             a.Subject,
				AuthTime:                            a.AuthTime.UTC(),
				RequestedAt:                         a.RequestedAt.UTC(),
				AuthenticationContextClassReference: a.ACR,
				AuthenticationMethodsReferences:     slices.Clone(a.AMR),
				Extra:                               extra,
			},
			Headers: &jwt.Headers{Extra: map[string]any{}},
			Subject: a.Subject,
		},
		Auth: a,
	}
}

// EmptySession returns a session for fosite to fill: pass it to
// NewAccessRequest or IntrospectToken. fosite does not fill it in place:
// read the stored session from the returned requester's GetSession().
func (p *Provider) EmptySession() *Session {
	return &Session{
		DefaultSession: &openid.DefaultSession{
			Claims:  &jwt.IDTokenClaims{},
			Headers: &jwt.Headers{Extra: map[string]any{}},
		},
	}
}

// Authentication returns the authentication behind the grant.
func (s *Session) Authentication() Authentication {
	if s == nil {
		return Authentication{}
	}
	return s.Auth
}

// reservedIntrospectionClaims are the members of an introspection response
// that fosite or Latchkey set; AccessTokenExtra never replaces them.
func reservedIntrospectionClaims() []string {
	return []string{"active", "scope", "client_id", "username", "token_type", "exp", "iat", "nbf",
		"sub", "aud", "iss", "jti", "acr", "amr", "auth_time", "sid"}
}

// GetExtraClaims implements fosite.ExtraClaimsSession: the access token's
// custom claims, which fosite adds to the introspection response.
func (s *Session) GetExtraClaims() map[string]any {
	if s == nil || len(s.Auth.AccessTokenExtra) == 0 {
		return nil
	}
	out := make(map[string]any, len(s.Auth.AccessTokenExtra))
	for k, v := range s.Auth.AccessTokenExtra {
		if !slices.Contains(reservedIntrospectionClaims(), k) {
			out[k] = v
		}
	}
	return out
}

var _ fosite.ExtraClaimsSession = (*Session)(nil)

// Clone implements fosite.Session with a deep copy (fosite clones the
// session of a refresh token before it changes the expiry times).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	return deepcopy.Copy(s).(*Session)
}

// ensure fills the nil parts a decoded session may lack.
func (s *Session) ensure() *Session {
	if s.DefaultSession == nil {
		s.DefaultSession = &openid.DefaultSession{}
	}
	if s.Claims == nil {
		s.Claims = &jwt.IDTokenClaims{}
	}
	if s.Headers == nil {
		s.Headers = &jwt.Headers{}
	}
	if s.Headers.Extra == nil {
		s.Headers.Extra = map[string]any{}
	}
	return s
}
