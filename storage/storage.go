package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them (fmt.Errorf("...: %w", ErrNotFound)) so
// callers can test with errors.Is.
var (
	// ErrNotFound reports that the requested record does not exist (or has
	// expired, for records with a lifetime).
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists reports a violated unique key.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrConflict reports a lost compare-and-set: the record changed (or was
	// already consumed) between read and write. Under concurrency exactly one
	// caller wins; the others get ErrConflict.
	ErrConflict = errors.New("storage: conflict")
)

// Store is the whole persistence interface of Latchkey. It is split into
// small interfaces by area so that a component can ask for just what it uses.
type Store interface {
	Transactor
	UserStore
	CredentialStore
	ConnectionStore
	ClientStore
	SessionStore
	AuthRequestStore
	ConsentStore
	SigningKeyStore
	TokenStore
	ChallengeStore
	LoginFailureStore

	// Ping reports whether the backing database is reachable.
	Ping(ctx context.Context) error
	// DeleteExpired removes records whose lifetime ended before now: OAuth
	// tokens, pending authorization requests, browser sessions, challenges,
	// used JWT IDs and login-failure counters. It returns how many rows it
	// removed.
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)
	// Close releases the database handle.
	Close() error
}

// Transactor runs work in a database transaction.
//
// BeginTx returns a context that carries the transaction; every Store method
// called with it joins the transaction until Commit or Rollback. Calling
// BeginTx with a context that already carries a transaction joins it (the
// outer owner commits). InTx is the closure form: it commits when fn returns
// nil and rolls back otherwise.
type Transactor interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// User is an account of a connection. Email is stored normalised (trimmed,
// lower case) and is unique within its connection.
type User struct {
	ID            string
	ConnectionID  string
	Email         string
	EmailVerified bool
	// Username is an optional second identifier, unique within the connection
	// when set.
	Username   string
	Name       string
	GivenName  string
	FamilyName string
	Nickname   string
	Picture    string
	Locale     string
	// Blocked users cannot log in.
	Blocked bool
	// Metadata is opaque JSON owned by the connector and hooks.
	Metadata  []byte
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastLoginAt is zero until the first login.
	LastLoginAt time.Time
}

// UserFilter narrows ListUsers. Zero values mean "any".
type UserFilter struct {
	ConnectionID string
	// Limit caps the result (0: backend default of 100).
	Limit  int
	Offset int
}

// UserStore persists users.
type UserStore interface {
	// CreateUser inserts u. ID, CreatedAt and UpdatedAt are filled in when
	// empty. It returns ErrAlreadyExists when the connection already has a
	// user with that email or username.
	CreateUser(ctx context.Context, u User) (User, error)
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail looks a user up by connection and (normalised) email.
	GetUserByEmail(ctx context.Context, connectionID, email string) (User, error)
	// GetUserByUsername looks a user up by connection and username.
	GetUserByUsername(ctx context.Context, connectionID, username string) (User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// UpdateUser reads the user, applies fn and writes the result in one
	// transaction. An error from fn aborts the update and is returned.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (User, error)
	// DeleteUser removes the user with its credentials, sessions and consents.
	DeleteUser(ctx context.Context, id string) error
}

// CredentialKind tells what a Credential holds.
type CredentialKind string

// Credential kinds.
const (
	// CredentialPassword is a user's current password; Secret holds its
	// PHC-formatted hash. A user has at most one.
	CredentialPassword CredentialKind = "password"
	// CredentialPasswordHistory is a retired password hash kept for the
	// connection's password-history rule.
	CredentialPasswordHistory CredentialKind = "password_history"
	// CredentialWebAuthn is a WebAuthn credential (passkey or security key):
	// ExternalID is the credential ID, PublicKey the COSE key, Attributes the
	// authenticator data the connector keeps (flags, AAGUID, transports,
	// attestation) as JSON.
	CredentialWebAuthn CredentialKind = "webauthn"
)

// Credential is one way a user proves who they are. The table is shared by
// all authenticator kinds so that new kinds need no new storage methods.
type Credential struct {
	ID     string
	UserID string
	Kind   CredentialKind
	// Secret is a hash (never a plain secret) for password-like kinds.
	Secret string
	// ExternalID identifies the credential outside Latchkey (the WebAuthn
	// credential ID). When set it is unique across all users.
	ExternalID []byte
	PublicKey  []byte
	// Attributes is kind-specific JSON.
	Attributes []byte
	// Name is a human label ("iCloud Keychain").
	Name       string
	SignCount  uint32
	CreatedAt  time.Time
	UpdatedAt  time.Time
	LastUsedAt time.Time
}

// CredentialStore persists credentials.
type CredentialStore interface {
	// CreateCredential inserts c. It returns ErrAlreadyExists when c.ExternalID
	// is already registered, to any user.
	CreateCredential(ctx context.Context, c Credential) (Credential, error)
	GetCredential(ctx context.Context, id string) (Credential, error)
	// GetCredentialByExternalID finds a credential by kind and external ID.
	GetCredentialByExternalID(ctx context.Context, kind CredentialKind, externalID []byte) (Credential, error)
	// ListCredentials returns the user's credentials of one kind ("" for all),
	// oldest first.
	ListCredentials(ctx context.Context, userID string, kind CredentialKind) ([]Credential, error)
	// UpdateCredential reads, applies fn and writes in one transaction with the
	// row locked, so concurrent updates (sign counters) serialise.
	UpdateCredential(ctx context.Context, id string, fn func(*Credential) error) (Credential, error)
	DeleteCredential(ctx context.Context, id string) error
	// SetPassword makes hash the user's password in one transaction: the
	// current password becomes history, and history beyond keepHistory
	// entries (newest kept) is deleted.
	SetPassword(ctx context.Context, userID, hash string, keepHistory int) error
}

// Connection is a named source of users (the "database" connection, or a
// custom one) with connector-specific settings as JSON.
type Connection struct {
	ID string
	// Name is unique; clients and the connection= parameter refer to it.
	Name string
	// Type names the connector ("database").
	Type      string
	Settings  []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectionStore persists connections.
type ConnectionStore interface {
	// UpsertConnection creates the connection or updates the one with the same
	// name, keeping its ID.
	UpsertConnection(ctx context.Context, c Connection) (Connection, error)
	GetConnection(ctx context.Context, id string) (Connection, error)
	GetConnectionByName(ctx context.Context, name string) (Connection, error)
	ListConnections(ctx context.Context) ([]Connection, error)
	DeleteConnection(ctx context.Context, id string) error
}

// Client is an OAuth 2.0 / OpenID Connect client (relying party).
type Client struct {
	ID   string
	Name string
	// SecretHash is the hashed client secret ("" for public clients and
	// private_key_jwt clients). See provider for the hash format.
	SecretHash string
	// Public clients authenticate with "none" and must use PKCE.
	Public                  bool
	FirstParty              bool
	TokenEndpointAuthMethod string
	RedirectURIs            []string
	PostLogoutRedirectURIs  []string
	GrantTypes              []string
	ResponseTypes           []string
	Scopes                  []string
	Audience                []string
	// WebOrigins are the origins allowed to call the token, userinfo,
	// revocation, JWKS and discovery endpoints cross-origin.
	WebOrigins []string
	// Connections the client may use, in order; the first is the default.
	Connections []string
	// IDTokenSigningAlg is RS256 (default) or ES256.
	IDTokenSigningAlg string
	// JWKS holds the client's public keys (JSON Web Key Set) for
	// private_key_jwt; JWKSURI is its alternative.
	JWKS      []byte
	JWKSURI   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ClientStore persists clients.
type ClientStore interface {
	// CreateClient inserts c; ErrAlreadyExists if the ID is taken.
	CreateClient(ctx context.Context, c Client) (Client, error)
	// UpsertClient creates or replaces the client with c.ID (keeping CreatedAt).
	UpsertClient(ctx context.Context, c Client) (Client, error)
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	DeleteClient(ctx context.Context, id string) error
}

// Session is a browser session: who logged in, when and how. The cookie holds
// a random token; only its SHA-256 (TokenHash) is stored. ID is public (it is
// the ID token's sid claim).
type Session struct {
	ID           string
	TokenHash    []byte
	UserID       string
	ConnectionID string
	AuthTime     time.Time
	// AMR and ACR describe the authentication (RFC 8176 values, OpenID EAP
	// ACR values).
	AMR []string
	ACR string
	// Evidence is JSON describing each authentication step (connector owned).
	Evidence   []byte
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// SessionStore persists browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) (Session, error)
	GetSession(ctx context.Context, id string) (Session, error)
	// GetSessionByTokenHash returns the unexpired session with that token hash.
	GetSessionByTokenHash(ctx context.Context, tokenHash []byte) (Session, error)
	ListUserSessions(ctx context.Context, userID string) ([]Session, error)
	UpdateSession(ctx context.Context, id string, fn func(*Session) error) (Session, error)
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of the user.
	DeleteUserSessions(ctx context.Context, userID string) error
}

// AuthRequest is an authorization request waiting for the person to log in
// or consent. It holds the original request parameters so that any replica,
// also after a restart, can finish it.
type AuthRequest struct {
	ID       string
	ClientID string
	// Form is the URL-encoded authorization request (query or POST body).
	Form         string
	ConnectionID string
	// State is JSON owned by the login pages (identifier entered, step...).
	State     []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuthRequestStore persists pending authorization requests.
type AuthRequestStore interface {
	CreateAuthRequest(ctx context.Context, r AuthRequest) (AuthRequest, error)
	// GetAuthRequest returns the unexpired request or ErrNotFound.
	GetAuthRequest(ctx context.Context, id string) (AuthRequest, error)
	UpdateAuthRequest(ctx context.Context, id string, fn func(*AuthRequest) error) (AuthRequest, error)
	DeleteAuthRequest(ctx context.Context, id string) error
}

// Consent records the scopes a user granted a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConsentStore persists consents.
type ConsentStore interface {
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	UpsertConsent(ctx context.Context, c Consent) (Consent, error)
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// SigningKey is one token-signing key. Keys come in generations: a generation
// holds one key per algorithm, and (Generation, Algorithm) is unique so that
// replicas racing to create a generation produce exactly one.
type SigningKey struct {
	ID         string // the JWK "kid"
	Generation int
	Algorithm  string // RS256, ES256
	// PublicJWK is the public key as a JSON Web Key.
	PublicJWK []byte
	// PrivateEncrypted is the private key, encrypted by the provider under a
	// key from configuration. Storage never sees it in clear.
	PrivateEncrypted []byte
	CreatedAt        time.Time
	// RetiredAt is set when a newer generation took over; the key then only
	// verifies, until its public part may be dropped.
	RetiredAt time.Time
}

// SigningKeyStore persists signing keys.
type SigningKeyStore interface {
	// CreateSigningKeys inserts one generation of keys in a transaction and
	// marks every key of older generations retired at retiredAt (when not
	// already retired). If the generation exists it returns ErrAlreadyExists
	// and changes nothing.
	CreateSigningKeys(ctx context.Context, keys []SigningKey, retiredAt time.Time) error
	// ListSigningKeys returns all keys, newest generation first.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteSigningKeysRetiredBefore drops keys retired before t.
	DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int64, error)
}

// TokenKind is the family an OAuthToken belongs to.
type TokenKind string

// Token kinds stored by the OAuth 2.0 layer.
const (
	TokenAuthorizeCode TokenKind = "authorize_code"
	TokenAccess        TokenKind = "access_token"
	TokenRefresh       TokenKind = "refresh_token"
	TokenOIDC          TokenKind = "oidc"
	TokenPKCE          TokenKind = "pkce"
)

// OAuthToken is a persisted OAuth 2.0 artefact: an authorization code, an
// access or refresh token (by signature, never the token itself), or the
// OpenID Connect / PKCE state tied to a code. Data is the serialised request
// and session, owned by the provider package.
type OAuthToken struct {
	Kind      TokenKind
	Signature string
	// RequestID is shared by every token of one grant (its "family").
	RequestID string
	ClientID  string
	Subject   string
	// SessionID is the browser session (sid) the grant came from, if any.
	SessionID string
	Active    bool
	// AccessSignature links a refresh token to its access token.
	AccessSignature string
	RequestedAt     time.Time
	ExpiresAt       time.Time
	Data            []byte
}

// TokenStore persists OAuth 2.0 artefacts.
type TokenStore interface {
	CreateToken(ctx context.Context, t OAuthToken) error
	// GetToken returns the token whatever its Active state (callers decide),
	// or ErrNotFound.
	GetToken(ctx context.Context, kind TokenKind, signature string) (OAuthToken, error)
	DeleteToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateToken flips Active from true to false with a conditional
	// update. Of concurrent callers exactly one succeeds; the others get
	// ErrConflict. A missing token gives ErrNotFound.
	DeactivateToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateTokensByRequestID marks every token of the kind in the family
	// inactive and returns how many changed.
	DeactivateTokensByRequestID(ctx context.Context, kind TokenKind, requestID string) (int64, error)
	// DeleteTokensByRequestID deletes every token of the kind in the family.
	DeleteTokensByRequestID(ctx context.Context, kind TokenKind, requestID string) (int64, error)
	// DeactivateTokensBySubject marks every active token of the kind issued
	// to subject (a user ID) inactive and returns how many changed. It
	// revokes a user's grants, for example after a password reset.
	DeactivateTokensBySubject(ctx context.Context, kind TokenKind, subject string) (int64, error)
	// UseJTI records a JWT ID until expiresAt; a JTI already recorded and not
	// expired gives ErrAlreadyExists (replayed client assertion).
	UseJTI(ctx context.Context, jti string, expiresAt time.Time) error
	// RotateToken performs a Rotation as one atomic step (see Rotation).
	RotateToken(ctx context.Context, r Rotation) error
}

// Rotation is a refresh-token rotation done in one atomic step: the
// presented token (Kind, Signature) flips from active to inactive with a
// conditional update and, only if it did, the family's (RequestID) active
// tokens of RevokeKind become inactive and Create is inserted. Of concurrent
// rotations of one token exactly one succeeds; the others get ErrConflict
// and change nothing. A missing token gives ErrNotFound; a Create whose
// (Kind, Signature) is taken gives ErrAlreadyExists and changes nothing.
type Rotation struct {
	Kind       TokenKind
	Signature  string
	RequestID  string
	RevokeKind TokenKind
	Create     []OAuthToken
}

// Challenge is single-use, short-lived state: a WebAuthn ceremony, an email
// link, a one-time code. Consuming it deletes it.
type Challenge struct {
	ID        string
	Kind      string
	UserID    string
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ChallengeStore persists challenges.
type ChallengeStore interface {
	CreateChallenge(ctx context.Context, c Challenge) (Challenge, error)
	// ConsumeChallenge deletes and returns the unexpired challenge of that kind.
	// Of concurrent consumers exactly one gets it; the others, and anyone
	// asking for an expired or unknown challenge, get ErrNotFound.
	ConsumeChallenge(ctx context.Context, kind, id string) (Challenge, error)
	// GetChallenge returns the unexpired challenge of that kind without
	// consuming it (a page checking a link before showing its form), or
	// ErrNotFound.
	GetChallenge(ctx context.Context, kind, id string) (Challenge, error)
	// DeleteUserChallenges deletes every challenge of the kind held for the
	// user and returns how many it removed: issuing a new email link
	// invalidates the older ones.
	DeleteUserChallenges(ctx context.Context, kind, userID string) (int64, error)
}

// AnyIP is the LoginFailure.IP of an identifier's account-wide counter,
// which counts failures from every address (account lockout).
const AnyIP = "*"

// LoginFailure counts failed logins for one identifier of a connection from
// one IP address, for brute-force protection. IP AnyIP is the account-wide
// counter.
type LoginFailure struct {
	ConnectionID string
	// Identifier is the normalised email or username as typed, whether or
	// not an account has it.
	Identifier string
	IP         string
	Count      int
	FirstAt    time.Time
	LastAt     time.Time
	// BlockedAt is when Count reached the threshold; zero while not blocked.
	BlockedAt time.Time
	// ExpiresAt is when the counter is forgotten (zero: never).
	ExpiresAt time.Time
}

// FailedLogin is one failed login to record with RecordLoginFailure.
type FailedLogin struct {
	ConnectionID string
	Identifier   string
	IP           string
	At           time.Time
	// Threshold is the count that blocks (0: never).
	Threshold int
	// ExpiresAt forgets the counter, and its block, after this time (zero:
	// kept until reset). Every failure sets it anew.
	ExpiresAt time.Time
}

// Blocked reports whether the counter has reached its threshold.
func (f LoginFailure) Blocked() bool { return !f.BlockedAt.IsZero() }

// LoginFailureStore persists brute-force counters. They live in the database
// so that a block holds on every replica.
type LoginFailureStore interface {
	// RecordLoginFailure adds one failure to the counter of f's
	// (ConnectionID, Identifier, IP), creating it with count 1, and returns
	// the counter after the increment. Concurrent calls never lose a count.
	// When the count reaches f.Threshold (> 0) BlockedAt is set to f.At,
	// once. A counter whose ExpiresAt has passed starts again from 1.
	RecordLoginFailure(ctx context.Context, f FailedLogin) (LoginFailure, error)
	// GetLoginFailure returns the unexpired counter of (connectionID,
	// identifier, ip), or ErrNotFound when there were no failures since the
	// last reset.
	GetLoginFailure(ctx context.Context, connectionID, identifier, ip string) (LoginFailure, error)
	// ListLoginFailures returns the identifier's unexpired counters, ordered
	// by IP (the admin's view of a block).
	ListLoginFailures(ctx context.Context, connectionID, identifier string) ([]LoginFailure, error)
	// ResetLoginFailures deletes the identifier's counter for ip (AnyIP: the
	// account-wide one), or every counter of the identifier when ip is "",
	// and returns how many it removed. Resetting what does not exist
	// is not an error.
	ResetLoginFailures(ctx context.Context, connectionID, identifier, ip string) (int64, error)
}
