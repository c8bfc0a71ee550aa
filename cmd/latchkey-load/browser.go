package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// browser is a cookie-jar client that follows redirects within the target
// and stops at any other URL (the relying party's redirect URI).
type browser struct {
	client *http.Client
	origin string
}

func newBrowser(target *url.URL, rt http.RoundTripper) (*browser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("cookie jar: %w", err)
	}
	c := &http.Client{
		Transport: rt,
		Jar:       jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != target.Host || len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return &browser{client: c, origin: target.Scheme + "://" + target.Host}, nil
}

// page is a response as the browser saw it after redirects.
type page struct {
	url      *url.URL
	status   int
	body     string
	location *url.URL
}

// statusError reports an unexpected page; its status feeds the report's
// errors by status.
type statusError struct {
	status int
	what   string
}

func (e *statusError) Error() string { return fmt.Sprintf("%s: status %d", e.what, e.status) }

func (b *browser) get(ctx context.Context, raw string) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Sec-Fetch-Site", "none")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	return b.do(req)
}

func (b *browser) do(req *http.Request) (*page, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", req.URL.Path, err)
	}
	p := &page{url: resp.Request.URL, status: resp.StatusCode, body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if p.location, err = resp.Request.URL.Parse(loc); err != nil {
			return nil, fmt.Errorf("parse Location: %w", err)
		}
	}
	return p, nil
}

// submit posts the page's first POST form with its inputs' values, those in
// set replacing or adding to them.
func (b *browser) submit(ctx context.Context, p *page, set map[string]string) (*page, error) {
	action, values, err := parseForm(p.body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.url.Path, err)
	}
	for k, v := range set {
		values.Set(k, v)
	}
	u, err := p.url.Parse(action)
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(values.Encode()))
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	return b.do(req)
}

// parseForm returns the action and input values of the first form whose
// method is POST.
func parseForm(body string) (action string, values url.Values, err error) {
	z := html.NewTokenizer(strings.NewReader(body))
	in := false
	values = url.Values{}
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				if in {
					return action, values, nil
				}
				return "", nil, errors.New("no POST form on the page")
			}
			return "", nil, fmt.Errorf("parse page: %w", z.Err())
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch {
			case t.Data == "form" && !in && strings.EqualFold(attr(t, "method"), "post"):
				in, action = true, attr(t, "action")
			case t.Data == "input" && in:
				if name := attr(t, "name"); name != "" && attr(t, "type") != "submit" {
					values.Set(name, attr(t, "value"))
				}
			}
		case html.EndTagToken:
			if in && z.Token().Data == "form" {
				return action, values, nil
			}
		}
	}
}

func attr(t html.Token, name string) string {
	for _, a := range t.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// login drives the hosted pages from an authorization URL to the redirect
// back to the client and returns that redirect's code. It signs the user up
// when signup is set.
func (b *browser) login(ctx context.Context, authURL, email, password string, signup bool) (string, error) {
	p, err := b.get(ctx, authURL)
	if err != nil {
		return "", err
	}
	if signup {
		if p.url.Path != "/u/signup" {
			return "", &statusError{status: p.status, what: "want the sign-up page at " + p.url.Path}
		}
		if p, err = b.submit(ctx, p, map[string]string{"email": email, "password": password}); err != nil {
			return "", err
		}
		return callbackCode(p)
	}
	if p.location == nil {
		if p.url.Path != "/u/login" {
			return "", &statusError{status: p.status, what: "want the login page at " + p.url.Path}
		}
		if p, err = b.submit(ctx, p, map[string]string{"username": email}); err != nil {
			return "", err
		}
		if p.url.Path != "/u/login/password" {
			return "", &statusError{status: p.status, what: "want the password page at " + p.url.Path}
		}
		if p, err = b.submit(ctx, p, map[string]string{"password": password}); err != nil {
			return "", err
		}
	}
	return callbackCode(p)
}

// callbackCode returns the code of a redirect to the client.
func callbackCode(p *page) (string, error) {
	if p.location == nil {
		return "", &statusError{status: p.status, what: "no redirect to the client from " + p.url.Path}
	}
	code := p.location.Query().Get("code")
	if code == "" {
		return "", &statusError{status: p.status, what: "redirect without a code: " + p.location.Query().Get("error")}
	}
	return code, nil
}
