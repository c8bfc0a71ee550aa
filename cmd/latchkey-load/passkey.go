package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
)

// passkeyRun tells the users of one run apart from those of earlier runs
// (sign-up needs a new email).
var passkeyRun = randomString()

// passkeyUsers numbers the users signed up by this run.
var passkeyUsers atomic.Int64

// passkeyWorker signs a new user up with a passkey through the JSON API
// (untimed) and returns the op: a whole passkey login of that user by a
// fresh browser with the software authenticator (discoverable: /authorize
// to the login page, login/begin, the ES256 assertion, login/finish, the
// resume redirect with the code, and the code exchange). One user per
// worker: logins of different users do not queue on one credential's row
// lock, as real traffic would not.
func (l *loader) passkeyWorker(ctx context.Context) (op, error) {
	auth := passkeytest.New(l.o.target.Scheme + "://" + l.o.target.Host)
	email := fmt.Sprintf("pk-load-%s-%d@example.com", passkeyRun, passkeyUsers.Add(1))
	if err := l.passkeySignup(ctx, auth, email); err != nil {
		return nil, fmt.Errorf("passkey sign-up of %s (is -target http://localhost:PORT with the issuer on localhost? WebAuthn refuses IP addresses): %w", email, err)
	}
	return func(ctx context.Context) (int, error) {
		code, st, err := l.passkeyLogin(ctx, auth)
		if err != nil {
			return st, err
		}
		st, tr, err := l.exchange(ctx, code)
		if err == nil && tr.IDToken == "" {
			err = errors.New("passkey login: no id_token")
		}
		return st, err
	}, nil
}

// passkeySignup signs email up on a sign-up page (prompt=create) with a
// passkey made by auth.
func (l *loader) passkeySignup(ctx context.Context, auth *passkeytest.Authenticator, email string) error {
	b, err := newBrowser(l.o.target, l.rt)
	if err != nil {
		return err
	}
	p, err := b.get(ctx, l.authURL("openid email", url.Values{"prompt": {"create"}}))
	if err != nil {
		return err
	}
	state := p.url.Query().Get("state")
	if p.url.Path != "/u/signup" || state == "" {
		return &statusError{status: p.status, what: "want the sign-up page at " + p.url.String()}
	}
	var c struct {
		Ceremony  string          `json:"ceremony"`
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if st, err := b.api(ctx, "/passkey/register/begin", map[string]any{"state": state, "email": email}, &c); err != nil {
		return fmt.Errorf("register/begin (status %d): %w", st, err)
	}
	resp, _, err := auth.Create(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		return fmt.Errorf("authenticator create: %w", err)
	}
	var fin struct {
		Redirect string `json:"redirect"`
	}
	if st, err := b.api(ctx, "/passkey/register/finish", map[string]any{"state": state, "ceremony": c.Ceremony, "credential": json.RawMessage(resp)}, &fin); err != nil {
		return fmt.Errorf("register/finish (status %d): %w", st, err)
	}
	if p, err = b.get(ctx, b.resolve(fin.Redirect)); err != nil {
		return err
	}
	_, err = callbackCode(p)
	return err
}

// passkeyLogin logs the authenticator's user in by a fresh browser and
// returns the code.
func (l *loader) passkeyLogin(ctx context.Context, auth *passkeytest.Authenticator) (string, int, error) {
	b, err := newBrowser(l.o.target, l.rt)
	if err != nil {
		return "", 0, err
	}
	p, err := b.get(ctx, l.authURL("openid email", nil))
	if err != nil {
		return "", 0, err
	}
	state := p.url.Query().Get("state")
	if p.url.Path != "/u/login" || state == "" {
		return "", p.status, &statusError{status: p.status, what: "want the login page at " + p.url.String()}
	}
	var c struct {
		Ceremony  string          `json:"ceremony"`
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if st, err := b.api(ctx, "/passkey/login/begin", map[string]any{"state": state}, &c); err != nil {
		return "", st, fmt.Errorf("login/begin: %w", err)
	}
	resp, err := auth.Get(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		return "", 0, fmt.Errorf("authenticator get: %w", err)
	}
	var fin struct {
		Redirect string `json:"redirect"`
	}
	if st, err := b.api(ctx, "/passkey/login/finish", map[string]any{"state": state, "ceremony": c.Ceremony, "credential": json.RawMessage(resp)}, &fin); err != nil {
		return "", st, fmt.Errorf("login/finish: %w", err)
	}
	if p, err = b.get(ctx, b.resolve(fin.Redirect)); err != nil {
		return "", 0, err
	}
	code, err := callbackCode(p)
	return code, p.status, err
}

// api posts body as JSON to a passkey API endpoint with the headers of a
// same-origin fetch and decodes a 200 answer into out.
func (b *browser) api(ctx context.Context, path string, body, out any) (int, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.origin+path, bytes.NewReader(raw))
	if err != nil {
		return 0, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Sec-Fetch-Mode", "cors")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, &statusError{status: resp.StatusCode, what: "POST " + path + ": " + excerpt(data)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, fmt.Errorf("decode %s: %w", path, err)
	}
	return resp.StatusCode, nil
}

// resolve makes a redirect of the API (relative to the site) absolute.
func (b *browser) resolve(ref string) string {
	base, err := url.Parse(b.origin + "/")
	if err != nil {
		return ref
	}
	u, err := base.Parse(ref)
	if err != nil {
		return ref
	}
	return u.String()
}
