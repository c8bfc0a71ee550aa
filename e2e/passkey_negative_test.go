package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// negCase is one hostile exchange with the passkey JSON API. prepare does
// whatever legitimate set-up the case needs (begin a ceremony, log in once)
// and returns the hostile request; the harness snapshots the store between
// the two, then checks that the answer is a 4xx with an OAuth-style error
// and a description, and that nothing changed: no user, no credential, no
// counter, no session, no session cookie.
type negCase struct {
	name string
	// account: run the case in Alice's signed-in browser instead of a new
	// one (for registrations of a second passkey).
	account func() *browser
	prepare func(t *testing.T, b *browser) func() jsonResponse
	// statuses, when set, are the statuses expected; otherwise any 4xx.
	statuses []int
	// words: the error_description mentions one of them (lower case).
	words []string
}

// TestPasskeyAPINegative sends hostile ceremony responses and requests to
// the passkey JSON API, on SQLite and PostgreSQL, with the software
// authenticator of connector/passkey/passkeytest.
func TestPasskeyAPINegative(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		negativeCases(t, newPasskeyEnv(t, s, 1).env)
	})
}

func negativeCases(t *testing.T, e *env) {
	// Fixtures: Alice and Bob with a synced passkey each, made through the
	// connector; Alice logs in once over HTTP (her counter is then 1 and
	// aliceB is a signed-in browser); Max has the one passkey his
	// connection allows and a signed-in browser.
	authA := passkeytest.New(e.issuer)
	alice, credA := e.passkeyUser(t, authA, "", "pk-alice@example.com")
	authB := passkeytest.New(e.issuer)
	bob, credB := e.passkeyUser(t, authB, "", "pk-bob@example.com")
	_ = bob
	aliceB := e.newBrowser(t)
	e.passkeyLogin(t, aliceB, e.authz(t, webClient, "openid"), authA, "")
	authX := passkeytest.New(e.issuer)
	blocked, _ := e.passkeyUser(t, authX, "", "pk-blocked@example.com")
	if _, err := e.store.UpdateUser(bg(), blocked.ID, func(u *storage.User) error { u.Blocked = true; return nil }); err != nil {
		t.Fatalf("block user: %v", err)
	}
	authM := passkeytest.New(e.issuer)
	e.passkeyUser(t, authM, connMaxOne, "pk-max@example.com")
	maxB := e.newBrowser(t)
	e.passkeyLogin(t, maxB, e.authz(t, webClient, "openid").set("connection", connMaxOne), authM, "")

	// login begins a login ceremony (discoverable, or email first) in b.
	login := func(t *testing.T, b *browser, email string) (string, ceremony) {
		t.Helper()
		state := e.loginState(t, b, e.authz(t, webClient, "openid"))
		body := map[string]any{"state": state}
		if email != "" {
			body["email"] = email
		}
		return state, e.mustBegin(t, b, pathLoginBegin, body)
	}
	// signup begins a sign-up ceremony on a connection in b.
	signup := func(t *testing.T, b *browser, conn, email string) (string, ceremony) {
		t.Helper()
		a := e.authz(t, webClient, "openid").set("prompt", "create").set("connection", conn)
		p := b.get(t, a.String())
		if p.Location != nil || p.path() != "/u/signup" {
			t.Fatalf("prompt=create: want the sign-up page, got %s (Location %v)", p.URL, p.Location)
		}
		state := p.URL.Query().Get("state")
		return state, e.mustBegin(t, b, pathRegisterBegin, map[string]any{"state": state, "email": email})
	}
	finishLogin := func(b *browser, state string, c ceremony, cred any, hdr map[string]string) func() jsonResponse {
		return func() jsonResponse {
			return e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": cred}, hdr)
		}
	}
	finishRegister := func(b *browser, state string, c ceremony, cred any) func() jsonResponse {
		return func() jsonResponse {
			body := map[string]any{"ceremony": c.ID, "credential": cred}
			if state != "" {
				body["state"] = state
			}
			return e.apiPost(t, b, pathRegisterFinish, body, nil)
		}
	}
	// assertion answers a login ceremony with authA, tampered.
	assertion := func(t *testing.T, auth *passkeytest.Authenticator, c ceremony, tm passkeytest.Tamper) json.RawMessage {
		t.Helper()
		resp, err := auth.Get(c.PublicKey, tm)
		if err != nil {
			t.Fatalf("authenticator get: %v", err)
		}
		return resp
	}
	attestation := func(t *testing.T, auth *passkeytest.Authenticator, c ceremony, tm passkeytest.Tamper) json.RawMessage {
		t.Helper()
		resp, _, err := auth.Create(c.PublicKey, tm)
		if err != nil {
			t.Fatalf("authenticator create: %v", err)
		}
		return resp
	}
	// hostileLogin is the common shape: a discoverable login by Alice's
	// authenticator with tm applied.
	hostileLogin := func(tm passkeytest.Tamper) func(t *testing.T, b *browser) func() jsonResponse {
		return func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			return finishLogin(b, state, c, assertion(t, authA, c, tm), nil)
		}
	}
	// hostileSignup: a sign-up of a new email on conn by auth with tm.
	hostileSignup := func(conn string, auth func() *passkeytest.Authenticator, tm passkeytest.Tamper) func(t *testing.T, b *browser) func() jsonResponse {
		return func(t *testing.T, b *browser) func() jsonResponse {
			state, c := signup(t, b, conn, "mallory-"+strings.ToLower(randomString(t, 6))+"@example.com")
			return finishRegister(b, state, c, attestation(t, auth(), c, tm))
		}
	}
	fresh := func() *passkeytest.Authenticator { return passkeytest.New(e.issuer) }
	ceremonyWords := []string{"ceremony", "expired", "used", "start again", "try again"}

	cases := []negCase{
		{name: "bad_json", words: []string{"json", "request", "malformed", "invalid"}, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			return func() jsonResponse {
				return e.apiPost(t, b, pathLoginFinish, []byte(`{"state":"`+state+`","ceremony":"`+c.ID+`","credential":{"id":`), nil)
			}
		}},
		{name: "credential_not_an_object", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			return finishLogin(b, state, c, "not a credential", nil)
		}},
		{name: "bad_base64url", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			resp := mutate(t, assertion(t, authA, c, passkeytest.Tamper{}), func(m map[string]any) {
				m["response"].(map[string]any)["clientDataJSON"] = "*** not base64url ***"
			})
			return finishLogin(b, state, c, resp, nil)
		}},
		{name: "bad_cbor", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := signup(t, b, "", "cbor@example.com")
			resp := mutate(t, attestation(t, fresh(), c, passkeytest.Tamper{}), func(m map[string]any) {
				m["response"].(map[string]any)["attestationObject"] = base64.RawURLEncoding.EncodeToString([]byte{0xa3, 0x63, 'f', 'm', 't', 0xff, 0x00, 0x1f})
			})
			return finishRegister(b, state, c, resp)
		}},
		{name: "wrong_type", prepare: hostileLogin(passkeytest.Tamper{Type: "webauthn.create"})},
		{name: "wrong_origin", words: []string{"origin"}, prepare: hostileLogin(passkeytest.Tamper{Origin: "https://evil.example"})},
		{name: "wrong_rp_id_hash", prepare: hostileLogin(passkeytest.Tamper{RPID: "evil.example"})},
		{name: "wrong_challenge", prepare: hostileLogin(passkeytest.Tamper{Challenge: randomBytes(t, 32)})},
		{name: "missing_user_presence", prepare: hostileLogin(passkeytest.Tamper{ClearFlags: passkeytest.FlagUP})},
		{name: "missing_user_verification", words: []string{"verif"}, prepare: hostileLogin(passkeytest.Tamper{ClearFlags: passkeytest.FlagUV})},
		{name: "backup_eligibility_flipped", prepare: hostileLogin(passkeytest.Tamper{ClearFlags: passkeytest.FlagBE | passkeytest.FlagBS})},
		{name: "backup_state_without_eligibility_login", prepare: hostileLogin(passkeytest.Tamper{ClearFlags: passkeytest.FlagBE})},
		{name: "bad_signature", prepare: hostileLogin(passkeytest.Tamper{CorruptSignature: true})},
		{name: "unknown_credential", prepare: hostileLogin(passkeytest.Tamper{Credential: strayCredential(t, credA.UserHandle)})},
		{name: "user_handle_of_another_user", prepare: hostileLogin(passkeytest.Tamper{UserHandle: credB.UserHandle})},
		{name: "sign_count_regression", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			stored := storedCount(t, e, alice.ID)
			if stored == 0 {
				t.Fatalf("Alice's counter is 0 after a login: the regression case would test nothing")
			}
			return finishLogin(b, state, c, assertion(t, authA, c, passkeytest.Tamper{SignCount: &stored}), nil)
		}},
		{name: "email_first_with_another_users_passkey", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, alice.Email)
			return finishLogin(b, state, c, assertion(t, authB, c, passkeytest.Tamper{Credential: credB}), nil)
		}},
		{name: "replayed_ceremony", words: ceremonyWords, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			resp := assertion(t, authA, c, passkeytest.Tamper{})
			first := finishLogin(b, state, c, resp, nil)()
			if first.Status != http.StatusOK {
				t.Fatalf("the first finish failed: %d %s", first.Status, first.Raw)
			}
			// A new browser replays the captured request.
			return finishLogin(e.newBrowser(t), state, c, resp, nil)
		}},
		{name: "expired_ceremony", words: ceremonyWords, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			expireCeremony(t, e, passkey.KindLogin, ceremonyStoreID(c.ID))
			return finishLogin(b, state, c, assertion(t, authA, c, passkeytest.Tamper{}), nil)
		}},
		{name: "unknown_ceremony", words: ceremonyWords, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			resp := assertion(t, authA, c, passkeytest.Tamper{})
			c.ID = "no-such-ceremony"
			return finishLogin(b, state, c, resp, nil)
		}},
		{name: "registration_ceremony_used_for_login", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			_, reg := signup(t, b, "", "confused@example.com")
			state, c := login(t, b, "")
			resp := assertion(t, authA, c, passkeytest.Tamper{})
			return finishLogin(b, state, reg, resp, nil)
		}},
		{name: "login_ceremony_used_for_registration", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			_, lc := login(t, b, "")
			state, c := signup(t, b, "", "confused2@example.com")
			return finishRegister(b, state, lc, attestation(t, fresh(), c, passkeytest.Tamper{}))
		}},
		{name: "unknown_state", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			_, c := login(t, b, "")
			return finishLogin(b, "no-such-state", c, assertion(t, authA, c, passkeytest.Tamper{}), nil)
		}},
		{name: "registration_wrong_origin", words: []string{"origin"}, prepare: hostileSignup("", fresh, passkeytest.Tamper{Origin: "https://evil.example"})},
		{name: "registration_wrong_rp_id_hash", prepare: hostileSignup("", fresh, passkeytest.Tamper{RPID: "evil.example"})},
		{name: "registration_wrong_type", prepare: hostileSignup("", fresh, passkeytest.Tamper{Type: "webauthn.get"})},
		{name: "registration_missing_user_verification", words: []string{"verif"}, prepare: hostileSignup("", fresh, passkeytest.Tamper{ClearFlags: passkeytest.FlagUV})},
		{name: "registration_backup_state_without_eligibility", prepare: hostileSignup("", fresh, passkeytest.Tamper{SetFlags: passkeytest.FlagBS, ClearFlags: passkeytest.FlagBE})},
		{name: "credential_registered_to_another_user", prepare: hostileSignup("", func() *passkeytest.Authenticator { return authA }, passkeytest.Tamper{Credential: credA})},
		{name: "device_bound_only_policy_vs_synced_key", prepare: hostileSignup(connDeviceBound, fresh, passkeytest.Tamper{})},
		{name: "aaguid_denied", prepare: hostileSignup(connDenyVirtual, fresh, passkeytest.Tamper{})},
		{name: "excluded_credential", account: func() *browser { return aliceB }, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			c := e.mustBegin(t, b, pathRegisterBegin, map[string]any{})
			if !strings.Contains(string(c.PublicKey), base64.RawURLEncoding.EncodeToString(credA.ID)) {
				t.Errorf("registration options do not exclude Alice's passkey: %s", c.PublicKey)
			}
			return finishRegister(b, "", c, attestation(t, authA, c, passkeytest.Tamper{Credential: credA}))
		}},
		{name: "max_passkeys", account: func() *browser { return maxB }, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			r := e.apiPost(t, b, pathRegisterBegin, map[string]any{}, nil)
			if r.Status != http.StatusOK { // refused at begin: judge that answer
				return func() jsonResponse { return e.apiPost(t, b, pathRegisterBegin, map[string]any{}, nil) }
			}
			c, err := parseCeremony(r)
			if err != nil {
				t.Fatal(err)
			}
			return finishRegister(b, "", c, attestation(t, fresh(), c, passkeytest.Tamper{}))
		}},
		{name: "oversized_body", statuses: []int{http.StatusRequestEntityTooLarge, http.StatusBadRequest}, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			big := strings.Repeat("A", 2<<20)
			return finishLogin(b, state, c, map[string]any{"id": big, "rawId": big, "type": "public-key"}, nil)
		}},
		{name: "wrong_content_type", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			// A valid answer sent as text/plain, the content type a
			// cross-site form or no-cors fetch can send.
			state, c := login(t, b, "")
			return finishLogin(b, state, c, assertion(t, authA, c, passkeytest.Tamper{}), map[string]string{"Content-Type": "text/plain"})
		}},
		{name: "cross_site_origin", statuses: []int{http.StatusForbidden}, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			return finishLogin(b, state, c, assertion(t, authA, c, passkeytest.Tamper{}),
				map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
		}},
		{name: "ceremony_of_another_flow", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			_, c := login(t, b, "")
			other := e.loginState(t, b, e.authz(t, webClient, "openid"))
			return finishLogin(b, other, c, assertion(t, authA, c, passkeytest.Tamper{}), nil)
		}},
		{name: "passkey_of_another_connection", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state := e.loginState(t, b, e.authz(t, webClient, "openid").set("connection", connButton))
			c := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
			return finishLogin(b, state, c, assertion(t, authA, c, passkeytest.Tamper{Credential: credA}), nil)
		}},
		{name: "blocked_user", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state, c := login(t, b, "")
			return finishLogin(b, state, c, assertion(t, authX, c, passkeytest.Tamper{}), nil)
		}},
		{name: "signup_existing_email", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			a := e.authz(t, webClient, "openid").set("prompt", "create")
			p := b.get(t, a.String())
			state := p.URL.Query().Get("state")
			return func() jsonResponse {
				return e.apiPost(t, b, pathRegisterBegin, map[string]any{"state": state, "email": alice.Email}, nil)
			}
		}},
		{name: "signup_on_connection_without_signup", prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state := e.loginState(t, b, e.authz(t, webClient, "openid").set("connection", inviteOnlyConnection))
			return func() jsonResponse {
				return e.apiPost(t, b, pathRegisterBegin, map[string]any{"state": state, "email": "uninvited@example.com"}, nil)
			}
		}},
		{name: "cross_site_begin", statuses: []int{http.StatusForbidden}, prepare: func(t *testing.T, b *browser) func() jsonResponse {
			state := e.loginState(t, b, e.authz(t, webClient, "openid"))
			return func() jsonResponse {
				return e.apiPost(t, b, pathLoginBegin, map[string]any{"state": state},
					map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
			}
		}},
	}
	// The error codes docs/passkeys-api.md documents for each case (and
	// the policy rule, after a slash).
	codes := map[string]string{
		"bad_json": "invalid_request", "credential_not_an_object": "invalid_credential",
		"bad_base64url": "invalid_credential", "bad_cbor": "invalid_credential",
		"wrong_type": "invalid_credential", "wrong_origin": "invalid_credential",
		"wrong_rp_id_hash": "invalid_credential", "wrong_challenge": "invalid_credential",
		"missing_user_presence": "invalid_credential", "missing_user_verification": "user_verification_required",
		"backup_eligibility_flipped": "invalid_credential", "backup_state_without_eligibility_login": "invalid_credential",
		"bad_signature": "invalid_credential", "unknown_credential": "unknown_passkey",
		"user_handle_of_another_user": "invalid_credential", "sign_count_regression": "passkey_cloned",
		"email_first_with_another_users_passkey": "unknown_passkey", "replayed_ceremony": "ceremony_expired",
		"expired_ceremony": "ceremony_expired", "unknown_ceremony": "invalid_ceremony",
		"registration_ceremony_used_for_login": "invalid_ceremony", "login_ceremony_used_for_registration": "invalid_ceremony",
		"unknown_state": "invalid_state", "registration_wrong_origin": "invalid_credential",
		"registration_wrong_rp_id_hash": "invalid_credential", "registration_wrong_type": "invalid_credential",
		"registration_missing_user_verification":        "user_verification_required",
		"registration_backup_state_without_eligibility": "invalid_credential",
		"credential_registered_to_another_user":         "passkey_exists",
		"device_bound_only_policy_vs_synced_key":        "passkey_policy/allow_synced",
		"aaguid_denied":                                 "passkey_policy/aaguid_deny", "excluded_credential": "passkey_exists",
		"max_passkeys": "passkey_policy/max_passkeys", "oversized_body": "invalid_request",
		"wrong_content_type": "invalid_request", "cross_site_origin": "cross_origin_request",
		"ceremony_of_another_flow": "invalid_ceremony", "passkey_of_another_connection": "unknown_passkey",
		"blocked_user": "user_blocked", "signup_existing_email": "user_exists",
		"signup_on_connection_without_signup": "signup_disabled", "cross_site_begin": "cross_origin_request",
	}
	if len(cases) < 25 {
		t.Fatalf("only %d negative cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.newBrowser(t)
			if c.account != nil {
				b = c.account()
			}
			act := c.prepare(t, b)
			before := e.snapshot(t)
			mark := len(*b.setCookies)
			r := act()
			if c.statuses != nil && !slices.Contains(c.statuses, r.Status) {
				t.Errorf("status %d, want one of %v: %s", r.Status, c.statuses, excerpt(r.Raw))
			} else if r.Status < 400 || r.Status > 499 {
				t.Errorf("status %d, want a 4xx: %s", r.Status, excerpt(r.Raw))
			}
			desc := r.str("error_description")
			if r.str("error") == "" || desc == "" {
				t.Errorf("answer lacks error and error_description: %s (Content-Type %q)", excerpt(r.Raw), r.Header.Get("Content-Type"))
			} else if len(c.words) > 0 && !containsAny(strings.ToLower(desc), c.words) {
				t.Errorf("error_description %q does not say what failed (want one of %q)", desc, c.words)
			}
			if want, ok := codes[c.name]; !ok {
				t.Errorf("no documented error code for case %s", c.name)
			} else if code, rule, _ := strings.Cut(want, "/"); r.str("error") != code || r.str("rule") != rule {
				t.Errorf("error %q rule %q, want %q %q (docs/passkeys-api.md)", r.str("error"), r.str("rule"), code, rule)
			}
			// Go's formatting of a nil error or a bad verb is not a reason.
			if containsAny(desc, []string{"<nil>", "%!"}) {
				t.Errorf("error_description shows a formatting artefact: %q", desc)
			}
			if d := before.diff(e.snapshot(t)); d != "" {
				t.Errorf("a refused request changed the store:\n%s", d)
			}
			if b.sessionCookieSet(mark) {
				t.Errorf("a refused request set a session cookie")
			}
			t.Logf("%d %s: %s", r.Status, r.str("error"), desc)
		})
	}
}

// mutate rewrites a response JSON.
func mutate(t testing.TB, resp []byte, fn func(map[string]any)) json.RawMessage {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(resp, &m); err != nil {
		t.Fatalf("parse response: %v", err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strayCredential is a credential no relying party registered.
func strayCredential(t testing.TB, userHandle []byte) *passkeytest.Credential {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &passkeytest.Credential{ID: randomBytes(t, 32), RPID: "localhost", UserHandle: userHandle, Key: k}
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// storedCount is the signature counter stored for the user's one passkey.
func storedCount(t testing.TB, e *env, userID string) uint32 {
	t.Helper()
	cs := e.credentialsOf(t, userID)
	if len(cs) != 1 {
		t.Fatalf("user %s has %d passkeys, want 1", userID, len(cs))
	}
	return cs[0].SignCount
}

// expireCeremony makes a begun ceremony expired by the relying party's
// clock while the store still holds it: the state's own expiry is moved
// into the past.
func expireCeremony(t testing.TB, e *env, kind, id string) {
	t.Helper()
	ch, err := e.store.ConsumeChallenge(bg(), kind, id)
	if err != nil {
		t.Fatalf("take ceremony %s: %v", id, err)
	}
	var st map[string]any
	if err := json.Unmarshal(ch.Data, &st); err != nil {
		t.Fatalf("ceremony state: %v", err)
	}
	past := time.Now().Add(-time.Second).UTC()
	st["expires_at"] = past.Format(time.RFC3339Nano)
	if ch.Data, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	ch.ExpiresAt = time.Now().Add(time.Hour)
	if _, err := e.store.CreateChallenge(bg(), ch); err != nil {
		t.Fatalf("put ceremony back: %v", err)
	}
}

// ceremonyStoreID is the passkey package's ceremony ID inside the API's
// ceremony token ("<purpose>.<ID>.<MAC>", see handlers/passkey.go), or the
// token itself when it has no such shape.
func ceremonyStoreID(tok string) string {
	_, rest, ok := strings.Cut(tok, ".")
	i := strings.LastIndexByte(rest, '.')
	if !ok || i <= 0 {
		return tok
	}
	return rest[:i]
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
