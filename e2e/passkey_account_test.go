package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestPasskeyAccount: the account page's management of passkeys over HTTP,
// on SQLite and PostgreSQL. A user manages only their own passkeys, never
// deletes their last way to sign in, and every form needs the page's
// token and a same-site request; an account ceremony is bound to the
// session that began it. Each refusal leaves the store unchanged.
func TestPasskeyAccount(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newPasskeyEnv(t, s, 1)
		authP := passkeytest.New(e.issuer)
		pat, _ := e.passkeyUser(t, authP, "", "pk-pat@example.com") // passkey only
		authQ := passkeytest.New(e.issuer)
		quinn, _ := e.passkeyUser(t, authQ, "", "pk-quinn@example.com")
		patB, quinnB := e.newBrowser(t), e.newBrowser(t)
		e.passkeyLogin(t, patB, e.authz(t, webClient, "openid"), authP, "")
		e.passkeyLogin(t, quinnB, e.authz(t, webClient, "openid"), authQ, "")
		patKey := e.credentialsOf(t, pat.ID)[0]
		quinnKey := e.credentialsOf(t, quinn.ID)[0]

		acct := patB.get(t, e.url("/u/account"))
		if acct.Status != http.StatusOK || !strings.Contains(acct.Body, patKey.Name) {
			t.Fatalf("account page: status %d, passkey %q not listed:\n%s", acct.Status, patKey.Name, excerpt(acct.Body))
		}
		if strings.Contains(acct.Body, quinnKey.ID) {
			t.Errorf("Pat's account page shows Quinn's passkey")
		}
		csrf := formValue(t, acct, "csrf")

		post := func(b *browser, path string, vals url.Values, hdr http.Header) *page {
			req, err := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(vals.Encode()))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", b.origin)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("Sec-Fetch-Mode", "navigate")
			for k, v := range hdr {
				req.Header[k] = v
			}
			return b.do(t, req)
		}
		refused := []struct {
			name string
			do   func() (status int, body string)
		}{
			{"delete_last_way_to_sign_in", func() (int, string) {
				p := post(patB, "/u/account/passkeys/delete", url.Values{"csrf": {csrf}, "id": {patKey.ID}}, nil)
				return p.Status, p.Body
			}},
			{"delete_another_users_passkey", func() (int, string) {
				p := post(patB, "/u/account/passkeys/delete", url.Values{"csrf": {csrf}, "id": {quinnKey.ID}}, nil)
				return p.Status, p.Body
			}},
			{"rename_another_users_passkey", func() (int, string) {
				p := post(patB, "/u/account/passkeys/rename", url.Values{"csrf": {csrf}, "id": {quinnKey.ID}, "name": {"Mine now"}}, nil)
				return p.Status, p.Body
			}},
			{"rename_empty", func() (int, string) {
				p := post(patB, "/u/account/passkeys/rename", url.Values{"csrf": {csrf}, "id": {patKey.ID}, "name": {"  "}}, nil)
				return p.Status, p.Body
			}},
			{"rename_too_long", func() (int, string) {
				p := post(patB, "/u/account/passkeys/rename", url.Values{"csrf": {csrf}, "id": {patKey.ID}, "name": {strings.Repeat("n", 65)}}, nil)
				return p.Status, p.Body
			}},
			{"rename_control_characters", func() (int, string) {
				p := post(patB, "/u/account/passkeys/rename", url.Values{"csrf": {csrf}, "id": {patKey.ID}, "name": {"bad\x07name"}}, nil)
				return p.Status, p.Body
			}},
			{"delete_without_token", func() (int, string) {
				p := post(patB, "/u/account/passkeys/delete", url.Values{"id": {patKey.ID}}, nil)
				return p.Status, p.Body
			}},
			{"delete_with_another_sessions_token", func() (int, string) {
				p := post(quinnB, "/u/account/passkeys/delete", url.Values{"csrf": {csrf}, "id": {quinnKey.ID}}, nil)
				return p.Status, p.Body
			}},
			{"delete_cross_site", func() (int, string) {
				p := post(patB, "/u/account/passkeys/delete", url.Values{"csrf": {csrf}, "id": {patKey.ID}},
					http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}})
				return p.Status, p.Body
			}},
			{"register_begin_without_session", func() (int, string) {
				r := e.apiPost(t, e.newBrowser(t), pathRegisterBegin, map[string]any{}, nil)
				return r.Status, r.str("error_description")
			}},
			{"register_begin_bad_hint", func() (int, string) {
				r := e.apiPost(t, patB, pathRegisterBegin, map[string]any{"hint": "carrier-pigeon"}, nil)
				return r.Status, r.str("error_description")
			}},
			{"signup_without_state", func() (int, string) {
				r := e.apiPost(t, patB, pathRegisterBegin, map[string]any{"email": "someone@example.com"}, nil)
				return r.Status, r.str("error_description")
			}},
			{"account_ceremony_finished_by_another_session", func() (int, string) {
				c := e.mustBegin(t, patB, pathRegisterBegin, map[string]any{})
				resp, _, err := passkeytest.New(e.issuer).Create(c.PublicKey, passkeytest.Tamper{})
				if err != nil {
					t.Fatal(err)
				}
				r := e.apiPost(t, quinnB, pathRegisterFinish, map[string]any{"ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
				return r.Status, r.str("error_description")
			}},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				before := e.snapshot(t)
				status, body := c.do()
				if status < 400 || status > 499 {
					t.Errorf("status %d, want a 4xx:\n%s", status, excerpt(body))
				}
				if d := before.diff(e.snapshot(t)); d != "" {
					t.Errorf("a refused request changed the store:\n%s", d)
				}
			})
		}

		t.Run("add_rename_delete", func(t *testing.T) {
			// Pat adds a second passkey from the account page (the JSON API
			// without state), renames it, and may now delete the first.
			c := e.mustBegin(t, patB, pathRegisterBegin, map[string]any{})
			second := passkeytest.New(e.issuer)
			resp, _, err := second.Create(c.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			r := e.apiPost(t, patB, pathRegisterFinish, map[string]any{"ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
			pk, _ := r.Body["passkey"].(map[string]any)
			id, _ := pk["id"].(string)
			if r.Status != http.StatusOK || id == "" {
				t.Fatalf("add a passkey: %d %s", r.Status, r.Raw)
			}
			p := post(patB, "/u/account/passkeys/rename", url.Values{"csrf": {csrf}, "id": {id}, "name": {"Backup key"}}, nil)
			if p.Status >= 400 {
				t.Fatalf("rename: status %d", p.Status)
			}
			p = post(patB, "/u/account/passkeys/delete", url.Values{"csrf": {csrf}, "id": {patKey.ID}}, nil)
			if p.Status >= 400 {
				t.Fatalf("delete: status %d", p.Status)
			}
			cs := e.credentialsOf(t, pat.ID)
			if len(cs) != 1 || cs[0].ID != id || cs[0].Name != "Backup key" {
				t.Fatalf("after add, rename and delete: %+v", cs)
			}
			// The deleted passkey no longer logs in; the new one does.
			b := e.newBrowser(t)
			state := e.loginState(t, b, e.authz(t, webClient, "openid"))
			cer := e.mustBegin(t, b, pathLoginBegin, map[string]any{"state": state})
			old, err := authP.Get(cer.PublicKey, passkeytest.Tamper{})
			if err != nil {
				t.Fatal(err)
			}
			if r := e.apiPost(t, b, pathLoginFinish, map[string]any{"state": state, "ceremony": cer.ID, "credential": json.RawMessage(old)}, nil); r.Status != http.StatusBadRequest {
				t.Errorf("login with a deleted passkey: %d %s", r.Status, r.Raw)
			}
			e.passkeyLogin(t, b, e.authz(t, webClient, "openid"), second, "")
		})
	})
}

// formValue returns the value of the first input named name on the page.
func formValue(t testing.TB, p *page, name string) string {
	t.Helper()
	for _, f := range parseForms(t, p) {
		for _, in := range f.inputs {
			if in.name == name && in.value != "" {
				return in.value
			}
		}
	}
	t.Fatalf("no input %q on %s", name, p.URL)
	return ""
}
