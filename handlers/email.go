package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// Pages of emailed links. MailLink builds their URLs for the database
// connections' mail (database.Mail.Link).
const (
	pathVerifyEmail    = "/u/email/verify"
	pathResetPassword  = "/u/reset-password"
	pathRecoverPasskey = "/u/recover-passkey"
	pathUnblock        = "/u/unblock"
)

// Messages of the emailed-link pages (Auth0's wording where it has one).
const (
	msgLinkInvalidTitle = "This link is no longer valid"
	msgLinkInvalid      = "The link is invalid, has expired or was already used. Only the newest link we sent works. Ask for a new one."
	msgCheckEmail       = "Check your email"
	msgTooManyEmails    = "We have sent several emails in the last hour. Wait a while and try again."
	msgCodeInvalid      = "The code is wrong or has expired. Check the newest email we sent, or send a new one."
)

// MailLink returns the database.Mail.Link function of a connection: the
// absolute URL of the page that opens an emailed token, under issuer, with
// the connection's name (tokens belong to one connection).
func MailLink(issuer, connection string) func(kind database.LinkKind, token string) string {
	base := strings.TrimSuffix(issuer, "/")
	return func(kind database.LinkKind, token string) string {
		var p string
		switch kind {
		case database.LinkVerifyEmail:
			p = pathVerifyEmail
		case database.LinkResetPassword:
			p = pathResetPassword
		case database.LinkRecoverPasskey:
			p = pathRecoverPasskey
		case database.LinkUnblock:
			p = pathUnblock
		default:
			p = "/u/" + url.PathEscape(string(kind))
		}
		q := url.Values{"token": {token}, "connection": {connection}}
		return base + p + "?" + q.Encode()
	}
}

// mountLifecycle mounts the account-lifecycle pages: emailed links
// (email.go, reset.go, recovery.go, unblock.go), the account page's
// profile, password, sessions and deletion (account_profile.go) and the
// development outbox (outbox.go).
//
//	GET  /u/email/verify?token&connection   "Verify your email" (a button posts the token)
//	POST /u/email/verify                     use the link: email_verified becomes true
//	POST /u/account/email/verify             the emailed code, for the signed-in person
//	POST /u/account/email/resend             a new verification email (capped per hour)
func (h *Handler) mountLifecycle(mux *http.ServeMux) {
	mux.Handle("GET "+h.path(pathVerifyEmail), h.page(h.verifyEmailPage))
	mux.Handle("POST "+h.path(pathVerifyEmail), h.form(h.verifyEmailSubmit))
	mux.Handle("POST "+h.path("/u/account/email/verify"), h.form(h.verifyCodeSubmit))
	mux.Handle("POST "+h.path("/u/account/email/resend"), h.form(h.verifyResend))
	h.mountReset(mux)
	h.mountRecovery(mux)
	h.mountUnblock(mux)
	h.mountProfile(mux)
	h.mountOutbox(mux)
}

// emailVerifier is implemented by connectors that verify emails
// (database.Connection).
type emailVerifier interface {
	SendVerificationEmail(ctx context.Context, userID string) error
	VerifyEmail(ctx context.Context, token string) (storage.User, error)
	VerifyEmailCode(ctx context.Context, userID, code string) (storage.User, error)
}

// sendVerification mails a new user a verification link and code. A
// failure is logged and does not fail the sign-up.
func (h *Handler) sendVerification(ctx context.Context, c connector.Connector, u storage.User) {
	ev, ok := c.(emailVerifier)
	if !ok || u.EmailVerified {
		return
	}
	if err := ev.SendVerificationEmail(ctx, u.ID); err != nil {
		h.log.WarnContext(ctx, "send verification email", "user_id", u.ID, "error", err)
	}
}

// linkConnector returns the connector an emailed link names with its
// "connection" parameter (default: the first connection).
func (h *Handler) linkConnector(r *http.Request) (connector.Connector, error) {
	ctx := r.Context()
	names, err := h.opts.Connectors.Names(ctx)
	if err != nil {
		return nil, err
	}
	name := r.FormValue("connection")
	if name == "" && len(names) > 0 {
		name = names[0]
	}
	if !slices.Contains(names, name) {
		return nil, errUnknownConnection
	}
	return h.opts.Connectors.Lookup(ctx, name)
}

// errUnknownConnection: a link or form names no connection of this server.
var errUnknownConnection = errors.New("unknown connection")

// linkCSRF is the anti-forgery token of an emailed link's form: bound to
// the link's token, which only the mail's reader knows.
func (h *Handler) linkCSRF(token string) string { return h.csrfToken("link:" + token) }

// renderMessage shows a page that only says something.
func (h *Handler) renderMessage(w http.ResponseWriter, r *http.Request, status int, d templates.MessageData) {
	h.render(w, r, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Message(wr, d)
	}, "", "")
}

// renderLinkInvalid is the page of a dead emailed link.
func (h *Handler) renderLinkInvalid(w http.ResponseWriter, r *http.Request) {
	h.renderMessage(w, r, http.StatusBadRequest, templates.MessageData{Title: msgLinkInvalidTitle, Message: msgLinkInvalid})
}

// renderConfirmLink shows an emailed link's page with its one button.
func (h *Handler) renderConfirmLink(w http.ResponseWriter, r *http.Request, action, token string, d templates.ConfirmLinkData) {
	q := url.Values{"connection": {r.FormValue("connection")}}
	d.Action = h.path(action) + "?" + q.Encode()
	d.Token = token
	h.render(w, r, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.ConfirmLink(wr, d)
	}, "", h.linkCSRF(token))
}

// linkForm checks the posted form of an emailed link's page and returns
// its token; when it returns false it has answered.
func (h *Handler) linkForm(w http.ResponseWriter, r *http.Request) (string, bool) {
	token := r.PostFormValue("token")
	if token == "" || len(token) > 128 {
		h.renderLinkInvalid(w, r)
		return "", false
	}
	if !h.checkCSRF(r, "link:"+token) {
		h.renderError(w, r, http.StatusForbidden, "Request blocked",
			"This form has expired or did not come from this site. Open the link from the email again.")
		return "", false
	}
	return token, true
}

// linkSubmit starts the POST of an emailed link's page: it checks the form
// (linkForm), finds the link's connection and the capability T the link
// needs from it. When it returns false it has answered (an unknown
// connection, or one without T, is an invalid link).
func linkSubmit[T any](h *Handler, w http.ResponseWriter, r *http.Request) (T, string, bool) {
	var zero T
	token, ok := h.linkForm(w, r)
	if !ok {
		return zero, "", false
	}
	c, err := h.linkConnector(r)
	if errors.Is(err, errUnknownConnection) {
		h.renderLinkInvalid(w, r)
		return zero, "", false
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return zero, "", false
	}
	capability, ok := c.(T)
	if !ok {
		h.renderLinkInvalid(w, r)
		return zero, "", false
	}
	return capability, token, true
}

// linkUsed answers a failed use of an emailed link's token: a dead link
// (database.ErrInvalidToken) gets the invalid-link page, anything else the
// internal-error page. It reports whether err was nil.
func (h *Handler) linkUsed(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, database.ErrInvalidToken):
		h.renderLinkInvalid(w, r)
	default:
		h.renderInternalError(w, r, err)
	}
	return false
}

func (h *Handler) verifyEmailPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		h.renderLinkInvalid(w, r)
		return
	}
	h.renderConfirmLink(w, r, pathVerifyEmail, token, templates.ConfirmLinkData{
		Title: "Verify your email", Message: "Confirm that this email address is yours.", Button: "Verify my email",
	})
}

func (h *Handler) verifyEmailSubmit(w http.ResponseWriter, r *http.Request) {
	ev, token, ok := linkSubmit[emailVerifier](h, w, r)
	if !ok {
		return
	}
	u, err := ev.VerifyEmail(r.Context(), token)
	if !h.linkUsed(w, r, err) {
		return
	}
	h.log.InfoContext(r.Context(), "email verified", "user_id", u.ID, "by", "link")
	h.renderMessage(w, r, http.StatusOK, templates.MessageData{
		Title: "Email verified", Message: "Your email address was successfully verified. You can close this page.",
		LinkURL: h.path(pathProfile), LinkText: "Go to your account",
	})
}

// verifyCodeSubmit checks the emailed code for the signed-in person.
func (h *Handler) verifyCodeSubmit(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	ev, ok := pc.conn.(emailVerifier)
	if !ok {
		h.renderError(w, r, http.StatusNotFound, "Not available", "Your account's connection does not verify emails.")
		return
	}
	_, err := ev.VerifyEmailCode(r.Context(), pc.user.ID, truncate(r.PostFormValue("code"), 32))
	if errors.Is(err, database.ErrInvalidToken) {
		h.renderProfile(w, r, http.StatusBadRequest, pc, profileMessages{codeErr: msgCodeInvalid})
		return
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.path(pathProfile)+"?done=verified")
}

// verifyResend sends a new verification email to the signed-in person.
func (h *Handler) verifyResend(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	ev, ok := pc.conn.(emailVerifier)
	if !ok || pc.user.EmailVerified {
		redirect(w, r, h.path(pathProfile))
		return
	}
	err := ev.SendVerificationEmail(r.Context(), pc.user.ID)
	if errors.Is(err, database.ErrTooManyEmails) {
		h.renderProfile(w, r, http.StatusTooManyRequests, pc, profileMessages{codeErr: msgTooManyEmails})
		return
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.path(pathProfile)+"?done=sent")
}

// settingsConnector is implemented by database connections.
type settingsConnector interface {
	Settings() database.Settings
}

// usernameRequired reports whether the connection asks for a username at
// sign-up (Auth0's "Requires Username"); its login pages then accept a
// username or an email.
func usernameRequired(c connector.Connector) bool {
	sc, ok := c.(settingsConnector)
	return ok && sc.Settings().RequiresUsername
}
