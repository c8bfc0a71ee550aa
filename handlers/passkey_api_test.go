package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// pkConn is fakeConn with a passkey relying party, as database.Connection
// offers one.
type pkConn struct {
	*fakeConn
	rp *passkey.RelyingParty
}

func (c *pkConn) Passkeys() *passkey.RelyingParty { return c.rp }

// pkEnv is a pageEnv whose connection offers passkeys, with a software
// authenticator at the issuer's origin.
type pkEnv struct {
	*pageEnv
	rp   *passkey.RelyingParty
	auth *passkeytest.Authenticator
}

func newPasskeyEnv(t *testing.T, store *sqlstore.Store, policy func(*passkey.Policy)) *pkEnv {
	t.Helper()
	var rp *passkey.RelyingParty
	e := newPageEnvOn(t, store, func(o *Options, fc *fakeConn) {
		p := passkey.DefaultPolicy()
		if policy != nil {
			policy(&p)
		}
		var err error
		rp, err = passkey.New(passkey.Config{Policy: p, ConnectionID: fc.conn.ID, RPDisplayName: "Latchkey", Issuer: o.Issuer, Store: fc.store})
		if err != nil {
			t.Fatal(err)
		}
		o.Connectors = fakeResolver{&pkConn{fakeConn: fc, rp: rp}}
	})
	return &pkEnv{pageEnv: e, rp: rp, auth: passkeytest.New(pageTestIssuer)}
}

// apiResult is a decoded API answer.
type apiResult struct {
	Code int
	Body map[string]any
	Resp *httptest.ResponseRecorder
}

func (r apiResult) str(k string) string { s, _ := r.Body[k].(string); return s }

// call posts body as JSON to the API, same-origin, with cookies.
func (e *pkEnv) call(path string, body any, cookies ...*http.Cookie) apiResult {
	e.t.Helper()
	var raw string
	switch b := body.(type) {
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = string(j)
	}
	r := httptest.NewRequest(http.MethodPost, pageTestIssuer+"/passkey"+path, strings.NewReader(raw))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/130.0 Safari/537.36")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	res := apiResult{Code: w.Code, Resp: w}
	if err := json.Unmarshal(w.Body.Bytes(), &res.Body); err != nil {
		e.t.Fatalf("%s: answer is not JSON (status %d): %s", path, w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("%s: Content-Type %q", path, ct)
	}
	return res
}

// ok fails the test unless r is a 200.
func (r apiResult) ok(t *testing.T) apiResult {
	t.Helper()
	if r.Code != http.StatusOK {
		t.Fatalf("status %d, want 200: %v", r.Code, r.Body)
	}
	return r
}

// refused fails the test unless r is a 4xx with code and a description.
func (r apiResult) refused(t *testing.T, status int, code string) {
	t.Helper()
	if r.Code != status || r.str("error") != code || r.str("error_description") == "" {
		t.Fatalf("answer %d %v, want %d %q with a description", r.Code, r.Body, status, code)
	}
}

func publicKey(t *testing.T, r apiResult) []byte {
	t.Helper()
	b, err := json.Marshal(r.Body["publicKey"])
	if err != nil || r.str("ceremony") == "" {
		t.Fatalf("begin answer lacks ceremony or publicKey: %v", r.Body)
	}
	return b
}

// enrol registers a passkey on e.auth for user directly with the relying
// party (a fixture, not the API).
func (e *pkEnv) enrol(user storage.User) {
	e.t.Helper()
	ctx := context.Background()
	c, err := e.rp.BeginRegistration(ctx, user, passkey.RegistrationOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	resp, _, err := e.auth.Create(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.rp.FinishRegistration(ctx, c.ID, resp); err != nil {
		e.t.Fatal(err)
	}
}

// passkeyLogin runs login/begin and login/finish and returns the finish
// answer.
func (e *pkEnv) passkeyLogin(state, email string, t passkeytest.Tamper) apiResult {
	e.t.Helper()
	body := map[string]string{"state": state}
	if email != "" {
		body["email"] = email
	}
	b := e.call("/login/begin", body).ok(e.t)
	resp, err := e.auth.Get(publicKey(e.t, b), t)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.call("/login/finish", map[string]any{"state": state, "ceremony": b.str("ceremony"), "credential": json.RawMessage(resp)})
}

func (e *pkEnv) session(w *httptest.ResponseRecorder) storage.Session {
	e.t.Helper()
	c := sessionCookie(w)
	if c == nil {
		e.t.Fatal("no session cookie")
	}
	r := httptest.NewRequest(http.MethodGet, pageTestIssuer+"/", nil)
	r.AddCookie(c)
	s, ok := e.h.sessions.current(r)
	if !ok {
		e.t.Fatal("session cookie names no session")
	}
	return s
}

func (e *pkEnv) passkeyCount(userID string) int {
	e.t.Helper()
	cs, err := e.store.ListCredentials(context.Background(), userID, storage.CredentialWebAuthn)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(cs)
}

func TestPasskeySignup(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		e := newPasskeyEnv(t, store, nil)
		id := e.flow(nil)
		ctx := context.Background()

		// The sign-up page is passkey-first for capable browsers; the email
		// step leads to "Create a passkey".
		expectPage(t, e.get("/u/signup?state="+id), http.StatusOK, "data-passkey-signup", `name="password"`)
		w := e.post("/u/signup?state="+id, e.form(id, "email", "new@example.com", "method", "passkey"))
		expectRedirect(t, w, "/u/signup/passkey?state="+id)
		expectPage(t, e.get("/u/signup/passkey?state="+id), http.StatusOK, "Create a passkey for Acme", "Try another way",
			"Create a password instead", `data-hint="client-device"`, `data-hint="hybrid"`, "new@example.com")

		b := e.call("/register/begin", map[string]string{"state": id, "email": "new@example.com", "hint": "client-device"}).ok(t)
		if _, err := store.GetUserByEmail(ctx, e.conn.conn.ID, "new@example.com"); err == nil {
			t.Fatal("the account exists before the passkey is verified")
		}
		resp, _, err := e.auth.Create(publicKey(t, b), passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		f := e.call("/register/finish", map[string]any{"state": id, "ceremony": b.str("ceremony"), "credential": json.RawMessage(resp)}).ok(t)
		if got := f.str("redirect"); got != "/authorize/resume?state="+id {
			t.Fatalf("redirect %q", got)
		}
		u, err := store.GetUserByEmail(ctx, e.conn.conn.ID, "new@example.com")
		if err != nil {
			t.Fatalf("no account after the sign-up: %v", err)
		}
		s := e.session(f.Resp)
		if s.UserID != u.ID || !slices.Contains(s.AMR, "pop") || s.ACR != "phr" {
			t.Fatalf("session %s amr %v acr %q, want the new user with pop and phr", s.UserID, s.AMR, s.ACR)
		}
		if n := e.passkeyCount(u.ID); n != 1 {
			t.Fatalf("%d passkeys, want 1", n)
		}
		// A taken email: refused at begin, as the password sign-up does.
		id2 := e.flow(nil)
		e.call("/register/begin", map[string]string{"state": id2, "email": "new@example.com"}).refused(t, http.StatusConflict, "user_exists")
	})
}

func TestPasskeyLoginDiscoverableAndEmailFirst(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		e := newPasskeyEnv(t, store, nil)
		e.enrol(e.user)

		// Discoverable (autofill, the button): no email.
		id := e.flow(nil)
		expectPage(t, e.get("/u/login?state="+id), http.StatusOK, "data-passkey-login", "data-autofill", "data-button", "Continue with a passkey")
		f := e.passkeyLogin(id, "", passkeytest.Tamper{}).ok(t)
		if f.str("redirect") != "/authorize/resume?state="+id {
			t.Fatalf("redirect %q", f.str("redirect"))
		}
		s := e.session(f.Resp)
		if s.UserID != e.user.ID || s.ACR != "phr" || !slices.Contains(s.AMR, "swk") || !slices.Contains(s.AMR, "mfa") {
			t.Fatalf("session user %s amr %v acr %q", s.UserID, s.AMR, s.ACR)
		}

		// Email first: the identifier page leads to the passkey step, whose
		// "Try another way" is the password (jane has one... in fakeConn,
		// not in the store: so no link here).
		id = e.flow(nil)
		expectRedirect(t, e.post("/u/login?state="+id, e.form(id, "username", "jane@example.com")), "/u/login/passkey?state="+id)
		expectPage(t, e.get("/u/login/passkey?state="+id), http.StatusOK, "Use your passkey", "data-passkey-step-button")
		b := e.call("/login/begin", map[string]string{"state": id, "email": "jane@example.com"}).ok(t)
		if !strings.Contains(string(publicKey(t, b)), "allowCredentials") {
			t.Errorf("email-first options lack allowCredentials: %s", publicKey(t, b))
		}
		e.passkeyLogin(id, "jane@example.com", passkeytest.Tamper{}).ok(t)

		// An unknown email and a user without passkeys get the same answer.
		if _, err := store.CreateUser(context.Background(), storage.User{ConnectionID: e.conn.conn.ID, Email: "nopk@example.com"}); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"nobody@example.com", "nopk@example.com"} {
			e.call("/login/begin", map[string]string{"state": id, "email": email}).refused(t, http.StatusNotFound, "no_passkeys")
		}
	})
}

func TestPasskeyLocalEnrollmentOffer(t *testing.T) {
	e := newPasskeyEnv(t, sqltest.Open(t, sqlstore.DriverSQLite), nil)
	e.enrol(e.user)
	id := e.flow(nil)
	f := e.passkeyLogin(id, "", passkeytest.Tamper{Attachment: "cross-platform"}).ok(t)
	if f.str("redirect") != "/u/passkey/enroll?state="+id {
		t.Fatalf("cross-device login: redirect %q, want the local enrollment offer", f.str("redirect"))
	}
	expectPage(t, e.get("/u/passkey/enroll?state="+id, sessionCookie(f.Resp)), http.StatusOK, "Create a passkey on this device", "Not now")
}

func TestProgressiveEnrollment(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		e := newPasskeyEnv(t, store, nil)
		passwordLogin := func(capable bool) (string, *httptest.ResponseRecorder) {
			id := e.flow(nil)
			expectRedirect(t, e.post("/u/login?state="+id, e.form(id, "username", "jane@example.com")), "/u/login/password?state="+id)
			expectPage(t, e.get("/u/login/password?state="+id), http.StatusOK, "data-passkey-capable")
			kv := []string{"password", pageTestPassword}
			if capable {
				kv = append(kv, "passkeys", "1")
			}
			return id, e.post("/u/login/password?state="+id, e.form(id, kv...))
		}

		// A browser that cannot create passkeys is not asked.
		id, w := passwordLogin(false)
		expectRedirect(t, w, "/authorize/resume?state="+id)

		// "Not now": asked again at the next login.
		id, w = passwordLogin(true)
		expectRedirect(t, w, "/u/passkey/enroll?state="+id)
		c := sessionCookie(w)
		expectPage(t, e.get("/u/passkey/enroll?state="+id, c), http.StatusOK, "Create a passkey for Acme", "Not now", "Remind me later")
		expectRedirect(t, e.post("/u/passkey/enroll?state="+id, e.form(id, "action", "skip"), c), "/authorize/resume?state="+id)
		id, w = passwordLogin(true)
		expectRedirect(t, w, "/u/passkey/enroll?state="+id)

		// "Remind me later": not asked for 30 days (a timestamp in Metadata).
		c = sessionCookie(w)
		expectRedirect(t, e.post("/u/passkey/enroll?state="+id, e.form(id, "action", "later"), c), "/authorize/resume?state="+id)
		u, err := store.GetUser(context.Background(), e.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		if md := readPasskeyMetadata(u); md.RemindAfter.IsZero() {
			t.Fatalf("no reminder stored in metadata %s", u.Metadata)
		}
		id, w = passwordLogin(true)
		expectRedirect(t, w, "/authorize/resume?state="+id)

		// Creating the passkey from the offer adds its evidence to the session.
		id2 := e.flow(url.Values{"acr_values": {"phr"}})
		expectRedirect(t, e.post("/u/login?state="+id2, e.form(id2, "username", "jane@example.com")), "/u/login/password?state="+id2)
		w = e.post("/u/login/password?state="+id2, e.form(id2, "password", pageTestPassword, "passkeys", "1"))
		expectRedirect(t, w, "/u/passkey/enroll?state="+id2)
		c = sessionCookie(w)
		expectPage(t, e.get("/u/passkey/enroll?state="+id2, c), http.StatusOK, "requires a passkey")
		b := e.call("/register/begin", map[string]string{"state": id2, "hint": "client-device"}, c).ok(t)
		resp, _, err := e.auth.Create(publicKey(t, b), passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		f := e.call("/register/finish", map[string]any{"state": id2, "ceremony": b.str("ceremony"), "credential": json.RawMessage(resp)}, c).ok(t)
		if f.str("redirect") != "/authorize/resume?state="+id2 {
			t.Fatalf("redirect %q", f.str("redirect"))
		}
		s := e.session(f.Resp)
		if !slices.Contains(s.AMR, "pwd") || !slices.Contains(s.AMR, "pop") || s.ACR != "phr" {
			t.Fatalf("session after enrollment: amr %v acr %q, want pwd, pop and phr", s.AMR, s.ACR)
		}
	})
}

func TestAccountPasskeys(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		e := newPasskeyEnv(t, store, nil)
		ctx := context.Background()

		// Without a session: a login flow that returns to the page.
		w := e.get("/u/account")
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/u/login?state=") {
			t.Fatalf("account without a session: %d %s", w.Code, w.Header().Get("Location"))
		}
		loc, _ := url.Parse(w.Header().Get("Location"))
		id := loc.Query().Get("state")
		expectPage(t, e.get("/u/login?state="+id), http.StatusOK, "Log in to your account")
		expectRedirect(t, e.post("/u/login?state="+id, e.form(id, "username", "jane@example.com")), "/u/login/password?state="+id)
		w = e.post("/u/login/password?state="+id, e.form(id, "password", pageTestPassword))
		expectRedirect(t, w, "/u/account")
		c := sessionCookie(w)
		expectPage(t, e.get("/u/account", c), http.StatusOK, "You have no passkeys yet.", "data-passkey-add")

		// Add a passkey through the API (no state: the session's user).
		b := e.call("/register/begin", map[string]string{}, c).ok(t)
		resp, _, err := e.auth.Create(publicKey(t, b), passkeytest.Tamper{})
		if err != nil {
			t.Fatal(err)
		}
		f := e.call("/register/finish", map[string]any{"ceremony": b.str("ceremony"), "credential": json.RawMessage(resp)}, c).ok(t)
		pk, _ := f.Body["passkey"].(map[string]any)
		pkID, _ := pk["id"].(string)
		if pkID == "" || pk["synced"] != true || pk["created_at"] == nil {
			t.Fatalf("finish answer %v", f.Body)
		}
		expectPage(t, e.get("/u/account", c), http.StatusOK, "Synced passkey", "Never", `aria-label="Delete `)

		// Rename, then a bad name.
		csrf := e.h.csrfToken("account:" + e.session(w).ID)
		form := url.Values{"csrf": {csrf}, "id": {pkID}, "name": {"Work laptop"}}
		expectRedirect(t, e.post("/u/account/passkeys/rename", form, c), "/u/account?done=renamed")
		expectPage(t, e.get("/u/account?done=renamed", c), http.StatusOK, "Work laptop", "Passkey renamed.")
		form.Set("name", " ")
		expectPage(t, e.post("/u/account/passkeys/rename", form, c), http.StatusBadRequest, "A passkey name must be")
		form.Set("csrf", "forged")
		if w := e.post("/u/account/passkeys/rename", form, c); w.Code != http.StatusForbidden {
			t.Fatalf("forged token: %d", w.Code)
		}

		// Deleting the last way to sign in is refused: jane's password lives
		// in the fake connector, so the store has none for her.
		del := url.Values{"csrf": {csrf}, "id": {pkID}}
		expectPage(t, e.post("/u/account/passkeys/delete", del, c), http.StatusConflict, "only way to log in")
		if n := e.passkeyCount(e.user.ID); n != 1 {
			t.Fatalf("%d passkeys after a refused delete", n)
		}
		if _, err := store.CreateCredential(ctx, storage.Credential{UserID: e.user.ID, Kind: storage.CredentialPassword, Secret: "x"}); err != nil {
			t.Fatal(err)
		}
		expectRedirect(t, e.post("/u/account/passkeys/delete", del, c), "/u/account?done=deleted")
		if n := e.passkeyCount(e.user.ID); n != 0 {
			t.Fatalf("%d passkeys after delete", n)
		}
	})
}

func TestPasskeyAPIRefusesHostileInput(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, store *sqlstore.Store) {
		e := newPasskeyEnv(t, store, nil)
		e.enrol(e.user)
		id := e.flow(nil)
		other := e.flow(nil)

		// A ceremony and a valid response, to replay and tamper with.
		begin := func(state string) (string, []byte) {
			b := e.call("/login/begin", map[string]string{"state": state}).ok(t)
			return b.str("ceremony"), publicKey(t, b)
		}
		finish := func(state, ceremony string, resp []byte) apiResult {
			return e.call("/login/finish", map[string]any{"state": state, "ceremony": ceremony, "credential": json.RawMessage(resp)})
		}
		get := func(opts []byte, tm passkeytest.Tamper) []byte {
			resp, err := e.auth.Get(opts, tm)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}

		for _, tc := range []struct {
			name   string
			run    func() apiResult
			status int
			code   string
		}{
			{"bad JSON", func() apiResult { return e.call("/login/begin", `{"state": `) }, 400, "invalid_request"},
			{"two objects", func() apiResult { return e.call("/login/begin", `{"state":"a"}{"state":"b"}`) }, 400, "invalid_request"},
			{"unknown state", func() apiResult { return e.call("/login/begin", map[string]string{"state": "nope"}) }, 400, "invalid_state"},
			{"no state", func() apiResult { return e.call("/login/begin", map[string]string{}) }, 400, "invalid_state"},
			{"bad hint", func() apiResult {
				return e.call("/login/begin", map[string]string{"state": id, "hint": "carrier-pigeon"})
			}, 400, "invalid_request"},
			{"forged ceremony token", func() apiResult {
				_, opts := begin(id)
				return finish(id, "login.00000000-0000-0000-0000-000000000000.AAAA", get(opts, passkeytest.Tamper{}))
			}, 400, "invalid_ceremony"},
			{"ceremony of another flow", func() apiResult {
				c, opts := begin(other)
				return finish(id, c, get(opts, passkeytest.Tamper{}))
			}, 400, "invalid_ceremony"},
			{"replayed ceremony", func() apiResult {
				c, opts := begin(id)
				resp := get(opts, passkeytest.Tamper{})
				finish(id, c, resp).ok(t)
				return finish(id, c, resp)
			}, 400, "ceremony_expired"},
			{"wrong origin", func() apiResult {
				c, opts := begin(id)
				return finish(id, c, get(opts, passkeytest.Tamper{Origin: "https://evil.example.com"}))
			}, 400, "invalid_credential"},
			{"no user verification", func() apiResult {
				c, opts := begin(id)
				return finish(id, c, get(opts, passkeytest.Tamper{ClearFlags: passkeytest.FlagUV}))
			}, 400, "user_verification_required"},
			{"credential not JSON", func() apiResult {
				c, _ := begin(id)
				return finish(id, c, []byte(`"AAAA"`))
			}, 400, "invalid_credential"},
			{"no credential", func() apiResult {
				c, _ := begin(id)
				return e.call("/login/finish", map[string]any{"state": id, "ceremony": c})
			}, 400, "invalid_request"},
			{"register without session", func() apiResult { return e.call("/register/begin", map[string]string{}) }, 401, "login_required"},
			{"sign-up with a bad email", func() apiResult {
				return e.call("/register/begin", map[string]string{"state": id, "email": "not an email"})
			}, 400, "invalid_email"},
			{"login ceremony used to register", func() apiResult {
				c, _ := begin(id)
				return e.call("/register/finish", map[string]any{"state": id, "ceremony": c, "credential": json.RawMessage(`{}`)})
			}, 400, "invalid_ceremony"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := e.passkeyCount(e.user.ID)
				tc.run().refused(t, tc.status, tc.code)
				if after := e.passkeyCount(e.user.ID); after != before {
					t.Errorf("passkeys %d → %d", before, after)
				}
			})
		}

		// Transport-level refusals.
		post := func(ct string, hd map[string]string, body string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, pageTestIssuer+"/passkey/login/begin", strings.NewReader(body))
			r.Header.Set("Content-Type", ct)
			for k, v := range hd {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			return w
		}
		for _, tc := range []struct {
			name   string
			w      *httptest.ResponseRecorder
			status int
		}{
			{"form content type", post("application/x-www-form-urlencoded", nil, "state="+id), http.StatusUnsupportedMediaType},
			{"text/plain (a CORS-simple request)", post("text/plain", nil, `{"state":"`+id+`"}`), http.StatusUnsupportedMediaType},
			{"cross-site", post("application/json", map[string]string{"Sec-Fetch-Site": "cross-site"}, `{"state":"`+id+`"}`), http.StatusForbidden},
			{"foreign origin", post("application/json", map[string]string{"Origin": "https://evil.example.com"}, `{"state":"`+id+`"}`), http.StatusForbidden},
			{"oversized", post("application/json", nil, `{"state":"`+strings.Repeat("a", maxPasskeyBody)+`"}`), http.StatusRequestEntityTooLarge},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var body map[string]string
				if tc.w.Code != tc.status || json.Unmarshal(tc.w.Body.Bytes(), &body) != nil || body["error"] == "" || body["error_description"] == "" {
					t.Fatalf("%d %s, want %d with a JSON error", tc.w.Code, tc.w.Body, tc.status)
				}
			})
		}
	})
}

func TestPasskeyPagesWithoutPasskeys(t *testing.T) {
	// A connection without passkeys keeps the password pages and refuses
	// the API.
	e := newPageEnv(t)
	id := e.flow(nil)
	w := e.get("/u/login?state=" + id)
	expectPage(t, w, http.StatusOK)
	if strings.Contains(w.Body.String(), "data-passkey-login") {
		t.Error("login page offers passkeys on a connection without them")
	}
	pk := &pkEnv{pageEnv: e}
	pk.call("/login/begin", map[string]string{"state": id}).refused(t, http.StatusForbidden, "passkeys_disabled")
}
