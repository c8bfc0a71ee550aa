package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// Messages of the password-reset pages (Auth0's wording where it has one).
const (
	msgPasswordChangedTitle = "Password changed"
	msgPasswordChanged      = "Your password has been changed successfully. You were signed out everywhere: log in again with your new password."
	msgPasswordsRequired    = "Please enter your new password."
)

// passwordResetter is implemented by connectors that reset passwords by
// email (database.Connection).
type passwordResetter interface {
	SendPasswordReset(ctx context.Context, email string) error
	CheckPasswordReset(ctx context.Context, token string) (storage.User, error)
	ResetPassword(ctx context.Context, token, newPassword string) (storage.User, error)
}

// mountReset mounts the password reset:
//
//	GET  /u/reset-password/request[?state=ID|connection=NAME]  "Forgot your password?": the email form
//	POST /u/reset-password/request                              send the link; always the same answer
//	GET  /u/reset-password?token&connection                     the link's page: a new password
//	POST /u/reset-password                                      set it: sessions end, refresh tokens are revoked
func (h *Handler) mountReset(mux *http.ServeMux) {
	mux.Handle("GET "+h.path(pathResetPassword+"/request"), h.page(func(w http.ResponseWriter, r *http.Request) {
		h.emailRequest(w, r, "reset")
	}))
	mux.Handle("POST "+h.path(pathResetPassword+"/request"), h.form(func(w http.ResponseWriter, r *http.Request) {
		h.emailRequest(w, r, "reset")
	}))
	mux.Handle("GET "+h.path(pathResetPassword), h.page(h.resetPage))
	mux.Handle("POST "+h.path(pathResetPassword), h.form(h.resetSubmit))
}

// emailRequest serves the "Forgot your password?" (variant "reset") and
// "Can't use your passkey?" (variant "recovery") forms. With a login flow
// (state) the form belongs to it; without one, to the connection named by
// "connection" (default the first). The answer to a posted email is the
// same whether or not an account has it.
func (h *Handler) emailRequest(w http.ResponseWriter, r *http.Request, variant string) {
	var (
		conn  connector.Connector
		page  templates.Page
		d     = templates.EmailFormData{Variant: variant}
		query = url.Values{}
	)
	if r.FormValue("state") != "" {
		f, ok := h.pageFlow(w, r)
		if !ok {
			return
		}
		conn, page = f.Conn, h.pageData(f)
		query.Set("state", f.Req.ID)
		d.BackURL = h.pageURL("/u/login", f.Req.ID)
		if validEmail(f.State.Identifier) {
			d.Email = f.State.Identifier
		}
	} else {
		c, err := h.linkConnector(r)
		if errors.Is(err, errUnknownConnection) {
			h.renderError(w, r, http.StatusBadRequest, "Unknown connection", "There is no such connection.")
			return
		}
		if err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		conn = c
		page = templates.Page{Lang: h.lang(""), CSRF: h.csrfToken("mail-request"), AssetBase: h.path("/assets")}
		if name := r.FormValue("connection"); name != "" {
			query.Set("connection", name)
		}
		if r.Method == http.MethodPost && !h.checkCSRF(r, "mail-request") {
			h.renderError(w, r, http.StatusForbidden, "Request blocked",
				"This form has expired or did not come from this site. Go back and try again.")
			return
		}
	}
	path := pathResetPassword + "/request"
	if variant == "recovery" {
		path = pathRecoverPasskey + "/request"
	}
	d.Action = h.path(path) + "?" + query.Encode()
	show := func(status int) {
		h.renderPage(w, r, status, page, func(wr io.Writer, p templates.Page) error {
			d.Page = p
			return h.opts.Templates.EmailForm(wr, d)
		})
	}
	if r.Method != http.MethodPost {
		show(http.StatusOK)
		return
	}
	d.Email = truncate(normalizeIdentifier(r.PostFormValue("email")), maxIdentifierLen)
	if !validEmail(d.Email) {
		d.Error = msgInvalidEmail
		show(http.StatusBadRequest)
		return
	}
	var err error
	msg := "If an account exists for " + d.Email + ", we've sent an email with a link to reset your password."
	if variant == "reset" {
		if c, ok := conn.(passwordResetter); ok {
			err = c.SendPasswordReset(r.Context(), d.Email)
		}
	} else {
		msg = "If an account that logs in with passkeys only exists for " + d.Email +
			", we've sent an email with a link to set up a new passkey."
		if c, ok := conn.(passkeyRecoverer); ok {
			err = c.SendPasskeyRecovery(r.Context(), d.Email)
		}
	}
	if err != nil {
		// Logged, never shown: the answer must not depend on the account.
		h.log.WarnContext(r.Context(), "send account email", "variant", variant, "error", err)
	}
	h.renderPage(w, r, http.StatusOK, page, func(wr io.Writer, p templates.Page) error {
		return h.opts.Templates.Message(wr, templates.MessageData{Page: p, Title: msgCheckEmail, Message: msg,
			LinkURL: d.BackURL, LinkText: "Back to login"})
	})
}

// resetConnector returns the link's connector as a passwordResetter; when
// it returns false it has answered.
func (h *Handler) resetConnector(w http.ResponseWriter, r *http.Request) (passwordResetter, connector.Connector, bool) {
	c, err := h.linkConnector(r)
	if errors.Is(err, errUnknownConnection) {
		h.renderLinkInvalid(w, r)
		return nil, nil, false
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return nil, nil, false
	}
	pr, ok := c.(passwordResetter)
	if !ok {
		h.renderLinkInvalid(w, r)
		return nil, nil, false
	}
	return pr, c, true
}

func (h *Handler) resetPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		h.renderLinkInvalid(w, r)
		return
	}
	pr, c, ok := h.resetConnector(w, r)
	if !ok {
		return
	}
	u, err := pr.CheckPasswordReset(r.Context(), token)
	if errors.Is(err, database.ErrInvalidToken) {
		h.renderLinkInvalid(w, r)
		return
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	h.renderReset(w, r, http.StatusOK, c, token, u.Email, "")
}

func (h *Handler) renderReset(w http.ResponseWriter, r *http.Request, status int, c connector.Connector, token, email, msg string) {
	q := url.Values{"connection": {r.FormValue("connection")}}
	d := templates.ResetPasswordData{Action: h.path(pathResetPassword) + "?" + q.Encode(), Token: token, Email: email, Error: msg}
	if pr, ok := c.(passwordRuler); ok {
		d.PasswordRules = pr.PasswordRules()
	}
	h.render(w, r, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.ResetPassword(wr, d)
	}, "", h.linkCSRF(token))
}

func (h *Handler) resetSubmit(w http.ResponseWriter, r *http.Request) {
	token, ok := h.linkForm(w, r)
	if !ok {
		return
	}
	pr, c, ok := h.resetConnector(w, r)
	if !ok {
		return
	}
	pw := r.PostFormValue("password")
	if pw == "" {
		h.renderReset(w, r, http.StatusBadRequest, c, token, "", msgPasswordsRequired)
		return
	}
	u, err := pr.ResetPassword(r.Context(), token, pw)
	var pe *connector.PolicyError
	switch {
	case errors.As(err, &pe):
		h.renderReset(w, r, http.StatusBadRequest, c, token, "", pe.Message)
		return
	case errors.Is(err, database.ErrInvalidToken):
		h.renderLinkInvalid(w, r)
		return
	case errors.Is(err, password.ErrBusy):
		h.renderBusy(w, r)
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	// This browser's session, if any, ended with the others.
	h.sessions.expireCookie(w)
	h.log.InfoContext(r.Context(), "password reset by link", "user_id", u.ID)
	h.renderMessage(w, r, http.StatusOK, templates.MessageData{
		Title: msgPasswordChangedTitle, Message: msgPasswordChanged,
		LinkURL: h.path("/u/account/profile"), LinkText: "Go to your account",
	})
}
