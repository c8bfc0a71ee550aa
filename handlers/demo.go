package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/securecookie"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/templates"
)

// demoCookieLifetime bounds how long a demo login may take.
const demoCookieLifetime = 10 * time.Minute

// demo is the built-in relying party mounted at /demo when Options.Demo is
// set. It is an ordinary confidential client of this provider: it discovers
// the endpoints over HTTP, runs the authorization code flow with PKCE and a
// nonce, verifies the ID token with go-oidc and shows what it received. The
// client must be registered with the redirect URI issuer+"/demo/callback"
// and the post-logout redirect URI issuer+"/demo".
type demo struct {
	h          *Handler
	client     *http.Client
	cookie     *securecookie.SecureCookie
	cookieName string
	secure     bool

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use
}

// demoState is what the demo keeps in its cookie between the redirect to
// /authorize and the callback.
type demoState struct {
	State    string
	Nonce    string
	Verifier string
}

// mountDemo mounts the demo relying party:
//
//	GET /demo           the demo page with "Log in" and "Sign up"
//	GET /demo/login     start a login (authorization code + PKCE)
//	GET /demo/signup    start a sign-up (prompt=create)
//	GET /demo/callback  the redirect URI: exchange the code, show the tokens
func (h *Handler) mountDemo(mux *http.ServeMux) {
	if h.opts.Demo == nil {
		return
	}
	d := &demo{
		h:          h,
		client:     &http.Client{Timeout: 10 * time.Second},
		cookie:     securecookie.New(h.opts.Cookies.HashKey, h.opts.Cookies.BlockKey),
		cookieName: "__Host-latchkey-demo",
		secure:     !h.opts.Cookies.Insecure,
	}
	if !d.secure {
		d.cookieName = "latchkey_demo"
	}
	d.cookie.MaxAge(int(demoCookieLifetime / time.Second))
	mux.Handle("GET "+h.path("/demo"), h.page(d.home))
	mux.Handle("GET "+h.path("/demo/login"), h.page(func(w http.ResponseWriter, r *http.Request) { d.start(w, r, false) }))
	mux.Handle("GET "+h.path("/demo/signup"), h.page(func(w http.ResponseWriter, r *http.Request) { d.start(w, r, true) }))
	mux.Handle("GET "+h.path("/demo/callback"), h.page(d.callback))
}

func (d *demo) pageData() templates.DemoData {
	return templates.DemoData{
		LoginURL:  d.h.path("/demo/login"),
		SignupURL: d.h.path("/demo/signup"),
	}
}

func (d *demo) home(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, d.pageData())
}

func (d *demo) render(w http.ResponseWriter, r *http.Request, status int, data templates.DemoData) {
	d.h.render(w, r, status, func(wr io.Writer, p templates.Page) error {
		data.Page = p
		return d.h.opts.Templates.Demo(wr, data)
	}, "Latchkey demo", "")
}

// fail shows the demo page with a message; detail goes to the log only.
func (d *demo) fail(w http.ResponseWriter, r *http.Request, msg string, err error) {
	if err != nil {
		d.h.log.WarnContext(r.Context(), "demo login failed", "err", err)
	}
	data := d.pageData()
	data.Error = msg
	d.render(w, r, http.StatusBadRequest, data)
}

// oauth returns the discovered provider and the client configuration. The
// discovery document is fetched from this same server over HTTP.
func (d *demo) oauth(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.provider == nil {
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, d.client), d.h.opts.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("discover provider: %w", err)
		}
		d.provider = p
	}
	ep := d.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return d.provider, &oauth2.Config{
		ClientID:     d.h.opts.Demo.ClientID,
		ClientSecret: d.h.opts.Demo.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  d.h.url("/demo/callback"),
		Scopes:       []string{oidc.ScopeOpenID, "profile", "email"},
	}, nil
}

func (d *demo) start(w http.ResponseWriter, r *http.Request, signup bool) {
	_, cfg, err := d.oauth(r.Context())
	if err != nil {
		d.h.renderInternalError(w, r, err)
		return
	}
	st := demoState{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier()}
	enc, err := d.cookie.Encode(d.cookieName, st)
	if err != nil {
		d.h.renderInternalError(w, r, fmt.Errorf("encode demo cookie: %w", err))
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: d.cookieName, Value: enc, Path: "/", MaxAge: int(demoCookieLifetime / time.Second),
		Secure: d.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)}
	if signup {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "create"))
	}
	http.Redirect(w, r, cfg.AuthCodeURL(st.State, opts...), http.StatusFound)
}

func (d *demo) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// The state cookie is single use.
	http.SetCookie(w, &http.Cookie{Name: d.cookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: d.secure, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	var st demoState
	c, err := r.Cookie(d.cookieName)
	if err != nil || d.cookie.Decode(d.cookieName, c.Value, &st) != nil {
		d.fail(w, r, "This login took too long or was started in another browser. Try again.", nil)
		return
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		d.fail(w, r, "The state parameter does not match this browser's login. Try again.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		msg := e
		if desc := q.Get("error_description"); desc != "" {
			msg += ": " + desc
		}
		d.fail(w, r, "The provider answered with an error: "+msg, nil)
		return
	}
	if iss := q.Get("iss"); iss != "" && iss != d.h.opts.Issuer {
		d.fail(w, r, "The response came from another issuer (RFC 9207).", nil)
		return
	}
	ctx := oidc.ClientContext(r.Context(), d.client)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, d.client)
	p, cfg, err := d.oauth(ctx)
	if err != nil {
		d.h.renderInternalError(w, r, err)
		return
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			d.fail(w, r, "The token request failed: "+re.ErrorCode+" "+re.ErrorDescription, err)
			return
		}
		d.fail(w, r, "The token request failed.", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		d.fail(w, r, "The token response has no ID token.", nil)
		return
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		d.fail(w, r, "The ID token did not verify.", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		d.fail(w, r, "The ID token's nonce does not match this login.", nil)
		return
	}
	header, claims, err := decodeJWT(raw)
	if err != nil {
		d.fail(w, r, "The ID token could not be decoded.", err)
		return
	}
	data := d.pageData()
	data.LoggedIn = true
	data.Subject = idt.Subject
	data.IDTokenHeader = header
	data.IDTokenClaims = claims
	if ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		d.h.log.WarnContext(r.Context(), "demo userinfo failed", "err", err)
		data.UserInfo = "(the userinfo request failed: see the server log)"
	} else {
		var m json.RawMessage
		if err := ui.Claims(&m); err == nil {
			data.UserInfo = indentJSON(m)
		}
	}
	data.LogoutURL = d.logoutURL(p, raw)
	d.render(w, r, http.StatusOK, data)
}

// logoutURL is the RP-initiated logout link: the provider's
// end_session_endpoint (or /oidc/logout) with the ID token as hint and the
// demo page as post-logout redirect.
func (d *demo) logoutURL(p *oidc.Provider, idToken string) string {
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	end := d.h.url("/oidc/logout")
	if err := p.Claims(&meta); err == nil && meta.EndSession != "" {
		end = meta.EndSession
	}
	q := url.Values{}
	q.Set("id_token_hint", idToken)
	q.Set("post_logout_redirect_uri", d.h.url("/demo"))
	q.Set("client_id", d.h.opts.Demo.ClientID)
	q.Set("state", randomString())
	sep := "?"
	if strings.Contains(end, "?") {
		sep = "&"
	}
	return end + sep + q.Encode()
}

// decodeJWT returns a compact JWS's header and payload as indented JSON,
// for display only (the signature was verified before).
func decodeJWT(raw string) (header, payload string, err error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", "", errors.New("decode jwt: not a compact JWS")
	}
	var out [2]string
	for i := range out {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", "", fmt.Errorf("decode jwt: %w", err)
		}
		if !json.Valid(b) {
			return "", "", errors.New("decode jwt: part is not JSON")
		}
		out[i] = indentJSON(b)
	}
	return out[0], out[1], nil
}

func indentJSON(b []byte) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return string(b)
	}
	return buf.String()
}

// randomString is 32 random bytes, base64url encoded.
func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
