package provider

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/storage"
)

// Token endpoint authentication methods.
const (
	AuthMethodNone              = "none"
	AuthMethodClientSecretBasic = "client_secret_basic"
	AuthMethodClientSecretPost  = "client_secret_post"
	AuthMethodPrivateKeyJWT     = "private_key_jwt"

	// requestObjectsUnsupported is the request_object_signing_alg every
	// client reports. It matches no JWS algorithm, so fosite refuses every
	// request object (including unsigned ones): discovery says
	// request_parameter_supported is false.
	requestObjectsUnsupported = "request-objects-unsupported"
)

// Client is the fosite view of a storage.Client. It implements
// fosite.Client, fosite.OpenIDConnectClient and fosite.ResponseModeClient.
type Client struct {
	c             storage.Client
	grantTypes    fosite.Arguments
	responseTypes fosite.Arguments
	scopes        fosite.Arguments
	jwks          *josev3.JSONWebKeySet
	authMethod    string
	authAlg       string
	idTokenAlg    string
}

var (
	_ fosite.Client              = (*Client)(nil)
	_ fosite.OpenIDConnectClient = (*Client)(nil)
	_ fosite.ResponseModeClient  = (*Client)(nil)
)

// NewClient builds the fosite view of c. A client without scopes may
// request defaultScopes; one without grant or response types gets
// authorization_code and code. It fails on a malformed JWKS or an
// unsupported ID token algorithm, so such a client cannot be used.
func NewClient(c storage.Client, defaultScopes []string) (*Client, error) {
	fc := &Client{
		c:             c,
		grantTypes:    fosite.Arguments(c.GrantTypes),
		responseTypes: fosite.Arguments(c.ResponseTypes),
		scopes:        fosite.Arguments(c.Scopes),
		idTokenAlg:    c.IDTokenSigningAlg,
	}
	if len(fc.grantTypes) == 0 {
		fc.grantTypes = fosite.Arguments{"authorization_code"}
	}
	if len(fc.responseTypes) == 0 {
		fc.responseTypes = fosite.Arguments{"code"}
	}
	if len(fc.scopes) == 0 {
		fc.scopes = fosite.Arguments(slices.Clone(defaultScopes))
	}
	switch fc.idTokenAlg {
	case "":
		fc.idTokenAlg = algRS256
	case algRS256, algES256:
	default:
		return nil, fmt.Errorf("client %s: unsupported id token signing algorithm %q", c.ID, c.IDTokenSigningAlg)
	}
	if len(c.JWKS) > 0 {
		var set josev3.JSONWebKeySet
		if err := json.Unmarshal(c.JWKS, &set); err != nil {
			return nil, fmt.Errorf("client %s: decode jwks: %w", c.ID, err)
		}
		for i := range set.Keys {
			// fosite only uses keys marked for signatures; a key without
			// "use" is meant for them too.
			if set.Keys[i].Use == "" {
				set.Keys[i].Use = "sig"
			}
		}
		fc.jwks = &set
	}
	switch {
	case c.Public:
		fc.authMethod = AuthMethodNone
	case c.TokenEndpointAuthMethod != "":
		fc.authMethod = c.TokenEndpointAuthMethod
	case c.SecretHash == "" && (fc.jwks != nil || c.JWKSURI != ""):
		fc.authMethod = AuthMethodPrivateKeyJWT
	default:
		fc.authMethod = AuthMethodClientSecretBasic
	}
	fc.authAlg = assertionAlg(fc.jwks)
	return fc, nil
}

// assertionAlg is the algorithm a private_key_jwt client must sign its
// assertions with: the "alg" of its first signing key, else the usual
// algorithm for the key type; RS256 when the keys are only behind a URI.
func assertionAlg(set *josev3.JSONWebKeySet) string {
	if set == nil {
		return algRS256
	}
	for _, k := range set.Keys {
		if k.Use != "sig" {
			continue
		}
		if k.Algorithm != "" {
			return k.Algorithm
		}
		switch pk := k.Key.(type) {
		case *rsa.PublicKey:
			return algRS256
		case *ecdsa.PublicKey:
			switch pk.Curve.Params().BitSize {
			case 384:
				return "ES384"
			case 521:
				return "ES512"
			default:
				return algES256
			}
		}
	}
	return algRS256
}

// Storage returns the stored client.
func (c *Client) Storage() storage.Client { return c.c }

// GetID implements fosite.Client.
func (c *Client) GetID() string { return c.c.ID }

// GetHashedSecret implements fosite.Client.
func (c *Client) GetHashedSecret() []byte { return []byte(c.c.SecretHash) }

// GetRedirectURIs implements fosite.Client.
func (c *Client) GetRedirectURIs() []string { return c.c.RedirectURIs }

// GetGrantTypes implements fosite.Client.
func (c *Client) GetGrantTypes() fosite.Arguments { return c.grantTypes }

// GetResponseTypes implements fosite.Client.
func (c *Client) GetResponseTypes() fosite.Arguments { return c.responseTypes }

// GetScopes implements fosite.Client.
func (c *Client) GetScopes() fosite.Arguments { return c.scopes }

// IsPublic implements fosite.Client.
func (c *Client) IsPublic() bool { return c.c.Public }

// GetAudience implements fosite.Client.
func (c *Client) GetAudience() fosite.Arguments { return fosite.Arguments(c.c.Audience) }

// GetRequestURIs implements fosite.OpenIDConnectClient: none (request_uri
// is not supported).
func (c *Client) GetRequestURIs() []string { return nil }

// GetJSONWebKeys implements fosite.OpenIDConnectClient.
func (c *Client) GetJSONWebKeys() *josev3.JSONWebKeySet { return c.jwks }

// GetJSONWebKeysURI implements fosite.OpenIDConnectClient.
func (c *Client) GetJSONWebKeysURI() string { return c.c.JWKSURI }

// GetRequestObjectSigningAlgorithm implements fosite.OpenIDConnectClient
// with a value that refuses every request object.
func (c *Client) GetRequestObjectSigningAlgorithm() string { return requestObjectsUnsupported }

// GetTokenEndpointAuthMethod implements fosite.OpenIDConnectClient.
func (c *Client) GetTokenEndpointAuthMethod() string { return c.authMethod }

// GetTokenEndpointAuthSigningAlgorithm implements fosite.OpenIDConnectClient.
func (c *Client) GetTokenEndpointAuthSigningAlgorithm() string { return c.authAlg }

// GetResponseModes implements fosite.ResponseModeClient: query and
// form_post.
func (c *Client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery, fosite.ResponseModeFormPost}
}

// IDTokenSigningAlg returns the algorithm of the client's ID tokens.
func (c *Client) IDTokenSigningAlg() string { return c.idTokenAlg }

// clientCache keeps clients in memory for a short time: the token endpoint
// reads the client on every request.
type clientCache struct {
	store         storage.ClientStore
	ttl           time.Duration
	defaultScopes []string

	mu sync.RWMutex
	m  map[string]cachedClient
}

type cachedClient struct {
	c       *Client
	expires time.Time
}

// clientCacheMax bounds the cache; it is cleared when full.
const clientCacheMax = 10000

func newClientCache(store storage.ClientStore, ttl time.Duration, defaultScopes []string) *clientCache {
	return &clientCache{store: store, ttl: ttl, defaultScopes: defaultScopes, m: map[string]cachedClient{}}
}

func (cc *clientCache) get(ctx context.Context, id string) (*Client, error) {
	now := time.Now()
	if cc.ttl > 0 {
		cc.mu.RLock()
		e, ok := cc.m[id]
		cc.mu.RUnlock()
		if ok && now.Before(e.expires) {
			return e.c, nil
		}
	}
	sc, err := cc.store.GetClient(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get client: %w", err)
	}
	c, err := NewClient(sc, cc.defaultScopes)
	if err != nil {
		return nil, err
	}
	if cc.ttl > 0 {
		cc.mu.Lock()
		if len(cc.m) >= clientCacheMax {
			clear(cc.m)
		}
		cc.m[id] = cachedClient{c: c, expires: now.Add(cc.ttl)}
		cc.mu.Unlock()
	}
	return c, nil
}

func (cc *clientCache) invalidate(id string) {
	cc.mu.Lock()
	delete(cc.m, id)
	cc.mu.Unlock()
}

// StoredClient returns the stored record of a client through the client
// cache (Config.ClientCacheTTL), as the authorize and token endpoints see
// it: the hosted pages read it on every request of a login.
func (p *Provider) StoredClient(ctx context.Context, id string) (storage.Client, error) {
	c, err := p.clients.get(ctx, id)
	if err != nil {
		return storage.Client{}, err
	}
	return c.Storage(), nil
}
