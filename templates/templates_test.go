package templates_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/templates"
	"github.com/latchkey/latchkey/templates/pagetest"
)

func mustNew(t *testing.T, fsys fs.FS) *templates.Templates {
	t.Helper()
	tm, err := templates.New(fsys)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tm
}

func full() templates.Page {
	return templates.Page{
		Lang:       "en",
		ClientName: "Acme <Dashboard>",
		CSRF:       "tok\"en",
		AssetBase:  "/id/assets/",
		RequestID:  "req-123",
	}
}

// pageCase renders one page; want lists strings the full rendering contains.
type pageCase struct {
	name string
	zero func(*templates.Templates, io.Writer) error
	full func(*templates.Templates, io.Writer) error
	want []string
}

func pageCases() []pageCase {
	return []pageCase{
		{
			name: "login",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Login(w, templates.LoginData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Login(w, templates.LoginData{Page: full(), Action: "/u/login?state=a&b", Email: "jane@example.com",
					Error: "Enter a valid email.", SignupURL: "/u/signup?state=a"})
			},
			want: []string{"<h1>Welcome</h1>", "Log in to Acme &lt;Dashboard&gt; to continue.", `autocomplete="username webauthn"`,
				`type="email"`, `name="username"`, "data-passkey-autofill", `aria-describedby="username-error"`, `role="alert"`,
				"Don't have an account?", ">Sign up</a>", ">Continue</button>", `action="/u/login?state=a&amp;b"`,
				`value="tok&#34;en"`, `href="/id/assets/style.css?v=`},
		},
		{
			name: "password",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Password(w, templates.PasswordData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Password(w, templates.PasswordData{Page: full(), Action: "/u/login/password?state=a", Email: "jane@example.com",
					EditURL: "/u/login?state=a", Error: "Wrong email or password.", SignupURL: "/u/signup?state=a"})
			},
			want: []string{`autocomplete="current-password"`, "Wrong email or password.", `aria-describedby="password-error"`,
				`value="jane@example.com"`, "readonly", ">Edit</a>"},
		},
		{
			name: "signup",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Signup(w, templates.SignupData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Signup(w, templates.SignupData{Page: full(), Action: "/u/signup?state=a", Email: "jane@example.com",
					PasswordError: "Your password is too short.", Error: "Please try again.",
					PasswordRules: []string{"At least 12 characters", "Not a common password"}, LoginURL: "/u/login?state=a"})
			},
			want: []string{"Sign up to Acme &lt;Dashboard&gt; to continue.", `autocomplete="new-password"`,
				"<li>At least 12 characters</li>", `aria-describedby="password-error password-rules"`,
				"Already have an account?", ">Log in</a>", "Your password is too short."},
		},
		{
			name: "consent",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Consent(w, templates.ConsentData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Consent(w, templates.ConsentData{Page: full(), Action: "/u/consent?state=a", UserEmail: "jane@example.com",
					Scopes: []templates.Scope{{Name: "email", Title: "Email", Description: "Your email address"}}})
			},
			want: []string{"Authorize Acme &lt;Dashboard&gt;", "Hi jane@example.com,", "<strong>Email</strong>",
				`name="action" value="accept"`, `name="action" value="deny"`},
		},
		{
			name: "error",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Error(w, templates.ErrorData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Error(w, templates.ErrorData{Page: full(), Status: 400, Title: "Session expired",
					Message: "Go back to the application and try again.", BackURL: "/demo"})
			},
			want: []string{"<h1>Session expired</h1>", "Go back to the application", "req-123"},
		},
		{
			name: "demo",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Demo(w, templates.DemoData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Demo(w, templates.DemoData{Page: full(), LoginURL: "/demo/login", SignupURL: "/demo/signup",
					LoggedIn: true, Subject: "user-1", IDTokenHeader: `{"alg": "RS256"}`, IDTokenClaims: `{"sub": "user-1"}`,
					UserInfo: `{"email": "jane@example.com"}`, LogoutURL: "/oidc/logout?id_token_hint=x"})
			},
			want: []string{"{&#34;alg&#34;: &#34;RS256&#34;}", "user-1", ">Log out</a>"},
		},
		{
			name: "logout",
			zero: func(t *templates.Templates, w io.Writer) error { return t.Logout(w, templates.LogoutData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.Logout(w, templates.LogoutData{Page: full(), Action: "/oidc/logout", ClientID: "app",
					PostLogoutRedirectURI: "https://app.example.com/bye", State: "s&t"})
			},
			want: []string{"Do you want to log out of Acme &lt;Dashboard&gt;?", `name="confirm" value="yes"`,
				`name="post_logout_redirect_uri" value="https://app.example.com/bye"`, `name="state" value="s&amp;t"`,
				`name="client_id" value="app"`, `action="/oidc/logout"`},
		},
		{
			name: "logged out",
			zero: func(t *templates.Templates, w io.Writer) error { return t.LoggedOut(w, templates.LoggedOutData{}) },
			full: func(t *templates.Templates, w io.Writer) error {
				return t.LoggedOut(w, templates.LoggedOutData{Page: full(), ReturnURL: "https://app.example.com/"})
			},
			want: []string{"You are logged out", "Return to Acme &lt;Dashboard&gt;"},
		},
	}
}

func TestPagesRender(t *testing.T) {
	tm := mustNew(t, nil)
	for _, tc := range pageCases() {
		t.Run(tc.name, func(t *testing.T) {
			var zero, fullOut bytes.Buffer
			if err := tc.zero(tm, &zero); err != nil {
				t.Fatalf("zero data: %v", err)
			}
			if err := tc.full(tm, &fullOut); err != nil {
				t.Fatalf("full data: %v", err)
			}
			if !strings.Contains(zero.String(), `<html lang="en">`) {
				t.Errorf("zero data: lang not defaulted to en")
			}
			if !strings.Contains(zero.String(), `href="/assets/style.css?v=`+tm.AssetVersion()+`"`) {
				t.Errorf("zero data: asset base not defaulted to /assets")
			}
			for _, w := range tc.want {
				if !strings.Contains(fullOut.String(), w) {
					t.Errorf("full data: output lacks %q", w)
				}
			}
			for name, out := range map[string][]byte{"zero": zero.Bytes(), "full": fullOut.Bytes()} {
				for _, p := range pagetest.Check(out) {
					t.Errorf("%s data: %s", name, p)
				}
				if strings.Contains(string(out), "<Dashboard>") {
					t.Errorf("%s data: client name not escaped", name)
				}
			}
		})
	}
}

func TestLangIsWritten(t *testing.T) {
	tm := mustNew(t, nil)
	var buf bytes.Buffer
	if err := tm.Login(&buf, templates.LoginData{Page: templates.Page{Lang: "en-GB"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `<html lang="en-GB">`) {
		t.Error(`lang "en-GB" not written to <html lang>`)
	}
	if got := tm.Languages(); len(got) == 0 || got[0] != "en" {
		t.Errorf("Languages() = %v, want en first", got)
	}
}

func TestThemeOverridesAndFallsBack(t *testing.T) {
	theme := fstest.MapFS{
		"login.html":       {Data: []byte(`{{define "title"}}Themed{{end}}{{define "header"}}<h1>Hello from the theme</h1>{{end}}{{define "content"}}<p>{{.Email}}</p>{{end}}`)},
		"assets/style.css": {Data: []byte("body { color: red; }")},
		"assets/extra.txt": {Data: []byte("extra")},
	}
	tm := mustNew(t, theme)
	var buf bytes.Buffer
	if err := tm.Login(&buf, templates.LoginData{Email: "a@b.c"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Hello from the theme") || !strings.Contains(buf.String(), "<p>a@b.c</p>") {
		t.Errorf("theme login.html not used:\n%s", buf.String())
	}
	buf.Reset()
	if err := tm.Password(&buf, templates.PasswordData{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Enter your password") {
		t.Errorf("password page did not fall back to the default")
	}

	css, err := fs.ReadFile(tm.Assets(), "style.css")
	if err != nil || string(css) != "body { color: red; }" {
		t.Errorf("theme style.css not served: %q, %v", css, err)
	}
	if _, err := fs.ReadFile(tm.Assets(), "app.js"); err != nil {
		t.Errorf("default app.js not served under a theme: %v", err)
	}
	if _, err := fs.ReadFile(tm.Assets(), "extra.txt"); err != nil {
		t.Errorf("theme-only asset not served: %v", err)
	}
	if tm.AssetVersion() == mustNew(t, nil).AssetVersion() {
		t.Error("asset version did not change with the theme's assets")
	}
}

func TestBrokenThemeFailsNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		have fstest.MapFS
	}{
		{"syntax error", fstest.MapFS{"consent.html": {Data: []byte(`{{define "title"}}x{{end}}{{define "header"}}{{end}}{{define "content"}}{{if}}{{end}}`)}}},
		{"unknown field", fstest.MapFS{"error.html": {Data: []byte(`{{define "title"}}x{{end}}{{define "header"}}{{end}}{{define "content"}}{{.NoSuchField}}{{end}}`)}}},
		{"missing block", fstest.MapFS{"signup.html": {Data: []byte(`{{define "title"}}x{{end}}`)}}},
		{"broken layout", fstest.MapFS{"layout.html": {Data: []byte(`<html>{{template "content" .}`)}}},
		{"bad escaping context", fstest.MapFS{"demo.html": {Data: []byte(`{{define "title"}}x{{end}}{{define "header"}}{{end}}{{define "content"}}<a href="{{.LoginURL}}{{end}}`)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := templates.New(tc.have); err == nil {
				t.Fatal("New accepted a broken theme")
			}
		})
	}
}

// errFS fails every Open with an error other than "not exist".
type errFS struct{}

func (errFS) Open(string) (fs.File, error) { return nil, errors.New("disk on fire") }

func TestUnreadableThemeFailsNew(t *testing.T) {
	if _, err := templates.New(errFS{}); err == nil {
		t.Fatal("New accepted a theme that cannot be read")
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestRenderReportsWriteErrors(t *testing.T) {
	tm := mustNew(t, nil)
	if err := tm.Error(failWriter{}, templates.ErrorData{}); err == nil {
		t.Fatal("Error() hid a write error")
	}
}
