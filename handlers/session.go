package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/gorilla/sessions"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

// Browser-session cookie names. The __Host- prefix makes the browser insist
// on Secure, Path=/ and no Domain, so no sibling host can plant or read it.
const (
	sessionCookieSecure   = "__Host-latchkey"
	sessionCookieInsecure = "latchkey_session"
	// sessionTokenKey is the key of the random token in the cookie's values.
	sessionTokenKey = "t"
)

// sessionManager keeps browser sessions server-side (storage.Session) and
// puts only a random token in an authenticated, encrypted cookie
// (gorilla/sessions over securecookie). The store keeps the token's SHA-256,
// so a database leak yields no usable cookie, and a session can be revoked
// by deleting its row.
type sessionManager struct {
	store    storage.Store
	cookies  *sessions.CookieStore
	name     string
	secure   bool
	lifetime time.Duration
	now      func() time.Time
}

// newSessionManager checks the cookie keys and builds the manager. Secure
// cookies need an https issuer; c.Insecure is the development opt-out that
// New allows only for http://localhost.
//
// The provider is taken for its package's evidence mapping
// (provider.EvidenceClaims); the manager keeps no reference to it.
func newSessionManager(store storage.Store, _ *provider.Provider, c CookieOptions, https bool) (*sessionManager, error) {
	if n := len(c.HashKey); n < 32 {
		return nil, fmt.Errorf("new session manager: cookie hash key must be 32 or 64 bytes, got %d", n)
	}
	switch len(c.BlockKey) {
	case 16, 24, 32:
	default:
		return nil, fmt.Errorf("new session manager: cookie block key must be 32 bytes, got %d", len(c.BlockKey))
	}
	if !https && !c.Insecure {
		return nil, errors.New("new session manager: an http issuer needs insecure cookies (development on localhost only)")
	}
	if c.Lifetime <= 0 {
		return nil, errors.New("new session manager: session lifetime must be positive")
	}
	m := &sessionManager{
		store:    store,
		secure:   !c.Insecure,
		lifetime: c.Lifetime,
		now:      time.Now,
		name:     sessionCookieSecure,
	}
	if c.Insecure {
		m.name = sessionCookieInsecure
	}
	m.cookies = sessions.NewCookieStore(c.HashKey, c.BlockKey)
	// Gorilla's defaults are SameSite=None, HttpOnly=false and 30 days:
	// override every attribute explicitly.
	m.cookies.Options = &sessions.Options{
		Path:     "/",
		Domain:   "",
		MaxAge:   int(c.Lifetime / time.Second),
		Secure:   m.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	// MaxAge also bounds the timestamp inside the signed value.
	m.cookies.MaxAge(m.cookies.Options.MaxAge)
	return m, nil
}

// token returns the random token from the request's cookie, if it has a
// valid one.
func (m *sessionManager) token(r *http.Request) ([]byte, bool) {
	// New, not Get: Get caches in a registry that rewrites *r.
	s, err := m.cookies.New(r, m.name)
	if err != nil || s.IsNew {
		return nil, false
	}
	tok, ok := s.Values[sessionTokenKey].([]byte)
	if !ok || len(tok) != 32 {
		return nil, false
	}
	return tok, true
}

// current returns the request's unexpired browser session.
func (m *sessionManager) current(r *http.Request) (storage.Session, bool) {
	tok, ok := m.token(r)
	if !ok {
		return storage.Session{}, false
	}
	hash := sha256.Sum256(tok)
	s, err := m.store.GetSessionByTokenHash(r.Context(), hash[:])
	if err != nil {
		return storage.Session{}, false
	}
	if !s.ExpiresAt.IsZero() && !m.now().Before(s.ExpiresAt) {
		return storage.Session{}, false
	}
	return s, true
}

// start begins a new browser session for u after a successful login. Every
// login gets a fresh token and a fresh session ID (no session fixation); the
// session the browser had before, if any, is deleted.
func (m *sessionManager) start(w http.ResponseWriter, r *http.Request, u storage.User, connectionID string, methods []connector.Method) (storage.Session, error) {
	s, tok, err := m.create(r.Context(), r, u, connectionID, methods)
	if err != nil {
		return storage.Session{}, err
	}
	if err := m.setCookie(w, r, tok); err != nil {
		return storage.Session{}, err
	}
	return s, nil
}

// create is start without the cookie: it stores the new session (deleting
// the browser's previous one) with ctx, which may carry the caller's
// transaction, and returns the session token for setCookie, to be called
// once that transaction committed.
func (m *sessionManager) create(ctx context.Context, r *http.Request, u storage.User, connectionID string, methods []connector.Method) (storage.Session, []byte, error) {
	if old, ok := m.current(r.WithContext(ctx)); ok {
		if err := m.store.DeleteSession(ctx, old.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Session{}, nil, fmt.Errorf("start session: delete previous session: %w", err)
		}
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return storage.Session{}, nil, fmt.Errorf("start session: %w", err)
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return storage.Session{}, nil, fmt.Errorf("start session: %w", err)
	}
	evidence, err := json.Marshal(methods)
	if err != nil {
		return storage.Session{}, nil, fmt.Errorf("start session: encode evidence: %w", err)
	}
	amr, acr := provider.EvidenceClaims(methods)
	now := m.now().UTC()
	hash := sha256.Sum256(tok)
	s, err := m.store.CreateSession(ctx, storage.Session{
		ID:           base64.RawURLEncoding.EncodeToString(id),
		TokenHash:    hash[:],
		UserID:       u.ID,
		ConnectionID: connectionID,
		AuthTime:     now,
		AMR:          amr,
		ACR:          acr,
		Evidence:     evidence,
		IP:           clientIP(r),
		UserAgent:    truncate(r.UserAgent(), 512),
		CreatedAt:    now,
		LastSeenAt:   now,
		ExpiresAt:    now.Add(m.lifetime),
	})
	if err != nil {
		return storage.Session{}, nil, fmt.Errorf("start session: %w", err)
	}
	return s, tok, nil
}

// setCookie gives the browser the session token of a stored session.
func (m *sessionManager) setCookie(w http.ResponseWriter, r *http.Request, tok []byte) error {
	c := sessions.NewSession(m.cookies, m.name)
	opts := *m.cookies.Options
	c.Options = &opts
	c.Values[sessionTokenKey] = tok
	if err := m.cookies.Save(r, w, c); err != nil {
		return fmt.Errorf("start session: set cookie: %w", err)
	}
	return nil
}

// end deletes the request's browser session, if any, and expires the
// cookie.
func (m *sessionManager) end(w http.ResponseWriter, r *http.Request) error {
	var err error
	if tok, ok := m.token(r); ok {
		hash := sha256.Sum256(tok)
		if s, lookupErr := m.store.GetSessionByTokenHash(r.Context(), hash[:]); lookupErr == nil {
			if delErr := m.store.DeleteSession(r.Context(), s.ID); delErr != nil && !errors.Is(delErr, storage.ErrNotFound) {
				err = fmt.Errorf("end session: %w", delErr)
			}
		} else if !errors.Is(lookupErr, storage.ErrNotFound) {
			err = fmt.Errorf("end session: %w", lookupErr)
		}
	}
	m.expireCookie(w)
	return err
}

// expireCookie tells the browser to drop the session cookie.
func (m *sessionManager) expireCookie(w http.ResponseWriter) {
	opts := *m.cookies.Options
	opts.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(m.name, "", &opts))
}

// clientIP is the peer address of the request. Forwarded headers are not
// trusted here; behind a reverse proxy, a trusted-proxy middleware in front
// of the Handler must set RemoteAddr.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
