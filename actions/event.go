package actions

import (
	"encoding/json"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// Method names in Event.Authentication.Methods. They are Auth0's names
// (event.authentication.methods[].name), which for a password and a passkey
// are also Latchkey's connector.MethodKind values.
const (
	MethodPassword = "pwd"
	MethodPasskey  = "passkey"
	MethodMFA      = "mfa"
)

// MFA factor types in Method.Type, for methods named MethodMFA. They are the
// factor names Auth0 uses (api.authentication.challengeWith types).
const (
	FactorOTP             = "otp"
	FactorRecoveryCode    = "recovery-code"
	FactorWebAuthnRoaming = "webauthn-roaming"
)

// ProtocolOIDC is Transaction.Protocol for an OpenID Connect authorization
// request (Auth0's value for the authorization code flow).
const ProtocolOIDC = "oidc-basic-profile"

// Event is what a post-login hook knows about the login: who, through which
// client and connection, how they authenticated so far, what the relying
// party asked for and where the request came from.
//
// Its JSON form is the event object a JavaScript action receives. Field
// names are those of Auth0's post-login event object (event.user.user_id,
// event.authentication.methods, event.transaction.acr_values...), so actions
// written for Auth0 read the same properties here. Properties Auth0 has and
// Latchkey does not (organization, authorization, resource_server, session,
// geoip...) are absent; a script reads them as undefined.
//
// Hooks must treat the Event as read-only: the Runner hands the same value to
// every hook.
type Event struct {
	User           User           `json:"user"`
	Client         Client         `json:"client"`
	Connection     Connection     `json:"connection"`
	Authentication Authentication `json:"authentication"`
	Transaction    Transaction    `json:"transaction"`
	Request        Request        `json:"request"`
	Stats          Stats          `json:"stats"`
	Tenant         Tenant         `json:"tenant"`
}

// User is event.user: the account logging in.
type User struct {
	UserID        string `json:"user_id"`
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified"`
	Username      string `json:"username,omitempty"`
	Name          string `json:"name,omitempty"`
	GivenName     string `json:"given_name,omitempty"`
	FamilyName    string `json:"family_name,omitempty"`
	Nickname      string `json:"nickname,omitempty"`
	Picture       string `json:"picture,omitempty"`
	Locale        string `json:"locale,omitempty"`
	// AppMetadata and UserMetadata are JSON objects (never null, so that
	// event.user.app_metadata.plan is undefined rather than a TypeError).
	AppMetadata  map[string]any `json:"app_metadata"`
	UserMetadata map[string]any `json:"user_metadata"`
	// EnrolledFactors lists the user's confirmed MFA factors (Auth0's
	// event.user.enrolledFactors).
	EnrolledFactors []Factor  `json:"enrolledFactors"`
	CreatedAt       time.Time `json:"created_at,omitzero"`
	UpdatedAt       time.Time `json:"updated_at,omitzero"`
	LastLogin       time.Time `json:"last_login,omitzero"`
}

// Factor is one enrolled MFA factor; Type is one of the Factor constants.
type Factor struct {
	Type string `json:"type"`
}

// Client is event.client: the relying party the login is for.
type Client struct {
	ClientID string            `json:"client_id"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// Connection is event.connection: the source of users the person logged in
// with.
type Connection struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Strategy is Auth0's connection strategy: "auth0" for a database
	// connection, else the connection's type.
	Strategy string            `json:"strategy"`
	Metadata map[string]string `json:"metadata"`
}

// Authentication is event.authentication.
type Authentication struct {
	// Methods are the completed authentication steps, oldest first.
	Methods []Method `json:"methods"`
}

// Method is one completed authentication step. Name and Timestamp are
// Auth0's; Type is Auth0's MFA factor type. The WebAuthn details are
// Latchkey's additions (Auth0 gives none), present for passkeys and security
// keys: a script may read them, an Auth0 script simply ignores them.
type Method struct {
	// Name is MethodPassword, MethodPasskey, MethodMFA or another
	// connector.MethodKind.
	Name      string    `json:"name"`
	Timestamp time.Time `json:"timestamp"`
	// Type is the factor of an MFA step (FactorOTP, FactorRecoveryCode,
	// FactorWebAuthnRoaming).
	Type string `json:"type,omitempty"`

	// UserVerified: the authenticator verified the person (UV flag: PIN or
	// biometric).
	UserVerified bool `json:"user_verified,omitempty"`
	// BackupEligible and BackupState are the BE and BS flags: the
	// credential can be, and is, synced.
	BackupEligible bool `json:"backup_eligible,omitempty"`
	BackupState    bool `json:"backup_state,omitempty"`
	// AAGUID identifies the authenticator model, when known.
	AAGUID string `json:"aaguid,omitempty"`
	// HardwareBound: the key cannot leave the authenticator, by the rules of
	// docs/amr.md (the hwk row: BE = 0, and the attestation verified when
	// the connection asks for attestation).
	HardwareBound bool `json:"hardware_bound,omitempty"`
	// CrossDevice: the authenticator was reached through the hybrid
	// (cross-device) transport.
	CrossDevice bool `json:"cross_device,omitempty"`
}

// Transaction is event.transaction: what the authorization request asked.
type Transaction struct {
	ACRValues       []string `json:"acr_values"`
	Locale          string   `json:"locale,omitempty"`
	LoginHint       string   `json:"login_hint,omitempty"`
	Prompt          []string `json:"prompt"`
	Protocol        string   `json:"protocol"`
	RedirectURI     string   `json:"redirect_uri,omitempty"`
	RequestedScopes []string `json:"requested_scopes"`
	ResponseType    []string `json:"response_type"`
	UILocales       []string `json:"ui_locales"`
}

// Request is event.request: the HTTP request that completed the login.
type Request struct {
	IP        string `json:"ip"`
	Hostname  string `json:"hostname,omitempty"`
	Method    string `json:"method,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// Language is the Accept-Language header.
	Language string `json:"language,omitempty"`
}

// Stats is event.stats.
type Stats struct {
	// LoginsCount counts the user's logins, this one included.
	LoginsCount int `json:"logins_count"`
}

// Tenant is event.tenant. Latchkey has one tenant per deployment; its ID is
// whatever the composition root chooses (the issuer's host is a good one).
type Tenant struct {
	ID string `json:"id"`
}

// Metadata keys of storage.User.Metadata that Latchkey exposes as
// event.user.app_metadata and event.user.user_metadata. Other keys
// (Latchkey's own bookkeeping) are not shown to hooks.
const (
	AppMetadataKey  = "app_metadata"
	UserMetadataKey = "user_metadata"
)

// NewUser returns the event.user view of a stored user. app_metadata and
// user_metadata come from the "app_metadata" and "user_metadata" keys of
// u.Metadata (a JSON object); anything missing or unreadable is empty.
func NewUser(u storage.User) User {
	out := User{
		UserID:        u.ID,
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		Username:      u.Username,
		Name:          u.Name,
		GivenName:     u.GivenName,
		FamilyName:    u.FamilyName,
		Nickname:      u.Nickname,
		Picture:       u.Picture,
		Locale:        u.Locale,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
		LastLogin:     u.LastLoginAt,
	}
	var all map[string]json.RawMessage
	if len(u.Metadata) > 0 && json.Unmarshal(u.Metadata, &all) == nil {
		_ = json.Unmarshal(all[AppMetadataKey], &out.AppMetadata)
		_ = json.Unmarshal(all[UserMetadataKey], &out.UserMetadata)
	}
	return out
}

// NewClient returns the event.client view of a stored client.
func NewClient(c storage.Client) Client {
	return Client{ClientID: c.ID, Name: c.Name}
}

// NewConnection returns the event.connection view of a stored connection.
// A "database" connection has Auth0's strategy "auth0".
func NewConnection(c storage.Connection) Connection {
	strategy := c.Type
	if strategy == "database" {
		strategy = "auth0"
	}
	return Connection{ID: c.ID, Name: c.Name, Strategy: strategy}
}

// mfaKinds maps the connector's second-factor method kinds to Auth0's MFA
// factor types. The kinds are spelled out (not connector constants) so
// this package does not wait for them; the values are connector's.
var mfaKinds = map[connector.MethodKind]string{
	"otp":           FactorOTP,
	"recovery-code": FactorRecoveryCode,
	"security-key":  FactorWebAuthnRoaming,
}

// NewMethod returns the event view of a connector's login evidence. A
// second factor becomes Auth0's {name: "mfa", type: factor}; a passkey or a
// security key carries its WebAuthn flags.
func NewMethod(m connector.Method) Method {
	out := Method{Name: string(m.Kind), Timestamp: m.Time}
	if factor, ok := mfaKinds[m.Kind]; ok {
		out.Name, out.Type = MethodMFA, factor
	}
	if m.Kind == connector.MethodPasskey || out.Type == FactorWebAuthnRoaming {
		out.UserVerified = m.UserVerified
		out.BackupEligible = m.BackupEligible
		out.BackupState = m.BackupState
		out.AAGUID = m.AAGUID
		out.HardwareBound = !m.BackupEligible && (!m.AttestationRequired || m.AttestationVerified)
		out.CrossDevice = m.CrossDevice
	}
	return out
}

// NewMethods converts a login's evidence, in order.
func NewMethods(ms []connector.Method) []Method {
	out := make([]Method, 0, len(ms))
	for _, m := range ms {
		out = append(out, NewMethod(m))
	}
	return out
}

// normalized returns a copy of ev whose lists and objects are empty rather
// than nil, so that its JSON has [] and {} where Auth0's event has them and a
// script can call event.transaction.acr_values.includes(...) unguarded.
func (ev *Event) normalized() Event {
	out := *ev
	out.User.AppMetadata = orEmptyMap(out.User.AppMetadata)
	out.User.UserMetadata = orEmptyMap(out.User.UserMetadata)
	out.User.EnrolledFactors = orEmpty(out.User.EnrolledFactors)
	out.Client.Metadata = orEmptyMap(out.Client.Metadata)
	out.Connection.Metadata = orEmptyMap(out.Connection.Metadata)
	out.Authentication.Methods = orEmpty(out.Authentication.Methods)
	out.Transaction.ACRValues = orEmpty(out.Transaction.ACRValues)
	out.Transaction.Prompt = orEmpty(out.Transaction.Prompt)
	out.Transaction.RequestedScopes = orEmpty(out.Transaction.RequestedScopes)
	out.Transaction.ResponseType = orEmpty(out.Transaction.ResponseType)
	out.Transaction.UILocales = orEmpty(out.Transaction.UILocales)
	if out.Transaction.Protocol == "" {
		out.Transaction.Protocol = ProtocolOIDC
	}
	return out
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orEmptyMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}
