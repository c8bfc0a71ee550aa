package e2e

import (
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// browser is a stand-in for a person's browser: a cookie jar, redirects
// followed while they stay on the provider, and stopped at the first
// redirect leaving it (to a relying party's redirect URI).
type browser struct {
	client *http.Client
	// setCookies records every Set-Cookie the provider sent, with its
	// attributes (the jar keeps only names and values).
	setCookies *[]*http.Cookie
	// host is the provider's host:port.
	host string
	// origin is the provider's origin, sent on form posts as a browser does.
	origin string
}

func (e *env) newBrowser(t testing.TB) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("cookie jar: %v", err)
	}
	u, err := url.Parse(e.issuer)
	if err != nil {
		t.Fatalf("parse issuer: %v", err)
	}
	b := &browser{host: u.Host, origin: u.Scheme + "://" + u.Host, setCookies: new([]*http.Cookie)}
	b.client = &http.Client{
		Jar:       jar,
		Transport: cookieRecorder{b.setCookies},
		Timeout:   30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != b.host {
				return http.ErrUseLastResponse
			}
			if len(via) >= 20 {
				return errors.New("stopped after 20 redirects")
			}
			return nil
		},
	}
	return b
}

// page is the browser's view after a navigation: either an HTML page of the
// provider or a redirect leaving it (Location set).
type page struct {
	// URL is the URL that produced this response (after redirects).
	URL    *url.URL
	Status int
	Header http.Header
	Body   string
	// Location is the absolute redirect target when the response is a
	// redirect out of the provider; nil otherwise.
	Location *url.URL
}

// path is the page's URL path.
func (p *page) path() string { return p.URL.Path }

// get navigates to rawURL.
func (b *browser) get(t testing.TB, rawURL string) *page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Sec-Fetch-Site", "none")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	return b.do(t, req)
}

func (b *browser) do(t testing.TB, req *http.Request) *page {
	t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", req.URL, err)
	}
	p := &page{URL: resp.Request.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			t.Fatalf("parse Location %q: %v", loc, err)
		}
		p.Location = u
	}
	return p
}

// fields are form values to set, by input name.
type fields map[string]string

// submit fills in the page's form and submits it as a browser would: every
// input keeps its value (hidden CSRF token and state included) unless set
// in f. A key of the form "name=value" in f that names a submit button
// presses that button. Setting a field the form does not have fails the
// test, so a renamed input is noticed.
func (b *browser) submit(t testing.TB, p *page, f fields) *page {
	t.Helper()
	return b.submitWith(t, p, f, nil)
}

// submitWith is submit with extra or replaced request headers (a forged
// Origin, say).
func (b *browser) submitWith(t testing.TB, p *page, f fields, hdr http.Header) *page {
	t.Helper()
	forms := parseForms(t, p)
	if len(forms) == 0 {
		t.Fatalf("no form on %s (status %d):\n%s", p.URL, p.Status, p.Body)
	}
	// Pick the first form that has every field (and button) asked for.
	var chosen *form
	for i := range forms {
		if forms[i].has(f) {
			chosen = &forms[i]
			break
		}
	}
	if chosen == nil {
		t.Fatalf("no form on %s has fields %v; forms: %+v", p.URL, keys(f), forms)
	}
	vals := url.Values{}
	for _, in := range chosen.inputs {
		if in.button || in.name == "" {
			continue
		}
		if (in.typ == "checkbox" || in.typ == "radio") && !in.checked {
			continue
		}
		vals.Add(in.name, in.value)
	}
	for k, v := range f {
		if name, value, ok := strings.Cut(k, "="); ok && v == "" {
			vals.Set(name, value)
			continue
		}
		vals.Set(k, v)
	}
	action, err := p.URL.Parse(chosen.action)
	if err != nil {
		t.Fatalf("parse form action %q: %v", chosen.action, err)
	}
	method := strings.ToUpper(chosen.method)
	if method == "" {
		method = http.MethodGet
	}
	var req *http.Request
	if method == http.MethodPost {
		req, err = http.NewRequest(method, action.String(), strings.NewReader(vals.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", b.origin)
		}
	} else {
		action.RawQuery = vals.Encode()
		req, err = http.NewRequest(method, action.String(), nil)
	}
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return b.do(t, req)
}

// press is the field key that presses the submit button name=value.
func press(name, value string) string { return name + "=" + value }

type input struct {
	name, typ, value string
	checked, button  bool
}

type form struct {
	action, method string
	inputs         []input
}

func (f form) has(want fields) bool {
	for k, v := range want {
		name, value, isButton := strings.Cut(k, "=")
		isButton = isButton && v == ""
		if !slices.ContainsFunc(f.inputs, func(in input) bool {
			if isButton {
				return in.button && in.name == name && in.value == value
			}
			return in.name == name && !in.button
		}) {
			return false
		}
	}
	return true
}

func keys(f fields) []string {
	var ks []string
	for k := range f {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// parseForms returns the forms of an HTML page.
func parseForms(t testing.TB, p *page) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		t.Fatalf("parse HTML of %s: %v", p.URL, err)
	}
	var forms []form
	var walk func(n *html.Node, cur *form)
	walk = func(n *html.Node, cur *form) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				forms = append(forms, form{action: attr(n, "action"), method: attr(n, "method")})
				idx := len(forms) - 1
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, &forms[idx])
				}
				return
			case atom.Input:
				if cur != nil {
					typ := strings.ToLower(attr(n, "type"))
					_, checked := attrOK(n, "checked")
					cur.inputs = append(cur.inputs, input{
						name: attr(n, "name"), typ: typ, value: attr(n, "value"), checked: checked,
						button: typ == "submit" || typ == "button" || typ == "image" || typ == "reset",
					})
				}
			case atom.Button:
				if cur != nil {
					typ := strings.ToLower(attr(n, "type"))
					if typ == "" || typ == "submit" {
						cur.inputs = append(cur.inputs, input{name: attr(n, "name"), typ: "submit", value: attr(n, "value"), button: true})
					}
				}
			case atom.Textarea:
				if cur != nil {
					var sb strings.Builder
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						sb.WriteString(c.Data)
					}
					cur.inputs = append(cur.inputs, input{name: attr(n, "name"), typ: "textarea", value: sb.String()})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	return forms
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// callback is an authorization response as the relying party receives it.
type callback struct {
	URL              *url.URL
	Code             string
	State            string
	Iss              string
	Error            string
	ErrorDescription string
}

// callback checks that the page is a redirect to redirectURI and parses the
// authorization response from its query.
func (p *page) callback(t testing.TB, redirectURI string) callback {
	t.Helper()
	if p.Location == nil {
		t.Fatalf("want a redirect to %s, got %s with status %d:\n%s", redirectURI, p.URL, p.Status, excerpt(p.Body))
	}
	u := *p.Location
	q := u.Query()
	if len(q) == 0 && u.Fragment != "" {
		// Errors for response types other than code use the fragment.
		q, _ = url.ParseQuery(u.Fragment)
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	if u.String() != redirectURI {
		t.Fatalf("redirect to %s, want %s", p.Location, redirectURI)
	}
	return callback{
		URL: p.Location, Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss"),
		Error: q.Get("error"), ErrorDescription: q.Get("error_description"),
	}
}

// excerpt shortens a body for failure messages.
func excerpt(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}

// login drives the identifier-first pages from the login page p: the email,
// then the password. It returns the page after the password step.
func (b *browser) login(t testing.TB, p *page, email, password string) *page {
	t.Helper()
	if p.path() != "/u/login" {
		t.Fatalf("want the login page, got %s (status %d):\n%s", p.URL, p.Status, excerpt(p.Body))
	}
	p = b.submit(t, p, fields{"username": email})
	if p.path() != "/u/login/password" {
		t.Fatalf("after the email: want the password page, got %s (status %d):\n%s", p.URL, p.Status, excerpt(p.Body))
	}
	return b.submit(t, p, fields{"password": password})
}

// cookieRecorder is a RoundTripper that records Set-Cookie headers.
type cookieRecorder struct{ into *[]*http.Cookie }

func (c cookieRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		*c.into = append(*c.into, resp.Cookies()...)
	}
	return resp, err
}
