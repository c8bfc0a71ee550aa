package handlers

import (
	"errors"
	"io"
	"net/http"
	"net/mail"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// Messages of the sign-up page (Auth0's wording where it has one).
const (
	msgInvalidEmail   = "Email is not valid."
	msgUserExists     = "The user already exists."
	msgPasswordNeeded = "Password is required."
	msgSignupDisabled = "Sign-up is not available for this application."
)

// passwordRuler is implemented by connectors that can list their password
// policy for people (database.Connection).
type passwordRuler interface {
	PasswordRules() []string
}

// mountSignup mounts the sign-up page:
//
//	GET  /u/signup?state=ID  the sign-up form (email prefilled from the identifier page or login_hint)
//	POST /u/signup           create the account, start the session, resume /authorize
func (h *Handler) mountSignup(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/signup"), h.page(h.signupPage))
	mux.Handle("POST "+h.path("/u/signup"), h.form(h.signupSubmit))
}

// signupForm is what the sign-up page shows besides the flow.
type signupForm struct {
	email, emailErr, passwordErr, formErr string
	// username and usernameErr: when the connection requires usernames.
	username, usernameErr string
	// passwordOnly keeps the password sign-up even where passkey sign-up
	// is offered ("Create a password instead").
	passwordOnly bool
}

func (h *Handler) signupPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	if h.signupConnector(f) == nil {
		redirect(w, r, h.loginURLFromSignup(f.Req.ID))
		return
	}
	email := f.State.Identifier
	if email == "" {
		email = truncate(normalizeIdentifier(f.Form.Get("login_hint")), maxIdentifierLen)
	}
	h.renderSignup(w, r, f, http.StatusOK, signupForm{email: email, passwordOnly: r.URL.Query().Get("method") == "password"})
}

func (h *Handler) renderSignup(w http.ResponseWriter, r *http.Request, f *flow, status int, sf signupForm) {
	action := h.pageURL("/u/signup", f.Req.ID)
	if sf.passwordOnly {
		action += "&method=password"
	}
	d := templates.SignupData{
		Action:        action,
		Email:         sf.email,
		EmailError:    sf.emailErr,
		PasswordError: sf.passwordErr,
		Error:         sf.formErr,
		LoginURL:      h.loginURLFromSignup(f.Req.ID),
		PasskeySignup: !sf.passwordOnly && h.passkeySignupAllowed(f),
	}
	if usernameRequired(f.Conn) {
		// The passkey sign-up asks for an email only.
		d.UsernameRequired, d.PasskeySignup = true, false
		d.Username, d.UsernameError = sf.username, sf.usernameErr
	}
	if pr, ok := f.Conn.(passwordRuler); ok {
		d.PasswordRules = pr.PasswordRules()
	}
	h.renderFlow(w, r, f, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Signup(wr, d)
	})
}

// loginURLFromSignup is the sign-up page's "Log in" link. It is marked so
// that a prompt=create flow does not send the person straight back.
func (h *Handler) loginURLFromSignup(id string) string {
	return h.pageURL("/u/login", id) + "&from=signup"
}

func (h *Handler) signupSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	sc := h.signupConnector(f)
	if sc == nil {
		h.renderError(w, r, http.StatusForbidden, "Sign-up is not available", msgSignupDisabled)
		return
	}
	sf := signupForm{email: truncate(normalizeIdentifier(r.PostFormValue("email")), maxIdentifierLen)}
	if r.PostFormValue("method") == "passkey" && h.passkeySignupAllowed(f) {
		h.passkeySignupEmail(w, r, f, sf)
		return
	}
	sf.passwordOnly = r.URL.Query().Get("method") == "password"
	sf.username = truncate(normalizeIdentifier(r.PostFormValue("username")), maxIdentifierLen)
	pw := r.PostFormValue("password")
	if !validEmail(sf.email) {
		sf.emailErr = msgInvalidEmail
	}
	if pw == "" {
		sf.passwordErr = msgPasswordNeeded
	}
	if sf.emailErr != "" || sf.passwordErr != "" {
		h.renderSignup(w, r, f, http.StatusBadRequest, sf)
		return
	}
	u, m, err := sc.Signup(r.Context(), connector.Profile{Email: sf.email, Username: sf.username}, pw)
	var (
		pe *connector.PolicyError
		fe *connector.FieldError
	)
	switch {
	case errors.As(err, &pe):
		sf.passwordErr = pe.Message
		h.renderSignup(w, r, f, http.StatusBadRequest, sf)
		return
	case errors.As(err, &fe):
		switch fe.Field {
		case "email":
			sf.emailErr = fe.Message
		case "password":
			sf.passwordErr = fe.Message
		case "username":
			sf.usernameErr = fe.Message
		default:
			sf.formErr = fe.Message
		}
		h.renderSignup(w, r, f, http.StatusBadRequest, sf)
		return
	case errors.Is(err, password.ErrBusy):
		h.renderBusy(w, r)
		return
	case errors.Is(err, connector.ErrUserExists):
		sf.emailErr = msgUserExists
		h.renderSignup(w, r, f, http.StatusBadRequest, sf)
		return
	case errors.Is(err, connector.ErrSignupDisabled):
		h.renderError(w, r, http.StatusForbidden, "Sign-up is not available", msgSignupDisabled)
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "sign-up", "user_id", u.ID, "connection", f.ConnName, "client_id", f.Client.ID)
	h.sendVerification(r.Context(), f.Conn, u)
	h.finishLogin(w, r, f, u, []connector.Method{m})
}

// passkeySignupEmail is the first step of a passkey sign-up: the email is
// checked (as the password sign-up does, "The user already exists." for a
// taken one) and kept in the flow, then the "Create a passkey" page follows.
// The account is created only when the passkey is verified.
func (h *Handler) passkeySignupEmail(w http.ResponseWriter, r *http.Request, f *flow, sf signupForm) {
	if !validEmail(sf.email) {
		sf.emailErr = msgInvalidEmail
		h.renderSignup(w, r, f, http.StatusBadRequest, sf)
		return
	}
	_, err := h.lookupUser(r.Context(), f, sf.email)
	switch {
	case err == nil:
		sf.emailErr = msgUserExists
		h.renderSignup(w, r, f, http.StatusBadRequest, sf)
		return
	case !errors.Is(err, storage.ErrNotFound):
		h.renderInternalError(w, r, err)
		return
	}
	if err := h.saveFlowState(r.Context(), f, func(s *flowState) { s.Identifier = sf.email }); err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.pageURL("/u/signup/passkey", f.Req.ID))
}

// validEmail accepts a bare address (no display name) that net/mail parses.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}
