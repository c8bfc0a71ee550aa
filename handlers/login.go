package handlers

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// maxIdentifierLen bounds an email address (RFC 5321 path limit).
const maxIdentifierLen = 320

// Messages of the login pages. They follow Auth0's Universal Login wording
// and never say whether an account exists when sign-up is disabled.
const (
	msgEnterEmail       = "Please enter an email address."
	msgWrongCredentials = "Wrong email or password."
	msgBlocked          = "Your account has been blocked. Contact the application's support."
	// msgLoginBlocked is Auth0's brute-force message.
	msgLoginBlocked  = "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it."
	msgEnterPassword = "Please enter your password."
)

// mountLogin mounts the identifier-first login pages:
//
//	GET  /u/login?state=ID           the identifier (email) page
//	POST /u/login                    look the identifier up, go on to the password or sign-up page
//	GET  /u/login/password?state=ID  the password page
//	POST /u/login/password           verify the password, start the session, resume /authorize
func (h *Handler) mountLogin(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/login"), h.page(h.loginPage))
	mux.Handle("POST "+h.path("/u/login"), h.form(h.loginSubmit))
	mux.Handle("GET "+h.path("/u/login/password"), h.page(h.passwordPage))
	mux.Handle("POST "+h.path("/u/login/password"), h.form(h.passwordSubmit))
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	// prompt=create opens sign-up; "from=signup" marks the sign-up page's
	// "Log in" link so that it does not bounce straight back.
	if hasPrompt(f.Form, "create") && r.URL.Query().Get("from") != "signup" && h.signupConnector(f) != nil {
		redirect(w, r, h.pageURL("/u/signup", f.Req.ID))
		return
	}
	email := f.State.Identifier
	if email == "" {
		email = truncate(strings.TrimSpace(f.Form.Get("login_hint")), maxIdentifierLen)
	}
	h.renderLogin(w, r, f, http.StatusOK, email, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, f *flow, status int, email, msg string) {
	d := templates.LoginData{
		Action:   h.pageURL("/u/login", f.Req.ID),
		Email:    email,
		Error:    msg,
		Passkeys: h.passkeyUI(f),
	}
	d.UsernameLogin = usernameRequired(f.Conn)
	if h.signupConnector(f) != nil {
		d.SignupURL = h.pageURL("/u/signup", f.Req.ID)
	}
	h.renderFlow(w, r, f, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Login(wr, d)
	})
}

func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	pc, ok := f.Conn.(connector.PasswordConnector)
	if !ok {
		h.renderError(w, r, http.StatusBadRequest, "Password login is not available",
			"This application's connection does not accept passwords.")
		return
	}
	email := normalizeIdentifier(r.PostFormValue("username"))
	if email == "" || len(email) > maxIdentifierLen {
		h.renderLogin(w, r, f, http.StatusBadRequest, truncate(email, maxIdentifierLen), msgEnterEmail)
		return
	}
	u, err := pc.LookupUser(r.Context(), email)
	found := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.renderInternalError(w, r, err)
		return
	}
	if err := h.saveFlowState(r.Context(), f, func(s *flowState) { s.Identifier = email }); err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	// Auth0's identifier-first flow shows sign-up for an unknown email when
	// the connection allows it. When it does not, the password page follows
	// either way and the password step answers "Wrong email or password.",
	// so the page does not tell who has an account.
	if !found && validEmail(email) && h.signupConnector(f) != nil && f.State.ReturnTo == "" {
		redirect(w, r, h.pageURL("/u/signup", f.Req.ID))
		return
	}
	// Email first with passkeys: a user who has one gets the passkey step
	// (Auth0 does the same), whose "Try another way" leads to the password.
	if found && passkeysOf(f.Conn) != nil {
		hasPasskeys, _, err := h.userCredentials(r, u.ID)
		if err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		if hasPasskeys {
			redirect(w, r, h.pageURL("/u/login/passkey", f.Req.ID))
			return
		}
	}
	redirect(w, r, h.pageURL("/u/login/password", f.Req.ID))
}

func (h *Handler) passwordPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	if f.State.Identifier == "" {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return
	}
	h.renderPassword(w, r, f, http.StatusOK, "")
}

func (h *Handler) renderPassword(w http.ResponseWriter, r *http.Request, f *flow, status int, msg string) {
	d := templates.PasswordData{
		Action:  h.pageURL("/u/login/password", f.Req.ID),
		Email:   f.State.Identifier,
		EditURL: h.pageURL("/u/login", f.Req.ID),
		Error:   msg,
	}
	if passkeysOf(f.Conn) != nil {
		d.PasskeyCapable = true
		d.PasskeyRequired = requiresPasskey(f)
	}
	if h.signupConnector(f) != nil && f.State.ReturnTo == "" {
		d.SignupURL = h.pageURL("/u/signup", f.Req.ID)
	}
	if _, ok := f.Conn.(passwordResetter); ok {
		d.ForgotURL = h.pageURL(pathResetPassword+"/request", f.Req.ID)
	}
	d.UsernameLogin = usernameRequired(f.Conn)
	h.renderFlow(w, r, f, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Password(wr, d)
	})
}

func (h *Handler) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	if f.State.Identifier == "" {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return
	}
	pc, ok := f.Conn.(connector.PasswordConnector)
	if !ok {
		h.renderError(w, r, http.StatusBadRequest, "Password login is not available",
			"This application's connection does not accept passwords.")
		return
	}
	pw := r.PostFormValue("password")
	if pw == "" {
		h.renderPassword(w, r, f, http.StatusBadRequest, msgEnterPassword)
		return
	}
	u, m, err := pc.Login(r.Context(), f.State.Identifier, pw)
	switch {
	case errors.Is(err, connector.ErrInvalidCredentials), errors.Is(err, storage.ErrNotFound):
		h.log.InfoContext(r.Context(), "login failed", "connection", f.ConnName, "client_id", f.Client.ID)
		h.renderPassword(w, r, f, http.StatusBadRequest, msgWrongCredentials)
		return
	case errors.Is(err, connector.ErrLoginBlocked):
		// Brute-force protection: the same answer whether or not the
		// account exists (the connector checks before the lookup).
		h.log.InfoContext(r.Context(), "login refused: too many failed attempts", "connection", f.ConnName, "client_id", f.Client.ID)
		h.renderPassword(w, r, f, http.StatusTooManyRequests, msgLoginBlocked)
		return
	case errors.Is(err, connector.ErrUserBlocked):
		h.log.InfoContext(r.Context(), "login refused: user blocked", "connection", f.ConnName, "client_id", f.Client.ID)
		h.renderPassword(w, r, f, http.StatusBadRequest, msgBlocked)
		return
	case errors.Is(err, password.ErrBusy):
		h.renderBusy(w, r)
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	offer, err := h.passkeyOffer(r.Context(), f, u, r.PostFormValue("passkeys") == "1")
	if err != nil {
		// The offer is a courtesy: the login stands without it.
		h.log.WarnContext(r.Context(), "decide passkey offer", "user_id", u.ID, "error", err)
		offer = ""
	}
	if offer != f.State.PasskeyOffer {
		if err := h.saveFlowState(r.Context(), f, func(s *flowState) { s.PasskeyOffer = offer }); err != nil {
			h.renderInternalError(w, r, err)
			return
		}
	}
	h.finishLogin(w, r, f, u, []connector.Method{m})
}

// finishLogin starts a new browser session and sends the browser back to
// /authorize to complete the request.
func (h *Handler) finishLogin(w http.ResponseWriter, r *http.Request, f *flow, u storage.User, methods []connector.Method) {
	// Post-login actions and MFA come before the session (mfa.go).
	if next, err := h.gateLogin(r, f, u, methods); err != nil || next != "" {
		if err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		redirect(w, r, next)
		return
	}
	s, err := h.sessions.start(w, r, u, f.Req.ConnectionID, methods)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "login", "user_id", u.ID, "session_id", s.ID, "connection", f.ConnName, "client_id", f.Client.ID, "amr", s.AMR)
	if f.State.PasskeyOffer != "" {
		redirect(w, r, h.pageURL("/u/passkey/enroll", f.Req.ID))
		return
	}
	next := h.afterLoginURL(f)
	if f.State.ReturnTo != "" {
		h.endFlow(r.Context(), f)
	}
	redirect(w, r, next)
}

// signupConnector returns the flow's connector as a SignupConnector when
// the connection allows sign-up, and nil otherwise.
func (h *Handler) signupConnector(f *flow) connector.SignupConnector {
	sc, ok := f.Conn.(connector.SignupConnector)
	if !ok || !sc.SignupAllowed() {
		return nil
	}
	return sc
}

// hasPrompt reports whether the request's space-separated prompt parameter
// holds value.
func hasPrompt(form url.Values, value string) bool {
	for _, p := range strings.Fields(form.Get("prompt")) {
		if p == value {
			return true
		}
	}
	return false
}

// normalizeIdentifier trims an entered identifier. Case folding is the
// connector's business: emails are case-insensitive, usernames may not be.
func normalizeIdentifier(s string) string {
	return strings.TrimSpace(s)
}
