package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"maps"
	"path"
	"sort"
	"strings"
)

//go:embed files
var embedded embed.FS

// Names of the template files. A theme overrides a page by holding a file of
// the same name at its root; static assets live under assets/.
const (
	layoutFile    = "layout.html"
	loginFile     = "login.html"
	passwordFile  = "password.html"
	signupFile    = "signup.html"
	consentFile   = "consent.html"
	errorFile     = "error.html"
	demoFile      = "demo.html"
	loggedOutFile = "logged_out.html"
	logoutFile    = "logout.html"
	passkeyFile   = "passkey.html"
	passkeyLogin  = "passkey_login.html"
	accountFile   = "account.html"
	assetsDir     = "assets"
)

// pages lists every page with zero-value data, used to render each page
// once at start-up so that execution errors surface in New.
func pages() map[string]any {
	m := map[string]any{
		loginFile:     LoginData{},
		passwordFile:  PasswordData{},
		signupFile:    SignupData{},
		consentFile:   ConsentData{},
		errorFile:     ErrorData{},
		demoFile:      DemoData{},
		loggedOutFile: LoggedOutData{},
		logoutFile:    LogoutData{},
		passkeyFile:   PasskeyData{},
		passkeyLogin:  PasskeyLoginData{},
		accountFile:   AccountData{},

		// The account lifecycle (lifecycle.go).
		emailFormFile:     EmailFormData{},
		messageFile:       MessageData{},
		confirmLinkFile:   ConfirmLinkData{},
		resetPasswordFile: ResetPasswordData{},
		recoverFile:       RecoverPasskeyData{},
		profileFile:       ProfileData{},
		deleteFile:        DeleteAccountData{},
		outboxFile:        OutboxData{},
	}
	maps.Copy(m, mfaPages())
	return m
}

// Page is what every page shares. Each page's data struct embeds it.
type Page struct {
	// Lang is the BCP 47 tag of the page's language, written to <html lang>.
	// Empty means "en". Set it only to a language the text is written in
	// (see Languages).
	Lang string
	// ClientName is the name of the application the person is logging in
	// to; pages say "Log in to ClientName to continue".
	ClientName string
	// CSRF is the anti-forgery token every form posts back in the hidden
	// field "csrf".
	CSRF string
	// AssetBase is the URL path the assets are served under, without a
	// trailing slash. Empty means "/assets".
	AssetBase string
	// RequestID identifies the request in the server's logs. Error pages
	// show it so that a person can quote it to support.
	RequestID string
}

// LoginData is the identifier page: the first step of identifier-first
// login, asking for the email address only.
type LoginData struct {
	Page
	// Action is the URL the form posts to.
	Action string
	// Email prefills the email field (login_hint, or what was typed before).
	Email string
	// Error is shown under the email field.
	Error string
	// SignupURL, when set, shows "Don't have an account? Sign up".
	SignupURL string
	// Passkeys configures the passkey part of the page (passkey.js).
	Passkeys PasskeyUI
	// UsernameLogin asks for a username or an email (the connection
	// requires usernames).
	UsernameLogin bool
}

// PasskeyUI is what a page tells passkey.js through data attributes. The
// zero value offers no passkeys.
type PasskeyUI struct {
	// API is the URL path of the ceremony API ("/passkey"); empty turns
	// passkeys off on the page.
	API string
	// State is the login flow's ID, sent with every API call.
	State string
	// Autofill starts conditional mediation on the identifier field
	// (challenge_ui autofill or both).
	Autofill bool
	// Button shows "Continue with a passkey" (challenge_ui button or both).
	Button bool
	// Required says the application demands a passkey login (acr_values
	// phr or phrh) and why the page offers no password.
	Required bool
}

// PasswordData is the password page, the second step of identifier-first
// login.
type PasswordData struct {
	Page
	// Action is the URL the form posts to.
	Action string
	// Email is the identifier entered on the first step, shown read-only so
	// that password managers can pair it with the password.
	Email string
	// EditURL leads back to the identifier page to change the email.
	EditURL string
	// Error is shown under the password field ("Wrong email or password.").
	Error string
	// SignupURL, when set, shows "Don't have an account? Sign up".
	SignupURL string
	// PasskeyCapable adds the hidden field "passkeys" that passkey.js sets
	// to "1" when the browser can create passkeys, so the server may offer
	// one after the login.
	PasskeyCapable bool
	// PasskeyRequired explains that a passkey will be created after the
	// password (the application demands one).
	PasskeyRequired bool
	// ForgotURL, when set, shows "Forgot password?".
	ForgotURL string
	// UsernameLogin labels the identifier "Username or email address".
	UsernameLogin bool
}

// SignupData is the sign-up page.
type SignupData struct {
	Page
	// Action is the URL the form posts to.
	Action string
	// Email prefills the email field.
	Email string
	// EmailError is shown under the email field ("The user already exists.").
	EmailError string
	// PasswordError is shown under the password field (the failed rule).
	PasswordError string
	// Error is a message about the whole form.
	Error string
	// PasswordRules are the connection's password rules in words, listed
	// under the password field.
	PasswordRules []string
	// LoginURL, when set, shows "Already have an account? Log in".
	LoginURL string
	// PasskeySignup makes the form passkey-first for browsers that can
	// create passkeys: passkey.js hides the password field and posts
	// method=passkey, which leads to the "Create a passkey" page. Other
	// browsers keep the password sign-up.
	PasskeySignup bool
	// UsernameRequired adds the username field (the connection requires
	// usernames); Username prefills it and UsernameError is its refusal.
	UsernameRequired bool
	Username         string
	UsernameError    string
}

// PasskeyData is the "Create a passkey" page: sign-up with a passkey, and
// the offers after a login (progressive and local enrollment).
type PasskeyData struct {
	Page
	// Variant is "signup", "progressive", "local" or "required".
	Variant string
	// Email is the account's email.
	Email string
	// Passkeys configures passkey.js (API and State).
	Passkeys PasskeyUI
	// Action is where the "Not now" / "Remind me later" form posts
	// (enrollment variants).
	Action string
	// PasswordURL, when set, offers "Create a password instead" (sign-up).
	PasswordURL string
	// EditURL leads back to change the email (sign-up).
	EditURL string
}

// PasskeyLoginData is the email-first login's passkey step.
type PasskeyLoginData struct {
	Page
	// Email is the identifier entered on the first step.
	Email string
	// EditURL leads back to the identifier page.
	EditURL string
	// PasswordURL, when set, offers "Try another way" (the password page).
	PasswordURL string
	// Passkeys configures passkey.js (API and State).
	Passkeys PasskeyUI
	// RecoverURL, when set, offers "Can't use your passkey?" (recovery
	// by email).
	RecoverURL string
}

// AccountPasskey is one passkey on the account page.
type AccountPasskey struct {
	ID       string
	Name     string
	Provider string
	// Created and LastUsed are formatted dates; LastUsed is "" when never.
	Created  string
	LastUsed string
	// Synced is true for a synced (backup-eligible) passkey, false for a
	// device-bound one.
	Synced bool
}

// AccountData is the account page: the signed-in person's passkeys.
type AccountData struct {
	Page
	// Email names the signed-in person.
	Email string
	// Passkeys are the person's passkeys, oldest first.
	Passkeys []AccountPasskey
	// RenameAction and DeleteAction are where the rename and delete forms
	// post (fields "id", "name", "csrf").
	RenameAction string
	DeleteAction string
	// API is the ceremony API's path for "Add a passkey" (passkey.js).
	API string
	// Notice reports the last change ("Passkey renamed."); Error a refusal.
	Notice string
	Error  string
	// LogoutURL ends the session.
	LogoutURL string
}

// Scope is one requested permission on the consent page.
type Scope struct {
	// Name is the OAuth 2.0 scope value ("email").
	Name string
	// Title is its short name for people ("Email").
	Title string
	// Description says what the application gets ("Your email address").
	Description string
}

// ConsentData is the consent page: an application asks for access.
type ConsentData struct {
	Page
	// Action is the URL the form posts to. The form posts "action" with the
	// value "accept" or "deny".
	Action string
	// UserEmail names the logged-in person ("Hi jane@example.com").
	UserEmail string
	// Scopes are the permissions requested.
	Scopes []Scope
}

// ErrorData is the error page shown to people when a flow cannot go on.
type ErrorData struct {
	Page
	// Status is the HTTP status code sent with the page.
	Status int
	// Title is the headline ("Something went wrong").
	Title string
	// Message says what happened and what to do, without internal detail.
	Message string
	// BackURL, when set, shows a link to try again.
	BackURL string
}

// DemoData is the built-in demo relying party's page.
type DemoData struct {
	Page
	// LoginURL and SignupURL start a login or sign-up at the provider.
	LoginURL  string
	SignupURL string
	// Error describes a failed login ("access_denied: ...").
	Error string
	// LoggedIn is set after a successful login; the fields below are then
	// filled.
	LoggedIn bool
	// Subject is the ID token's sub claim.
	Subject string
	// IDTokenHeader and IDTokenClaims are the decoded ID token, as indented
	// JSON.
	IDTokenHeader string
	IDTokenClaims string
	// UserInfo is the userinfo endpoint's response, as indented JSON.
	UserInfo string
	// LogoutURL ends the session at the provider (RP-initiated logout).
	LogoutURL string
}

// LogoutData is the logout confirmation page, shown when a logout request
// cannot prove it comes from the logged-in person's application (no valid
// id_token_hint). Its form posts back to Action with the request's
// parameters, "confirm=yes" and the CSRF token.
type LogoutData struct {
	Page
	// Action is the end_session_endpoint URL the form posts to.
	Action string
	// ClientID, PostLogoutRedirectURI and State are the logout request's
	// parameters, posted back unchanged.
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// LoggedOutData is the page shown after logout when no valid
// post_logout_redirect_uri was given.
type LoggedOutData struct {
	Page
	// ReturnURL, when set, shows a link back to the application.
	ReturnURL string
}

// Templates holds the parsed pages and the static assets. It is safe for
// concurrent use. Create it with New.
type Templates struct {
	pages   map[string]*template.Template
	assets  fs.FS
	version string
}

// New parses every page, taking each file from fsys when it holds one and
// from the embedded defaults otherwise (fsys may be nil). It fails when a
// template does not parse or does not render with zero-value data.
func New(fsys fs.FS) (*Templates, error) {
	base, err := fs.Sub(embedded, "files")
	if err != nil {
		return nil, fmt.Errorf("open embedded templates: %w", err)
	}
	src := overlay{theme: fsys, base: base}
	t := &Templates{pages: make(map[string]*template.Template)}

	assetTheme := fs.FS(nil)
	if fsys != nil {
		if assetTheme, err = fs.Sub(fsys, assetsDir); err != nil {
			return nil, fmt.Errorf("open theme assets: %w", err)
		}
	}
	assetBase, err := fs.Sub(base, assetsDir)
	if err != nil {
		return nil, fmt.Errorf("open embedded assets: %w", err)
	}
	t.assets = overlay{theme: assetTheme, base: assetBase}
	if t.version, err = assetVersion(t.assets, assetTheme, assetBase); err != nil {
		return nil, fmt.Errorf("hash assets: %w", err)
	}

	layout, err := fs.ReadFile(src, layoutFile)
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", layoutFile, err)
	}
	funcs := template.FuncMap{
		// asset returns an asset's URL relative to AssetBase, with a
		// version query so that it can be cached for a long time.
		"asset": func(name string) string { return name + "?v=" + t.version },
	}
	for name, zero := range pages() {
		page, err := fs.ReadFile(src, name)
		if err != nil {
			return nil, fmt.Errorf("read template %s: %w", name, err)
		}
		tmpl, err := template.New(layoutFile).Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", layoutFile, err)
		}
		if _, err := tmpl.New(name).Parse(string(page)); err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		for _, block := range []string{"title", "header", "content"} {
			if tmpl.Lookup(block) == nil {
				return nil, fmt.Errorf("parse template %s: no %q block", name, block)
			}
		}
		t.pages[name] = tmpl
		if err := t.execute(io.Discard, name, zero); err != nil {
			return nil, fmt.Errorf("check template %s: %w", name, err)
		}
	}
	return t, nil
}

// Languages lists the languages the pages are written in, as BCP 47 tags.
// Handlers pick Page.Lang among them (from ui_locales).
func (t *Templates) Languages() []string { return []string{"en"} }

// Assets returns the static files (CSS, JavaScript, images) the pages link
// to, relative to Page.AssetBase.
func (t *Templates) Assets() fs.FS { return t.assets }

// AssetVersion is a hash of the assets' contents. Pages link assets with
// "?v=" and it, so that a server may cache versioned URLs forever.
func (t *Templates) AssetVersion() string { return t.version }

// Login renders the identifier page.
func (t *Templates) Login(w io.Writer, d LoginData) error {
	d.Page = d.defaults()
	return t.execute(w, loginFile, d)
}

// Password renders the password page.
func (t *Templates) Password(w io.Writer, d PasswordData) error {
	d.Page = d.defaults()
	return t.execute(w, passwordFile, d)
}

// Signup renders the sign-up page.
func (t *Templates) Signup(w io.Writer, d SignupData) error {
	d.Page = d.defaults()
	return t.execute(w, signupFile, d)
}

// Consent renders the consent page.
func (t *Templates) Consent(w io.Writer, d ConsentData) error {
	d.Page = d.defaults()
	return t.execute(w, consentFile, d)
}

// Error renders the error page.
func (t *Templates) Error(w io.Writer, d ErrorData) error {
	d.Page = d.defaults()
	return t.execute(w, errorFile, d)
}

// Demo renders the demo relying party's page.
func (t *Templates) Demo(w io.Writer, d DemoData) error {
	d.Page = d.defaults()
	return t.execute(w, demoFile, d)
}

// Logout renders the logout confirmation page.
func (t *Templates) Logout(w io.Writer, d LogoutData) error {
	d.Page = d.defaults()
	return t.execute(w, logoutFile, d)
}

// LoggedOut renders the page shown after logout.
func (t *Templates) LoggedOut(w io.Writer, d LoggedOutData) error {
	d.Page = d.defaults()
	return t.execute(w, loggedOutFile, d)
}

// Passkey renders the "Create a passkey" page.
func (t *Templates) Passkey(w io.Writer, d PasskeyData) error {
	d.Page = d.defaults()
	return t.execute(w, passkeyFile, d)
}

// PasskeyLogin renders the email-first login's passkey step.
func (t *Templates) PasskeyLogin(w io.Writer, d PasskeyLoginData) error {
	d.Page = d.defaults()
	return t.execute(w, passkeyLogin, d)
}

// Account renders the account page.
func (t *Templates) Account(w io.Writer, d AccountData) error {
	d.Page = d.defaults()
	return t.execute(w, accountFile, d)
}

// execute renders a page into a buffer and writes it to w only when the
// whole page rendered, so a failure never leaves half a page behind.
func (t *Templates) execute(w io.Writer, name string, data any) error {
	tmpl, ok := t.pages[name]
	if !ok {
		return fmt.Errorf("render %s: no such template", name)
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, layoutFile, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func (p Page) defaults() Page {
	if p.Lang == "" {
		p.Lang = "en"
	}
	if p.AssetBase == "" {
		p.AssetBase = "/assets"
	}
	p.AssetBase = strings.TrimSuffix(p.AssetBase, "/")
	return p
}

// overlay is an fs.FS that opens a file from theme when theme has it and
// from base otherwise.
type overlay struct {
	theme fs.FS // may be nil
	base  fs.FS
}

func (o overlay) Open(name string) (fs.File, error) {
	if o.theme != nil {
		f, err := o.theme.Open(name)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return o.base.Open(name)
}

// assetVersion hashes the names and contents of every asset the overlay
// serves.
func assetVersion(assets fs.FS, layers ...fs.FS) (string, error) {
	names := map[string]bool{}
	for _, layer := range layers {
		if layer == nil {
			continue
		}
		err := fs.WalkDir(layer, ".", func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == "." {
				return fs.SkipAll // a theme without assets
			}
			if err != nil {
				return err
			}
			if !d.IsDir() {
				names[path.Clean(p)] = true
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	h := sha256.New()
	for _, n := range sorted {
		b, err := fs.ReadFile(assets, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
