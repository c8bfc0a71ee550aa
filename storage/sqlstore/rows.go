package sqlstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// Row structs mirror the tables of migration 1 onwards. They never leave
// this package: every method converts them to and from storage types.
// Optional times are NULL when zero; string lists are JSON text; empty byte
// slices read back as nil.

type userRow struct {
	ID            string     `gorm:"column:id;primaryKey"`
	ConnectionID  string     `gorm:"column:connection_id"`
	Email         string     `gorm:"column:email"`
	EmailVerified bool       `gorm:"column:email_verified"`
	Username      string     `gorm:"column:username"`
	Name          string     `gorm:"column:name"`
	GivenName     string     `gorm:"column:given_name"`
	FamilyName    string     `gorm:"column:family_name"`
	Nickname      string     `gorm:"column:nickname"`
	Picture       string     `gorm:"column:picture"`
	Locale        string     `gorm:"column:locale"`
	Blocked       bool       `gorm:"column:blocked"`
	Metadata      []byte     `gorm:"column:metadata"`
	CreatedAt     time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt     time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
	LastLoginAt   *time.Time `gorm:"column:last_login_at"`
}

func (userRow) TableName() string { return "users" }

func toUserRow(u storage.User) userRow {
	return userRow{
		ID: u.ID, ConnectionID: u.ConnectionID, Email: normalizeEmail(u.Email), EmailVerified: u.EmailVerified,
		Username: u.Username, Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
		Nickname: u.Nickname, Picture: u.Picture, Locale: u.Locale, Blocked: u.Blocked,
		Metadata: emptyNil(u.Metadata), CreatedAt: dbTime(u.CreatedAt), UpdatedAt: dbTime(u.UpdatedAt),
		LastLoginAt: nullTime(u.LastLoginAt),
	}
}

func (r userRow) toUser() storage.User {
	return storage.User{
		ID: r.ID, ConnectionID: r.ConnectionID, Email: r.Email, EmailVerified: r.EmailVerified,
		Username: r.Username, Name: r.Name, GivenName: r.GivenName, FamilyName: r.FamilyName,
		Nickname: r.Nickname, Picture: r.Picture, Locale: r.Locale, Blocked: r.Blocked,
		Metadata: emptyNil(r.Metadata), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		LastLoginAt: fromNullTime(r.LastLoginAt),
	}
}

type credentialRow struct {
	ID         string     `gorm:"column:id;primaryKey"`
	UserID     string     `gorm:"column:user_id"`
	Kind       string     `gorm:"column:kind"`
	Secret     string     `gorm:"column:secret"`
	ExternalID []byte     `gorm:"column:external_id"`
	PublicKey  []byte     `gorm:"column:public_key"`
	Attributes []byte     `gorm:"column:attributes"`
	Name       string     `gorm:"column:name"`
	SignCount  int64      `gorm:"column:sign_count"`
	CreatedAt  time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt  time.Time  `gorm:"column:updated_at;autoUpdateTime:false"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
}

func (credentialRow) TableName() string { return "credentials" }

func toCredentialRow(c storage.Credential) credentialRow {
	return credentialRow{
		ID: c.ID, UserID: c.UserID, Kind: string(c.Kind), Secret: c.Secret,
		ExternalID: emptyNil(c.ExternalID), PublicKey: emptyNil(c.PublicKey), Attributes: emptyNil(c.Attributes),
		Name: c.Name, SignCount: int64(c.SignCount), CreatedAt: dbTime(c.CreatedAt), UpdatedAt: dbTime(c.UpdatedAt),
		LastUsedAt: nullTime(c.LastUsedAt),
	}
}

func (r credentialRow) toCredential() storage.Credential {
	return storage.Credential{
		ID: r.ID, UserID: r.UserID, Kind: storage.CredentialKind(r.Kind), Secret: r.Secret,
		ExternalID: emptyNil(r.ExternalID), PublicKey: emptyNil(r.PublicKey), Attributes: emptyNil(r.Attributes),
		Name: r.Name, SignCount: uint32(r.SignCount), CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		LastUsedAt: fromNullTime(r.LastUsedAt),
	}
}

type connectionRow struct {
	ID        string    `gorm:"column:id;primaryKey"`
	Name      string    `gorm:"column:name"`
	Type      string    `gorm:"column:type"`
	Settings  []byte    `gorm:"column:settings"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (connectionRow) TableName() string { return "connections" }

func (r connectionRow) toConnection() storage.Connection {
	return storage.Connection{
		ID: r.ID, Name: r.Name, Type: r.Type, Settings: emptyNil(r.Settings),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type clientRow struct {
	ID                      string    `gorm:"column:id;primaryKey"`
	Name                    string    `gorm:"column:name"`
	SecretHash              string    `gorm:"column:secret_hash"`
	Public                  bool      `gorm:"column:public"`
	FirstParty              bool      `gorm:"column:first_party"`
	TokenEndpointAuthMethod string    `gorm:"column:token_endpoint_auth_method"`
	RedirectURIs            string    `gorm:"column:redirect_uris"`
	PostLogoutRedirectURIs  string    `gorm:"column:post_logout_redirect_uris"`
	GrantTypes              string    `gorm:"column:grant_types"`
	ResponseTypes           string    `gorm:"column:response_types"`
	Scopes                  string    `gorm:"column:scopes"`
	Audience                string    `gorm:"column:audience"`
	WebOrigins              string    `gorm:"column:web_origins"`
	Connections             string    `gorm:"column:connections"`
	IDTokenSigningAlg       string    `gorm:"column:id_token_signing_alg"`
	JWKS                    []byte    `gorm:"column:jwks"`
	JWKSURI                 string    `gorm:"column:jwks_uri"`
	CreatedAt               time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt               time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (clientRow) TableName() string { return "clients" }

func toClientRow(c storage.Client) clientRow {
	return clientRow{
		ID: c.ID, Name: c.Name, SecretHash: c.SecretHash, Public: c.Public, FirstParty: c.FirstParty,
		TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		RedirectURIs:            encodeStrings(c.RedirectURIs),
		PostLogoutRedirectURIs:  encodeStrings(c.PostLogoutRedirectURIs),
		GrantTypes:              encodeStrings(c.GrantTypes),
		ResponseTypes:           encodeStrings(c.ResponseTypes),
		Scopes:                  encodeStrings(c.Scopes),
		Audience:                encodeStrings(c.Audience),
		WebOrigins:              encodeStrings(c.WebOrigins),
		Connections:             encodeStrings(c.Connections),
		IDTokenSigningAlg:       c.IDTokenSigningAlg,
		JWKS:                    emptyNil(c.JWKS),
		JWKSURI:                 c.JWKSURI,
		CreatedAt:               dbTime(c.CreatedAt),
		UpdatedAt:               dbTime(c.UpdatedAt),
	}
}

func (r clientRow) toClient() (storage.Client, error) {
	c := storage.Client{
		ID: r.ID, Name: r.Name, SecretHash: r.SecretHash, Public: r.Public, FirstParty: r.FirstParty,
		TokenEndpointAuthMethod: r.TokenEndpointAuthMethod, IDTokenSigningAlg: r.IDTokenSigningAlg,
		JWKS: emptyNil(r.JWKS), JWKSURI: r.JWKSURI, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	for _, f := range []struct {
		col string
		dst *[]string
	}{
		{r.RedirectURIs, &c.RedirectURIs},
		{r.PostLogoutRedirectURIs, &c.PostLogoutRedirectURIs},
		{r.GrantTypes, &c.GrantTypes},
		{r.ResponseTypes, &c.ResponseTypes},
		{r.Scopes, &c.Scopes},
		{r.Audience, &c.Audience},
		{r.WebOrigins, &c.WebOrigins},
		{r.Connections, &c.Connections},
	} {
		v, err := decodeStrings(f.col)
		if err != nil {
			return storage.Client{}, fmt.Errorf("decode client %s: %w", r.ID, err)
		}
		*f.dst = v
	}
	return c, nil
}

type sessionRow struct {
	ID           string     `gorm:"column:id;primaryKey"`
	TokenHash    []byte     `gorm:"column:token_hash"`
	UserID       string     `gorm:"column:user_id"`
	ConnectionID string     `gorm:"column:connection_id"`
	AuthTime     time.Time  `gorm:"column:auth_time"`
	AMR          string     `gorm:"column:amr"`
	ACR          string     `gorm:"column:acr"`
	Evidence     []byte     `gorm:"column:evidence"`
	IP           string     `gorm:"column:ip"`
	UserAgent    string     `gorm:"column:user_agent"`
	CreatedAt    time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	LastSeenAt   time.Time  `gorm:"column:last_seen_at"`
	ExpiresAt    *time.Time `gorm:"column:expires_at"`
}

func (sessionRow) TableName() string { return "sessions" }

func toSessionRow(s storage.Session) sessionRow {
	return sessionRow{
		ID: s.ID, TokenHash: s.TokenHash, UserID: s.UserID, ConnectionID: s.ConnectionID,
		AuthTime: dbTime(s.AuthTime), AMR: encodeStrings(s.AMR), ACR: s.ACR, Evidence: emptyNil(s.Evidence),
		IP: s.IP, UserAgent: s.UserAgent, CreatedAt: dbTime(s.CreatedAt), LastSeenAt: dbTime(s.LastSeenAt),
		ExpiresAt: nullTime(s.ExpiresAt),
	}
}

func (r sessionRow) toSession() (storage.Session, error) {
	amr, err := decodeStrings(r.AMR)
	if err != nil {
		return storage.Session{}, fmt.Errorf("decode session %s: %w", r.ID, err)
	}
	return storage.Session{
		ID: r.ID, TokenHash: emptyNil(r.TokenHash), UserID: r.UserID, ConnectionID: r.ConnectionID,
		AuthTime: r.AuthTime.UTC(), AMR: amr, ACR: r.ACR, Evidence: emptyNil(r.Evidence),
		IP: r.IP, UserAgent: r.UserAgent, CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(),
		ExpiresAt: fromNullTime(r.ExpiresAt),
	}, nil
}

type authRequestRow struct {
	ID           string     `gorm:"column:id;primaryKey"`
	ClientID     string     `gorm:"column:client_id"`
	Form         string     `gorm:"column:form"`
	ConnectionID string     `gorm:"column:connection_id"`
	State        []byte     `gorm:"column:state"`
	CreatedAt    time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt    *time.Time `gorm:"column:expires_at"`
}

func (authRequestRow) TableName() string { return "auth_requests" }

func toAuthRequestRow(a storage.AuthRequest) authRequestRow {
	return authRequestRow{
		ID: a.ID, ClientID: a.ClientID, Form: a.Form, ConnectionID: a.ConnectionID, State: emptyNil(a.State),
		CreatedAt: dbTime(a.CreatedAt), ExpiresAt: nullTime(a.ExpiresAt),
	}
}

func (r authRequestRow) toAuthRequest() storage.AuthRequest {
	return storage.AuthRequest{
		ID: r.ID, ClientID: r.ClientID, Form: r.Form, ConnectionID: r.ConnectionID, State: emptyNil(r.State),
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: fromNullTime(r.ExpiresAt),
	}
}

type consentRow struct {
	UserID    string    `gorm:"column:user_id;primaryKey"`
	ClientID  string    `gorm:"column:client_id;primaryKey"`
	Scopes    string    `gorm:"column:scopes"`
	CreatedAt time.Time `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt time.Time `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (consentRow) TableName() string { return "consents" }

func (r consentRow) toConsent() (storage.Consent, error) {
	scopes, err := decodeStrings(r.Scopes)
	if err != nil {
		return storage.Consent{}, fmt.Errorf("decode consent: %w", err)
	}
	return storage.Consent{
		UserID: r.UserID, ClientID: r.ClientID, Scopes: scopes,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}, nil
}

type signingKeyRow struct {
	ID               string     `gorm:"column:id;primaryKey"`
	Generation       int64      `gorm:"column:generation"`
	Algorithm        string     `gorm:"column:algorithm"`
	PublicJWK        []byte     `gorm:"column:public_jwk"`
	PrivateEncrypted []byte     `gorm:"column:private_encrypted"`
	CreatedAt        time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	RetiredAt        *time.Time `gorm:"column:retired_at"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

func (r signingKeyRow) toSigningKey() storage.SigningKey {
	return storage.SigningKey{
		ID: r.ID, Generation: int(r.Generation), Algorithm: r.Algorithm,
		PublicJWK: emptyNil(r.PublicJWK), PrivateEncrypted: emptyNil(r.PrivateEncrypted),
		CreatedAt: r.CreatedAt.UTC(), RetiredAt: fromNullTime(r.RetiredAt),
	}
}

type tokenRow struct {
	Kind            string     `gorm:"column:kind;primaryKey"`
	Signature       string     `gorm:"column:signature;primaryKey"`
	RequestID       string     `gorm:"column:request_id"`
	ClientID        string     `gorm:"column:client_id"`
	Subject         string     `gorm:"column:subject"`
	SessionID       string     `gorm:"column:session_id"`
	Active          bool       `gorm:"column:active"`
	AccessSignature string     `gorm:"column:access_signature"`
	RequestedAt     time.Time  `gorm:"column:requested_at"`
	ExpiresAt       *time.Time `gorm:"column:expires_at"`
	Data            []byte     `gorm:"column:data"`
}

func (tokenRow) TableName() string { return "oauth_tokens" }

func (r tokenRow) toToken() storage.OAuthToken {
	return storage.OAuthToken{
		Kind: storage.TokenKind(r.Kind), Signature: r.Signature, RequestID: r.RequestID, ClientID: r.ClientID,
		Subject: r.Subject, SessionID: r.SessionID, Active: r.Active, AccessSignature: r.AccessSignature,
		RequestedAt: r.RequestedAt.UTC(), ExpiresAt: fromNullTime(r.ExpiresAt), Data: emptyNil(r.Data),
	}
}

type usedJTIRow struct {
	JTI       string    `gorm:"column:jti;primaryKey"`
	ExpiresAt time.Time `gorm:"column:expires_at"`
}

func (usedJTIRow) TableName() string { return "used_jtis" }

type challengeRow struct {
	ID        string     `gorm:"column:id;primaryKey"`
	Kind      string     `gorm:"column:kind"`
	UserID    string     `gorm:"column:user_id"`
	Data      []byte     `gorm:"column:data"`
	CreatedAt time.Time  `gorm:"column:created_at;autoCreateTime:false"`
	ExpiresAt *time.Time `gorm:"column:expires_at"`
}

func (challengeRow) TableName() string { return "challenges" }

func (r challengeRow) toChallenge() storage.Challenge {
	return storage.Challenge{
		ID: r.ID, Kind: r.Kind, UserID: r.UserID, Data: emptyNil(r.Data),
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: fromNullTime(r.ExpiresAt),
	}
}

type loginFailureRow struct {
	ConnectionID string     `gorm:"column:connection_id;primaryKey"`
	Identifier   string     `gorm:"column:identifier;primaryKey"`
	IP           string     `gorm:"column:ip;primaryKey"`
	Failures     int64      `gorm:"column:failures"`
	FirstAt      time.Time  `gorm:"column:first_at"`
	LastAt       time.Time  `gorm:"column:last_at"`
	BlockedAt    *time.Time `gorm:"column:blocked_at"`
	ExpiresAt    *time.Time `gorm:"column:expires_at"`
}

func (loginFailureRow) TableName() string { return "login_failures" }

func (r loginFailureRow) toLoginFailure() storage.LoginFailure {
	return storage.LoginFailure{
		ConnectionID: r.ConnectionID, Identifier: r.Identifier, IP: r.IP, Count: int(r.Failures),
		FirstAt: r.FirstAt.UTC(), LastAt: r.LastAt.UTC(),
		BlockedAt: fromNullTime(r.BlockedAt), ExpiresAt: fromNullTime(r.ExpiresAt),
	}
}

// normalizeEmail is the stored form of an email address.
func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := dbTime(t)
	return &v
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// emptyNil maps empty byte slices to nil, so that both databases round-trip
// alike (and an empty ExternalID is NULL, outside the unique index).
func emptyNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// encodeStrings stores a string list as a JSON array; nil becomes "[]".
func encodeStrings(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for []string
		return "[]"
	}
	return string(b)
}

// decodeStrings reads a JSON array; an empty one reads as nil.
func decodeStrings(s string) ([]string, error) {
	if s == "" || s == "[]" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode string list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
