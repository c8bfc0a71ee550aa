package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scenarioNames are the scenarios this tool knows.
var scenarioNames = []string{"client_credentials", "introspect", "refresh", "code", "login", "passkey"}

// entry is one scenario run by some workers.
type entry struct {
	name    string
	workers int
}

// step is a set of entries run at the same time.
type step []entry

func (s step) String() string {
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = fmt.Sprintf("%s:%d", e.name, e.workers)
	}
	return strings.Join(parts, ",")
}

func planSteps(o options) []step {
	steps, _ := planStepsChecked(o)
	return steps
}

// planStepsChecked turns -scenario and -c into steps: name:N entries form
// one step run together; each bare name runs once per concurrency.
func planStepsChecked(o options) ([]step, error) {
	var together step
	var steps []step
	for _, raw := range strings.Split(o.scenarios, ",") {
		name, n, hasN := strings.Cut(strings.TrimSpace(raw), ":")
		known := false
		for _, k := range scenarioNames {
			known = known || k == name
		}
		if !known {
			return nil, fmt.Errorf("-scenario: unknown %q (want one of %s)", name, strings.Join(scenarioNames, ", "))
		}
		if !hasN {
			for _, c := range o.concurrency {
				steps = append(steps, step{{name: name, workers: c}})
			}
			continue
		}
		w, err := strconv.Atoi(n)
		if err != nil || w < 1 || w > 4096 {
			return nil, fmt.Errorf("-scenario: %q: workers must be in 1..4096", raw)
		}
		together = append(together, entry{name: name, workers: w})
	}
	if len(together) > 0 {
		steps = append(steps, together)
	}
	return steps, nil
}

// loader holds what scenarios share: options, the transport, and set-up
// state made once per run.
type loader struct {
	o  options
	rt *http.Transport
	// hc is the API client (no cookies, no redirects).
	hc *http.Client

	setupOnce sync.Once
	setupErr  error
	session   *browser // logged in as the user, for prompt=none codes
}

func newLoader(o options) *loader {
	max := 0
	for _, st := range planSteps(o) {
		n := 0
		for _, e := range st {
			n += e.workers
		}
		max = maxInt(max, n)
	}
	rt := newTransport(max + 16)
	return &loader{
		o:  o,
		rt: rt,
		hc: &http.Client{Transport: rt, Timeout: o.timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// op is one timed operation; it returns the HTTP status of its last
// response (0 for a transport error).
type op func(ctx context.Context) (status int, err error)

// worker makes a fresh op for one worker (its own state: a refresh chain).
type worker func(ctx context.Context) (op, error)

// runStep sets up every entry, warms up, then measures until the deadline
// or each entry's -n.
func (l *loader) runStep(ctx context.Context, st step) ([]*report, error) {
	type running struct {
		e       entry
		ops     []op
		limit   int64
		done    atomic.Int64
		results []*stats
		// last is when, after the start, the entry's last operation ended.
		last atomic.Int64
	}
	var rs []*running
	for _, e := range st {
		mk, limit, err := l.scenario(ctx, e)
		if err != nil {
			return nil, err
		}
		r := &running{e: e, limit: limit}
		for range e.workers {
			o, err := mk(ctx)
			if err != nil {
				return nil, fmt.Errorf("set up %s worker: %w", e.name, err)
			}
			r.ops = append(r.ops, o)
			r.results = append(r.results, &stats{})
		}
		rs = append(rs, r)
	}
	// drive runs the workers for d. At the deadline no new operation
	// starts, and those in flight finish (cancelling them would measure
	// hang-ups, not load); ctx's end (an interrupt) cancels them.
	drive := func(measure bool, d time.Duration) time.Duration {
		var stopped atomic.Bool
		timer := time.AfterFunc(d, func() { stopped.Store(true) })
		defer timer.Stop()
		var wg sync.WaitGroup
		start := time.Now()
		for _, r := range rs {
			if !measure && r.e.name == "code" {
				continue // codes are single use; no warm-up
			}
			for i, o := range r.ops {
				wg.Go(func() {
					for !stopped.Load() && ctx.Err() == nil {
						if measure && r.limit > 0 && r.done.Add(1) > r.limit {
							return
						}
						t0 := time.Now()
						status, err := o(ctx)
						if ctx.Err() != nil && err != nil {
							return // interrupted: not a result
						}
						if measure {
							r.results[i].add(time.Since(t0), status, err)
							end := int64(time.Since(start))
							for {
								old := r.last.Load()
								if end <= old || r.last.CompareAndSwap(old, end) {
									break
								}
							}
						}
					}
				})
			}
		}
		wg.Wait()
		return time.Since(start)
	}
	if l.o.warmup > 0 {
		drive(false, l.o.warmup)
	}
	elapsed := drive(true, l.o.duration)
	var out []*report
	for _, r := range rs {
		// Each entry's rate is over its own span: in a mixed step a slow
		// login in flight at the deadline does not dilute the token rate.
		span := time.Duration(r.last.Load())
		if span <= 0 {
			span = elapsed
		}
		out = append(out, newReport(r.e, span, r.results))
	}
	return out, nil
}

// scenario returns the worker factory of e and its operation limit.
func (l *loader) scenario(ctx context.Context, e entry) (worker, int64, error) {
	limit := int64(l.o.n)
	switch e.name {
	case "client_credentials":
		return func(context.Context) (op, error) { return l.clientCredentials, nil }, limit, nil
	case "introspect":
		tok, err := l.accessToken(ctx)
		if err != nil {
			return nil, 0, err
		}
		return func(context.Context) (op, error) {
			return func(ctx context.Context) (int, error) { return l.introspect(ctx, tok) }, nil
		}, limit, nil
	case "refresh":
		return func(ctx context.Context) (op, error) { return l.refreshWorker(ctx) }, limit, nil
	case "code":
		if limit == 0 {
			limit = 2000
		}
		codes, err := l.makeCodes(ctx, int(limit), "openid email")
		if err != nil {
			return nil, 0, err
		}
		return func(context.Context) (op, error) {
			return func(ctx context.Context) (int, error) {
				select {
				case c := <-codes:
					st, _, err := l.exchange(ctx, c)
					return st, err
				default:
					return 0, errors.New("out of codes")
				}
			}, nil
		}, limit, nil
	case "passkey":
		return l.passkeyWorker, limit, nil
	case "login":
		if err := l.setup(ctx); err != nil {
			return nil, 0, err
		}
		return func(context.Context) (op, error) { return l.login, nil }, limit, nil
	}
	return nil, 0, fmt.Errorf("unknown scenario %q", e.name)
}

// tokenResponse is the part of a token response the scenarios read.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Active       *bool  `json:"active"`
}

// post sends a form authenticated with client_secret_basic and decodes a
// 200 JSON answer.
func (l *loader) post(ctx context.Context, path string, form url.Values, id, secret string) (int, tokenResponse, error) {
	var tr tokenResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.o.target.String()+path, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, tr, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := l.hc.Do(req)
	if err != nil {
		return 0, tr, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, tr, fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, tr, &statusError{status: resp.StatusCode, what: "POST " + path + ": " + excerpt(body)}
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return resp.StatusCode, tr, fmt.Errorf("decode %s: %w", path, err)
	}
	return resp.StatusCode, tr, nil
}

func excerpt(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

func (l *loader) clientCredentials(ctx context.Context) (int, error) {
	st, tr, err := l.post(ctx, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {l.o.scope}}, l.o.machineID, l.o.machineKey)
	if err == nil && tr.AccessToken == "" {
		err = errors.New("client_credentials: no access_token")
	}
	return st, err
}

func (l *loader) accessToken(ctx context.Context) (string, error) {
	st, tr, err := l.post(ctx, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "scope": {l.o.scope}}, l.o.machineID, l.o.machineKey)
	if err != nil {
		return "", fmt.Errorf("client_credentials (status %d): %w", st, err)
	}
	return tr.AccessToken, nil
}

func (l *loader) introspect(ctx context.Context, token string) (int, error) {
	st, tr, err := l.post(ctx, "/oauth/introspect", url.Values{"token": {token}}, l.o.webID, l.o.webKey)
	if err == nil && (tr.Active == nil || !*tr.Active) {
		err = errors.New("introspection: token not active")
	}
	return st, err
}

func (l *loader) exchange(ctx context.Context, code string) (int, tokenResponse, error) {
	return l.post(ctx, "/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {l.o.redirectURI},
	}, l.o.webID, l.o.webKey)
}

// refreshWorker starts a refresh chain; the op rotates it, and starts a new
// chain (untimed) when a refresh fails.
func (l *loader) refreshWorker(ctx context.Context) (op, error) {
	chain := func(ctx context.Context) (string, error) {
		codes, err := l.makeCodes(ctx, 1, "openid offline_access")
		if err != nil {
			return "", err
		}
		st, tr, err := l.exchange(ctx, <-codes)
		if err != nil {
			return "", fmt.Errorf("code exchange (status %d): %w", st, err)
		}
		if tr.RefreshToken == "" {
			return "", errors.New("code exchange gave no refresh token")
		}
		return tr.RefreshToken, nil
	}
	rt, err := chain(ctx)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (int, error) {
		st, tr, err := l.post(ctx, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, l.o.webID, l.o.webKey)
		if err == nil && tr.RefreshToken == "" {
			err = errors.New("refresh: no refresh_token")
		}
		if err != nil {
			if next, cerr := chain(context.WithoutCancel(ctx)); cerr == nil {
				rt = next
			}
			return st, err
		}
		rt = tr.RefreshToken
		return st, nil
	}, nil
}

// setup makes sure the user exists (signing up through the page) and keeps
// a logged-in browser for prompt=none codes.
func (l *loader) setup(ctx context.Context) error {
	l.setupOnce.Do(func() {
		b, err := newBrowser(l.o.target, l.rt)
		if err != nil {
			l.setupErr = err
			return
		}
		_, err = b.login(ctx, l.authURL("openid email", nil), l.o.email, l.o.password, false)
		var se *statusError
		if errors.As(err, &se) {
			// Unknown user or wrong page: sign up instead.
			b, err = newBrowser(l.o.target, l.rt)
			if err == nil {
				_, err = b.login(ctx, l.authURL("openid email", url.Values{"prompt": {"create"}}), l.o.email, l.o.password, true)
			}
		}
		if err != nil {
			l.setupErr = fmt.Errorf("log in or sign up %s: %w", l.o.email, err)
			return
		}
		l.session = b
	})
	return l.setupErr
}

// makeCodes returns n authorization codes made with prompt=none in the
// logged-in browser, 8 requests at a time.
func (l *loader) makeCodes(ctx context.Context, n int, scope string) (chan string, error) {
	if err := l.setup(ctx); err != nil {
		return nil, err
	}
	codes := make(chan string, n)
	var wg sync.WaitGroup
	var first atomic.Pointer[error]
	var next atomic.Int64
	for range min(n, 8) {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				p, err := l.session.get(ctx, l.authURL(scope, url.Values{"prompt": {"none"}}))
				if err == nil {
					var c string
					if c, err = callbackCode(p); err == nil {
						codes <- c
						continue
					}
				}
				first.CompareAndSwap(nil, &err)
				return
			}
		})
	}
	wg.Wait()
	if e := first.Load(); e != nil {
		return nil, fmt.Errorf("make codes: %w", *e)
	}
	return codes, nil
}

func (l *loader) authURL(scope string, extra url.Values) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {l.o.webID}, "redirect_uri": {l.o.redirectURI},
		"scope": {scope}, "state": {randomString()}, "nonce": {randomString()},
	}
	for k, v := range extra {
		q[k] = v
	}
	return l.o.target.String() + "/authorize?" + q.Encode()
}

func randomString() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// login is a whole login by a new browser: the pages, then the code
// exchange.
func (l *loader) login(ctx context.Context) (int, error) {
	b, err := newBrowser(l.o.target, l.rt)
	if err != nil {
		return 0, err
	}
	code, err := b.login(ctx, l.authURL("openid email", nil), l.o.email, l.o.password, false)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) {
			return se.status, err
		}
		return 0, err
	}
	st, tr, err := l.exchange(ctx, code)
	if err == nil && tr.IDToken == "" {
		err = errors.New("login: no id_token")
	}
	return st, err
}
