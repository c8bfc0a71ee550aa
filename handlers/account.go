package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// mountAccount mounts the account page, where a signed-in person manages
// their passkeys:
//
//	GET  /u/account[?connection=NAME]  list passkeys; "Add a passkey" (JSON API); login first when needed
//	POST /u/account/passkeys/rename    fields id, name, csrf
//	POST /u/account/passkeys/delete    fields id, csrf (never the last way to sign in)
//
// Design: the page needs a browser session, and a person without one logs
// in through the ordinary hosted login pages. Rather than registering an
// OAuth client for Latchkey itself, the page stores a login flow (a
// storage.AuthRequest) with no client and flowState.ReturnTo set to the
// page: the login pages work on it unchanged (passkeys, password,
// progressive enrollment), and when the person has logged in the browser
// returns to the page instead of /authorize/resume. Such a flow can never
// finish an authorization request: it has no client and no parameters.
func (h *Handler) mountAccount(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/account"), h.page(h.accountPage))
	mux.Handle("POST "+h.path("/u/account/passkeys/rename"), h.form(h.accountRename))
	mux.Handle("POST "+h.path("/u/account/passkeys/delete"), h.form(h.accountDelete))
}

// accountClient is the stand-in client of account-page login flows.
func accountClient() storage.Client {
	return storage.Client{Name: "your account", FirstParty: true}
}

// Notices of the account page, by the "done" query parameter.
var accountNotices = map[string]string{
	"added":   "Passkey added.",
	"renamed": "Passkey renamed.",
	"deleted": "Passkey deleted.",
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) {
	sess, user, rp, err := h.accountSession(r)
	if errors.Is(err, errAPILoginRequired) {
		h.accountLogin(w, r)
		return
	}
	if errors.Is(err, errAPIDisabled) {
		h.renderError(w, r, http.StatusNotFound, "Passkeys are not available", "Your account's connection does not offer passkeys.")
		return
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	h.renderAccount(w, r, http.StatusOK, sess, user, rp, accountNotices[r.URL.Query().Get("done")], "")
}

// accountLogin starts a login flow that returns to the account page.
func (h *Handler) accountLogin(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	names, err := h.opts.Connectors.Names(ctx)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	name := r.URL.Query().Get("connection")
	if name == "" && len(names) > 0 {
		name = names[0]
	}
	if !slices.Contains(names, name) {
		h.renderError(w, r, http.StatusBadRequest, "Unknown connection", "There is no such connection.")
		return
	}
	conn, err := h.opts.Store.GetConnectionByName(ctx, name)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	ret := h.path("/u/account")
	if q := r.URL.Query().Get("connection"); q != "" {
		ret += "?connection=" + url.QueryEscape(q)
	}
	state, err := json.Marshal(flowState{ReturnTo: ret})
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	now := time.Now()
	req, err := h.opts.Store.CreateAuthRequest(ctx, storage.AuthRequest{
		ConnectionID: conn.ID,
		State:        state,
		CreatedAt:    now,
		ExpiresAt:    now.Add(authRequestLifetime),
	})
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.pageURL("/u/login", req.ID))
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, sess storage.Session, user storage.User, rp *passkey.RelyingParty, notice, msg string) {
	list, err := rp.List(r.Context(), user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	d := templates.AccountData{
		Email:        user.Email,
		RenameAction: h.path("/u/account/passkeys/rename"),
		DeleteAction: h.path("/u/account/passkeys/delete"),
		API:          h.path("/passkey"),
		Notice:       notice,
		Error:        msg,
		LogoutURL:    h.path("/oidc/logout"),
	}
	for _, p := range list {
		ap := templates.AccountPasskey{
			ID: p.ID, Name: p.Name, Provider: p.Provider, Synced: p.Synced,
			Created: p.CreatedAt.UTC().Format("2 January 2006"),
		}
		if !p.LastUsedAt.IsZero() {
			ap.LastUsed = p.LastUsedAt.UTC().Format("2 January 2006, 15:04 UTC")
		}
		d.Passkeys = append(d.Passkeys, ap)
	}
	p := templates.Page{
		Lang:       h.lang(""),
		ClientName: "your account",
		CSRF:       h.csrfToken("account:" + sess.ID),
		AssetBase:  h.path("/assets"),
	}
	h.renderPage(w, r, status, p, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Account(wr, d)
	})
}

// accountForm checks a posted account form: a session and its token. When
// it returns false it has answered.
func (h *Handler) accountForm(w http.ResponseWriter, r *http.Request) (storage.Session, storage.User, *passkey.RelyingParty, bool) {
	sess, user, rp, err := h.accountSession(r)
	switch {
	case errors.Is(err, errAPILoginRequired):
		redirect(w, r, h.path("/u/account"))
		return sess, user, nil, false
	case errors.Is(err, errAPIDisabled):
		h.renderError(w, r, http.StatusNotFound, "Passkeys are not available", "Your account's connection does not offer passkeys.")
		return sess, user, nil, false
	case err != nil:
		h.renderInternalError(w, r, err)
		return sess, user, nil, false
	}
	if !h.checkCSRF(r, "account:"+sess.ID) {
		h.renderError(w, r, http.StatusForbidden, "Request blocked",
			"This form has expired or did not come from this site. Go back to your account page and try again.")
		return sess, user, nil, false
	}
	return sess, user, rp, true
}

func (h *Handler) accountRename(w http.ResponseWriter, r *http.Request) {
	sess, user, rp, ok := h.accountForm(w, r)
	if !ok {
		return
	}
	_, err := rp.Rename(r.Context(), user.ID, r.PostFormValue("id"), r.PostFormValue("name"))
	if h.accountRefused(w, r, sess, user, rp, err) {
		return
	}
	redirect(w, r, h.path("/u/account")+"?done=renamed")
}

func (h *Handler) accountDelete(w http.ResponseWriter, r *http.Request) {
	sess, user, rp, ok := h.accountForm(w, r)
	if !ok {
		return
	}
	id := r.PostFormValue("id")
	err := rp.Delete(r.Context(), user.ID, id)
	if h.accountRefused(w, r, sess, user, rp, err) {
		return
	}
	h.log.InfoContext(r.Context(), "passkey deleted", "user_id", user.ID, "passkey_id", id)
	redirect(w, r, h.path("/u/account")+"?done=deleted")
}

// accountRefused shows the page again with the reason when err is a
// refusal (400), an error page for anything else, and reports whether it
// answered.
func (h *Handler) accountRefused(w http.ResponseWriter, r *http.Request, sess storage.Session, user storage.User, rp *passkey.RelyingParty, err error) bool {
	if err == nil {
		return false
	}
	if ae := passkeyAPIError(err); ae != nil {
		h.renderAccount(w, r, ae.Status, sess, user, rp, "", ae.Description)
		return true
	}
	h.renderInternalError(w, r, err)
	return true
}
