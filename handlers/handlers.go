package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// Options are the dependencies and settings of a Handler.
type Options struct {
	// Issuer is the OpenID Provider's issuer URL (scheme, host, optional
	// path, no trailing slash), e.g. "https://id.example.com".
	Issuer     string
	Store      storage.Store
	Provider   *provider.Provider
	Connectors connector.Resolver
	Templates  *templates.Templates
	Logger     *slog.Logger
	Cookies    CookieOptions
	// MFA returns a connection's second factors (nil: none). The
	// composition root builds them with the connection.
	MFA func(connector.Connector) *mfa.Service
	// Actions are the post-login actions, run after the first factor of
	// every login (nil: none).
	Actions *actions.Runner
	// DevOutbox, when set and the issuer is http://localhost, mounts the
	// development outbox page at /dev/outbox (no SMTP server configured).
	DevOutbox *mail.Outbox
	// Demo, when set, mounts the built-in demo relying party at /demo.
	Demo *DemoOptions
}

// CookieOptions configure the browser-session cookie.
type CookieOptions struct {
	// HashKey (32 or 64 bytes) authenticates the cookie; BlockKey (32 bytes)
	// encrypts it. Both are required.
	HashKey  []byte
	BlockKey []byte
	// Insecure drops the Secure attribute and the __Host- prefix. Allowed
	// only for an http://localhost issuer (development).
	Insecure bool
	// Lifetime of a browser session (default 7 days).
	Lifetime time.Duration
}

// DemoOptions configure the demo relying party.
type DemoOptions struct {
	ClientID     string
	ClientSecret string
}

// Handler serves every Latchkey endpoint. Create it with New.
type Handler struct {
	opts      Options
	issuer    *url.URL
	log       *slog.Logger
	mux       *http.ServeMux
	sessions  *sessionManager
	clientIdx clientIndex
	conns     *connCache
}

// New checks the options and mounts every flow's routes.
func New(o Options) (*Handler, error) {
	if o.Store == nil || o.Provider == nil || o.Connectors == nil || o.Templates == nil {
		return nil, errors.New("new handler: store, provider, connectors and templates are required")
	}
	iss, err := url.Parse(o.Issuer)
	if err != nil || iss.Scheme == "" || iss.Host == "" {
		return nil, fmt.Errorf("new handler: invalid issuer %q", o.Issuer)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Cookies.Insecure && !isLocalhost(iss) {
		return nil, fmt.Errorf("new handler: insecure cookies are allowed only for an http://localhost issuer, not %q", o.Issuer)
	}
	if o.Cookies.Lifetime == 0 {
		o.Cookies.Lifetime = 7 * 24 * time.Hour
	}
	h := &Handler{opts: o, issuer: iss, log: o.Logger, mux: http.NewServeMux(), conns: newConnCache(o.Store)}
	if h.sessions, err = newSessionManager(o.Store, o.Provider, o.Cookies, iss.Scheme == "https"); err != nil {
		return nil, fmt.Errorf("new handler: %w", err)
	}
	for _, mount := range []func(*http.ServeMux){
		h.mountHealth,
		h.mountDiscovery,
		h.mountAuthorize,
		h.mountToken,
		h.mountUserinfo,
		h.mountRevoke,
		h.mountIntrospect,
		h.mountLogout,
		h.mountLogin,
		h.mountSignup,
		h.mountConsent,
		h.mountPasskeyAPI,
		h.mountPasskeyPages,
		h.mountAccount,
		h.mountLifecycle,
		h.mountMFA,
		h.mountActions,
		h.mountAccountMFA,
		h.mountAssets,
		h.mountDemo,
	} {
		mount(h.mux)
	}
	return h, nil
}

// ServeHTTP implements http.Handler. It records the client's address in
// the request context (connector.WithClientIP) for the connectors'
// brute-force protection. The address is the TCP peer: behind a reverse
// proxy, have the proxy (or an embedding application's middleware) set
// RemoteAddr to the real client, or every client shares the proxy's address.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if ip, err := netip.ParseAddr(clientIP(r)); err == nil {
		r = r.WithContext(connector.WithClientIP(r.Context(), ip.Unmap()))
	}
	h.mux.ServeHTTP(w, r)
}

// path returns the absolute path of an endpoint under the issuer's path.
func (h *Handler) path(p string) string {
	return strings.TrimSuffix(h.issuer.Path, "/") + p
}

// url returns the absolute URL of an endpoint.
func (h *Handler) url(p string) string {
	return strings.TrimSuffix(h.opts.Issuer, "/") + p
}

func isLocalhost(u *url.URL) bool {
	host := u.Hostname()
	return host == "localhost" || host == "127.0.0.1" || host == "::1" || strings.HasSuffix(host, ".localhost")
}
