package provider

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"

	"github.com/latchkey/latchkey/storage"
)

// Defaults and limits of Config.
const (
	DefaultAccessTokenLifespan   = time.Hour
	DefaultRefreshTokenLifespan  = 30 * 24 * time.Hour
	DefaultIDTokenLifespan       = time.Hour
	DefaultAuthorizeCodeLifespan = 10 * time.Minute
	// MaxAuthorizeCodeLifespan caps Config.AuthorizeCodeLifespan (OAuth 2.1).
	MaxAuthorizeCodeLifespan = 10 * time.Minute
	// DefaultClientCacheTTL is how long a client read from the store is
	// reused. Replicas share the database, so an edit reaches every replica
	// within this time.
	DefaultClientCacheTTL = 5 * time.Second
	// MinSecretLen is the minimum length of Config.Secret.
	MinSecretLen = 32
)

// Endpoint paths under the issuer. The handlers mount them; discovery
// advertises them.
const (
	PathAuthorize   = "/authorize"
	PathToken       = "/oauth/token"
	PathUserinfo    = "/userinfo"
	PathRevoke      = "/oauth/revoke"
	PathIntrospect  = "/oauth/introspect"
	PathEndSession  = "/oidc/logout"
	PathJWKS        = "/.well-known/jwks.json"
	PathDiscovery   = "/.well-known/openid-configuration"
	hkdfInfoHMAC    = "latchkey oauth2 hmac key v1"
	hkdfInfoKeyWrap = "latchkey signing key encryption v1"
)

// Config configures a Provider. Zero durations take the defaults above.
type Config struct {
	// Issuer is the issuer identifier, an https URL (http only for local
	// development) without a trailing slash: "http://localhost:8080".
	Issuer string
	// Secret is the deployment's master secret (at least 32 bytes). The HMAC
	// key of opaque tokens and the key that encrypts the private signing keys
	// are derived from it with HKDF, so every replica must have the same one.
	Secret []byte

	AccessTokenLifespan   time.Duration
	RefreshTokenLifespan  time.Duration
	IDTokenLifespan       time.Duration
	AuthorizeCodeLifespan time.Duration // capped at MaxAuthorizeCodeLifespan

	// ScopesSupported is advertised in discovery and is what a client with
	// no scopes of its own may request. Default: openid profile email
	// offline_access.
	ScopesSupported []string

	// ClientCacheTTL is how long clients are cached in memory (default
	// DefaultClientCacheTTL; negative disables the cache).
	ClientCacheTTL time.Duration
	// KeyActivationDelay is how long a rotated key generation is published
	// in the JWKS before it signs. With several replicas, set it above the
	// interval at which they call ReloadKeys so that no relying party sees a
	// kid that the JWKS it fetched does not hold yet. Default 0: immediate.
	KeyActivationDelay time.Duration

	// InitialKeys, when set, are the private keys of the first generation,
	// used only if the store has no signing keys (a fresh install); see
	// StartKeyGeneration. Nil: New generates them when needed.
	InitialKeys *KeyGeneration

	// Logger receives the provider's logs (default slog.Default()).
	Logger *slog.Logger
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if c.Issuer == "" {
		return c, errors.New("issuer is required")
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return c, fmt.Errorf("issuer %q is not an absolute http(s) URL without query or fragment", c.Issuer)
	}
	if strings.HasSuffix(c.Issuer, "/") {
		return c, fmt.Errorf("issuer %q must not end with a slash", c.Issuer)
	}
	if len(c.Secret) < MinSecretLen {
		return c, fmt.Errorf("secret must be at least %d bytes", MinSecretLen)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.AccessTokenLifespan, DefaultAccessTokenLifespan)
	def(&c.RefreshTokenLifespan, DefaultRefreshTokenLifespan)
	def(&c.IDTokenLifespan, DefaultIDTokenLifespan)
	def(&c.AuthorizeCodeLifespan, DefaultAuthorizeCodeLifespan)
	c.AuthorizeCodeLifespan = min(c.AuthorizeCodeLifespan, MaxAuthorizeCodeLifespan)
	if c.ClientCacheTTL == 0 {
		c.ClientCacheTTL = DefaultClientCacheTTL
	}
	if c.KeyActivationDelay < 0 {
		c.KeyActivationDelay = 0
	}
	if len(c.ScopesSupported) == 0 {
		c.ScopesSupported = []string{"openid", "profile", "email", "offline_access"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Provider is Latchkey's OAuth 2.0 / OpenID Connect provider: fosite
// composed over the store, with the signing keys in memory.
type Provider struct {
	cfg    Config
	store  storage.Store
	log    *slog.Logger
	fcfg   *fosite.Config
	oauth2 fosite.OAuth2Provider
	hmac   interface {
		AuthorizeCodeSignature(context.Context, string) string
	}
	adapter *Adapter
	clients *clientCache
	hasher  *secretHasher
	signers map[string]*jwtSigner

	kek       []byte // key-encryption key of the private signing keys
	keys      atomic.Pointer[keySet]
	keysMu    sync.Mutex // serialises ReloadKeys and RotateKeys
	discovery []byte
}

// New builds the provider over store. It loads the signing keys, generating
// the first generation when the store has none (replicas starting together
// produce exactly one), and precomputes the discovery document and JWKS.
func New(ctx context.Context, cfg Config, store storage.Store) (*Provider, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	hmacKey, err := hkdf.Key(sha256.New, cfg.Secret, nil, hkdfInfoHMAC, 32)
	if err != nil {
		return nil, fmt.Errorf("new provider: derive hmac key: %w", err)
	}
	kek, err := hkdf.Key(sha256.New, cfg.Secret, nil, hkdfInfoKeyWrap, 32)
	if err != nil {
		return nil, fmt.Errorf("new provider: derive key-encryption key: %w", err)
	}
	p := &Provider{
		cfg:    cfg,
		store:  store,
		log:    cfg.Logger,
		hasher: newSecretHasher(),
		kek:    kek,
	}
	p.clients = newClientCache(store, cfg.ClientCacheTTL, cfg.ScopesSupported)
	p.adapter = &Adapter{p: p, store: store}
	p.signers = map[string]*jwtSigner{
		algRS256: {p: p, alg: algRS256},
		algES256: {p: p, alg: algES256},
	}
	p.fcfg = &fosite.Config{
		AccessTokenLifespan:            cfg.AccessTokenLifespan,
		RefreshTokenLifespan:           cfg.RefreshTokenLifespan,
		IDTokenLifespan:                cfg.IDTokenLifespan,
		AuthorizeCodeLifespan:          cfg.AuthorizeCodeLifespan,
		IDTokenIssuer:                  cfg.Issuer,
		AccessTokenIssuer:              cfg.Issuer,
		TokenURL:                       cfg.Issuer + PathToken,
		GlobalSecret:                   hmacKey,
		EnforcePKCEForPublicClients:    true,
		EnablePKCEPlainChallengeMethod: false,
		AllowedPromptValues:            allowedPrompts(),
		ClientSecretsHasher:            p.hasher,
		SendDebugMessagesToClients:     false,
		JWKSFetcherStrategy:            fosite.NewDefaultJWKSFetcherStrategy(),
	}
	hmacStrategy := compose.NewOAuth2HMACStrategy(p.fcfg)
	p.hmac = hmacStrategy
	strategy := &compose.CommonStrategy{
		CoreStrategy:               hmacStrategy,
		OpenIDConnectTokenStrategy: &idTokenStrategy{p: p},
		// Used by the OpenID Connect request validator to decode
		// id_token_hint: it verifies with any of our keys.
		Signer: p.signers[algRS256],
	}
	p.oauth2 = compose.Compose(p.fcfg, p.adapter, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2ClientCredentialsGrantFactory,
		compose.OpenIDConnectExplicitFactory,
		compose.OpenIDConnectRefreshFactory,
		compose.OAuth2TokenRevocationFactory,
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2PKCEFactory,
	)
	if err := p.initKeys(ctx); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	if p.discovery, err = p.buildDiscovery(); err != nil {
		return nil, fmt.Errorf("new provider: %w", err)
	}
	return p, nil
}

// allowedPrompts are the prompt values fosite accepts: the OpenID Connect
// ones plus "create" (OpenID Connect Prompt Create 1.0).
func allowedPrompts() []string {
	return []string{"none", "login", "consent", "select_account", "create"}
}

// OAuth2 returns the composed fosite provider.
func (p *Provider) OAuth2() fosite.OAuth2Provider { return p.oauth2 }

// Issuer returns the issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Storage returns the fosite storage adapter (for tests and tools).
func (p *Provider) Storage() *Adapter { return p.adapter }

// DiscoveryJSON returns the precomputed OpenID Provider Metadata.
func (p *Provider) DiscoveryJSON() []byte { return p.discovery }

// JWKSJSON returns the precomputed JSON Web Key Set: the keys in use and the
// retired keys still inside their verification window.
func (p *Provider) JWKSJSON() []byte { return p.keys.Load().jwks }

// InvalidateClient drops a client from this replica's cache, for callers
// that just changed it. Other replicas see the change within
// Config.ClientCacheTTL.
func (p *Provider) InvalidateClient(id string) { p.clients.invalidate(id) }

// Client returns the fosite view of a stored client, through the cache.
func (p *Provider) Client(ctx context.Context, id string) (*Client, error) {
	return p.clients.get(ctx, id)
}

// ScopesSupported returns the scopes advertised in discovery.
func (p *Provider) ScopesSupported() []string { return slices.Clone(p.cfg.ScopesSupported) }

// Token runs the token endpoint: fosite's NewAccessRequest with an empty
// session, then NewAccessResponse. The caller writes the result with
// OAuth2().WriteAccessResponse or OAuth2().WriteAccessError.
//
// A code or refresh token redeemed concurrently loses at the conditional
// update in storage; fosite reports that as a server error, which Token
// turns into invalid_grant after revoking every token of the grant (the
// winner's too: the credential was presented twice).
func (p *Provider) Token(ctx context.Context, r *http.Request) (fosite.AccessRequester, fosite.AccessResponder, error) {
	ctx = context.WithValue(ctx, codeMemoKey{}, &codeMemo{})
	ar, err := p.oauth2.NewAccessRequest(ctx, r, p.EmptySession())
	if err != nil {
		return ar, nil, p.tokenError(ctx, ar, err)
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// fosite validated the requested scopes and audience against the
		// client; granting them is the caller's decision, and for
		// client_credentials there is nobody else to ask.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		for _, a := range ar.GetRequestedAudience() {
			ar.GrantAudience(a)
		}
		if s, ok := ar.GetSession().(*Session); ok {
			id := ar.GetClient().GetID()
			s.SetSubject(id)
			s.Auth.Subject = id
			s.Auth.ClientID = id
		}
	}
	if ar.GetGrantTypes().ExactOne("refresh_token") {
		// One statement for the rotation (see rotationTx).
		ctx = context.WithValue(ctx, rotationKey{}, &rotationTx{})
	}
	resp, err := p.oauth2.NewAccessResponse(ctx, ar)
	if err != nil {
		return ar, nil, p.tokenError(ctx, ar, err)
	}
	return ar, resp, nil
}

// tokenError turns a lost race into invalid_grant and revokes the grant's
// tokens, outside the transaction fosite rolled back.
func (p *Provider) tokenError(ctx context.Context, ar fosite.AccessRequester, err error) error {
	if !isConflict(err) {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= http.StatusInternalServerError {
			p.log.ErrorContext(ctx, "token endpoint failed", "error", rfc.Error(), "debug", rfc.Debug(), "cause", rfc.Cause())
		}
		return err
	}
	hint := "The grant has already been used."
	if ar != nil && ar.GetID() != "" {
		gt := ar.GetGrantTypes()
		if gt.ExactOne("authorization_code") {
			hint = "The authorization code has already been used."
		} else if gt.ExactOne("refresh_token") {
			hint = "The refresh token has already been used."
		}
		if gt.ExactOne("authorization_code") || gt.ExactOne("refresh_token") {
			rctx := context.WithoutCancel(ctx)
			var errs []error
			if rerr := p.adapter.RevokeAccessToken(rctx, ar.GetID()); rerr != nil {
				errs = append(errs, rerr)
			}
			if rerr := p.adapter.RevokeRefreshToken(rctx, ar.GetID()); rerr != nil {
				errs = append(errs, rerr)
			}
			clientID := ""
			if ar.GetClient() != nil {
				clientID = ar.GetClient().GetID()
			}
			if len(errs) > 0 {
				p.log.ErrorContext(ctx, "revoke grant after concurrent use", "client_id", clientID, "error", errors.Join(errs...))
			} else {
				p.log.WarnContext(ctx, "grant used concurrently; its tokens are revoked", "client_id", clientID)
			}
		}
	}
	return fosite.ErrInvalidGrant.WithHint(hint).WithWrap(err).WithDebug(err.Error())
}

// isConflict reports whether err comes from a lost race: a lost
// compare-and-set or a serialization failure in storage, or a code found
// used when fosite reads it a second time (after a concurrent redemption
// committed between its two reads), which fosite reports as a server error.
func isConflict(err error) bool {
	return errors.Is(err, storage.ErrConflict) || errors.Is(err, fosite.ErrSerializationFailure) ||
		(errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) && errors.Is(err, fosite.ErrServerError))
}

// IntrospectAccessToken validates a bearer access token (for userinfo and
// resource endpoints) and returns the grant and its session. Unlike a bare
// OAuth2().IntrospectToken(..., fosite.AccessToken, ...), it refuses a
// refresh token presented as a bearer token.
func (p *Provider) IntrospectAccessToken(ctx context.Context, token string) (fosite.AccessRequester, *Session, error) {
	use, ar, err := p.oauth2.IntrospectToken(ctx, token, fosite.AccessToken, p.EmptySession())
	if err != nil {
		return nil, nil, err
	}
	if use != fosite.AccessToken {
		return nil, nil, fosite.ErrRequestUnauthorized.WithHint("The token is not an access token.")
	}
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return nil, nil, fosite.ErrServerError.WithDebug("the token's session is not a provider session")
	}
	return ar, sess, nil
}
