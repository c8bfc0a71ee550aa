package handlers

import (
	"io"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// mountPasskeyPages mounts the passkey pages of a login flow:
//
//	GET  /u/login/passkey?state=ID   email first: "Use your passkey" (the user's passkeys)
//	GET  /u/signup/passkey?state=ID  sign-up: "Create a passkey"
//	GET  /u/passkey/enroll?state=ID  after a login: "Create a passkey" (progressive, local, required)
//	POST /u/passkey/enroll           "Not now" / "Remind me later", then resume
//
// The ceremonies themselves run in the browser against the JSON API
// (passkey_api.go, templates/files/assets/passkey.js).
func (h *Handler) mountPasskeyPages(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/login/passkey"), h.page(h.passkeyLoginPage))
	mux.Handle("GET "+h.path("/u/signup/passkey"), h.page(h.passkeySignupPage))
	mux.Handle("GET "+h.path("/u/passkey/enroll"), h.page(h.passkeyEnrollPage))
	mux.Handle("POST "+h.path("/u/passkey/enroll"), h.form(h.passkeyEnrollSubmit))
}

// passkeyUI is the page configuration of passkey.js for a flow; the zero
// value (no passkeys) when the flow's connection offers none.
func (h *Handler) passkeyUI(f *flow) templates.PasskeyUI {
	rp := passkeysOf(f.Conn)
	if rp == nil {
		return templates.PasskeyUI{}
	}
	ui := rp.Policy().ChallengeUI
	return templates.PasskeyUI{
		API:      h.path("/passkey"),
		State:    f.Req.ID,
		Autofill: ui == passkey.ChallengeUIBoth || ui == passkey.ChallengeUIAutofill,
		Button:   ui == passkey.ChallengeUIBoth || ui == passkey.ChallengeUIButton,
		Required: requiresPasskey(f),
	}
}

// hasPasskeys reports whether the user has at least one passkey, and
// hasPassword whether they have a password.
func (h *Handler) userCredentials(r *http.Request, userID string) (hasPasskeys, hasPassword bool, err error) {
	pks, err := h.opts.Store.ListCredentials(r.Context(), userID, storage.CredentialWebAuthn)
	if err != nil {
		return false, false, err
	}
	pws, err := h.opts.Store.ListCredentials(r.Context(), userID, storage.CredentialPassword)
	if err != nil {
		return false, false, err
	}
	return len(pks) > 0, len(pws) > 0, nil
}

// passkeyLoginPage is the email-first login's passkey step: "Continue" runs
// a login with the user's passkeys (allowCredentials); "Try another way"
// leads to the password page when the user has a password and the request
// does not demand a passkey.
func (h *Handler) passkeyLoginPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	ui := h.passkeyUI(f)
	if f.State.Identifier == "" || ui.API == "" {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return
	}
	d := templates.PasskeyLoginData{
		Email:    f.State.Identifier,
		EditURL:  h.pageURL("/u/login", f.Req.ID),
		Passkeys: ui,
	}
	if _, ok := f.Conn.(passkeyRecoverer); ok {
		d.RecoverURL = h.pageURL(pathRecoverPasskey+"/request", f.Req.ID)
	}
	if u, err := h.lookupUser(r.Context(), f, f.State.Identifier); err == nil {
		if _, hasPassword, err := h.userCredentials(r, u.ID); err == nil && hasPassword && !ui.Required {
			d.PasswordURL = h.pageURL("/u/login/password", f.Req.ID)
		}
	}
	h.renderFlow(w, r, f, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.PasskeyLogin(wr, d)
	})
}

// passkeySignupAllowed reports whether the flow may sign up with a passkey
// only: sign-up allowed and a passkey policy allowing passkey-only accounts.
func (h *Handler) passkeySignupAllowed(f *flow) bool {
	rp := passkeysOf(f.Conn)
	return rp != nil && rp.Policy().AllowPasskeyOnly && h.signupConnector(f) != nil && f.State.ReturnTo == ""
}

// passkeySignupPage is sign-up's "Create a passkey" page, after the email.
func (h *Handler) passkeySignupPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	if !h.passkeySignupAllowed(f) || f.State.Identifier == "" {
		redirect(w, r, h.pageURL("/u/signup", f.Req.ID))
		return
	}
	d := templates.PasskeyData{
		Variant:     "signup",
		Email:       f.State.Identifier,
		Passkeys:    h.passkeyUI(f),
		PasswordURL: h.pageURL("/u/signup", f.Req.ID) + "&method=password",
		EditURL:     h.pageURL("/u/signup", f.Req.ID),
	}
	h.renderFlow(w, r, f, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Passkey(wr, d)
	})
}

// passkeyEnrollPage offers a passkey after a login (flowState.PasskeyOffer).
func (h *Handler) passkeyEnrollPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	_, u, loggedIn := h.flowSession(r, f.Req.ConnectionID)
	ui := h.passkeyUI(f)
	if f.State.PasskeyOffer == "" || !loggedIn || ui.API == "" {
		redirect(w, r, h.afterLoginURL(f))
		return
	}
	d := templates.PasskeyData{
		Variant:  f.State.PasskeyOffer,
		Email:    u.Email,
		Passkeys: ui,
		Action:   h.pageURL("/u/passkey/enroll", f.Req.ID),
	}
	h.renderFlow(w, r, f, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Passkey(wr, d)
	})
}

// passkeyEnrollSubmit answers the offer: "Not now" (asked again at the
// next password login) or "Remind me later" (not asked for 30 days).
func (h *Handler) passkeyEnrollSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if _, u, loggedIn := h.flowSession(r, f.Req.ConnectionID); loggedIn && r.PostFormValue("action") == "later" && f.State.PasskeyOffer == offerProgressive {
		md := readPasskeyMetadata(u)
		md.RemindAfter = time.Now().Add(remindLater).UTC().Truncate(time.Second)
		if err := h.writePasskeyMetadata(ctx, u.ID, md); err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "passkey enrollment postponed", "user_id", u.ID, "until", md.RemindAfter)
	}
	if err := h.saveFlowState(ctx, f, func(s *flowState) { s.PasskeyOffer = "" }); err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	next := h.afterLoginURL(f)
	if f.State.ReturnTo != "" {
		h.endFlow(ctx, f)
	}
	redirect(w, r, next)
}
