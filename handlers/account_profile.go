package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// pathProfile is the account page's profile, password and sessions.
const pathProfile = "/u/account/profile"

// recentAuthWindow is how recent a login must be to delete the account or
// set a first password: the person logs in again (password or passkey, and
// the second factor if any) right before.
const recentAuthWindow = 5 * time.Minute

// maxProfileName bounds the name fields, in characters (as the database
// connection does).
const maxProfileName = 255

// Notices of the profile page, by the "done" query parameter.
var profileNotices = map[string]string{
	"profile":  "Profile saved.",
	"password": "Password changed. Your other sessions were signed out.",
	"verified": "Your email address was successfully verified.",
	"sent":     "We've sent you a new verification email.",
	"signout":  "The session was signed out.",
	"others":   "Every other session was signed out.",
}

// passwordChanger is implemented by connectors whose users change their
// password (database.Connection).
type passwordChanger interface {
	ChangePassword(ctx context.Context, userID, newPassword string) error
}

// mountProfile mounts the account page's own sections (the passkeys are
// account.go's):
//
//	GET  /u/account/profile                 profile, email verification, password, sessions; login first when needed
//	POST /u/account/profile                 name, given_name, family_name
//	POST /u/account/password                current_password (when there is one), password: the policy applies
//	POST /u/account/sessions/revoke         id: sign one other session out
//	POST /u/account/sessions/revoke-others  sign every other session out
//	GET  /u/account/reauth?to=delete|profile  log in again (a login flow returning to the page)
//	GET  /u/account/delete                  delete the account: log in again first, then confirm
//	POST /u/account/delete                  confirm (the email typed): deletes credentials, sessions, consents; revokes tokens
func (h *Handler) mountProfile(mux *http.ServeMux) {
	mux.Handle("GET "+h.path(pathProfile), h.page(h.profilePage))
	mux.Handle("POST "+h.path(pathProfile), h.form(h.profileSubmit))
	mux.Handle("POST "+h.path("/u/account/password"), h.form(h.passwordChangeSubmit))
	mux.Handle("POST "+h.path("/u/account/sessions/revoke"), h.form(h.sessionRevoke))
	mux.Handle("POST "+h.path("/u/account/sessions/revoke-others"), h.form(h.sessionRevokeOthers))
	mux.Handle("GET "+h.path("/u/account/reauth"), h.page(h.reauth))
	mux.Handle("GET "+h.path("/u/account/delete"), h.page(h.deletePage))
	mux.Handle("POST "+h.path("/u/account/delete"), h.form(h.deleteSubmit))
}

// profileCtx is the signed-in person of an account-page request.
type profileCtx struct {
	sess storage.Session
	user storage.User
	conn connector.Connector
}

// profileSession returns the request's session, its user and connector;
// ok is false without a session.
func (h *Handler) profileSession(r *http.Request) (profileCtx, bool, error) {
	sess, user, ok := h.flowSession(r, "")
	if !ok {
		return profileCtx{}, false, nil
	}
	conn, err := h.opts.Store.GetConnection(r.Context(), sess.ConnectionID)
	if err != nil {
		return profileCtx{}, false, err
	}
	c, err := h.opts.Connectors.Lookup(r.Context(), conn.Name)
	if err != nil {
		return profileCtx{}, false, err
	}
	return profileCtx{sess: sess, user: user, conn: c}, true, nil
}

// profileForm checks a posted account form: a session and its token. When
// it returns false it has answered.
func (h *Handler) profileForm(w http.ResponseWriter, r *http.Request) (profileCtx, bool) {
	pc, ok, err := h.profileSession(r)
	if err != nil {
		h.renderInternalError(w, r, err)
		return pc, false
	}
	if !ok {
		redirect(w, r, h.path(pathProfile))
		return pc, false
	}
	if !h.checkCSRF(r, "account:"+pc.sess.ID) {
		h.renderError(w, r, http.StatusForbidden, "Request blocked",
			"This form has expired or did not come from this site. Go back to your account page and try again.")
		return pc, false
	}
	return pc, true
}

// accountLoginTo starts a login flow (no OAuth client) in connection that
// returns to returnTo, with identifier prefilled.
func (h *Handler) accountLoginTo(w http.ResponseWriter, r *http.Request, connName, returnTo, identifier string) {
	ctx := r.Context()
	names, err := h.opts.Connectors.Names(ctx)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if connName == "" && len(names) > 0 {
		connName = names[0]
	}
	if !slices.Contains(names, connName) {
		h.renderError(w, r, http.StatusBadRequest, "Unknown connection", "There is no such connection.")
		return
	}
	conn, err := h.opts.Store.GetConnectionByName(ctx, connName)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	state, err := json.Marshal(flowState{ReturnTo: returnTo, Identifier: identifier})
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	now := time.Now()
	req, err := h.opts.Store.CreateAuthRequest(ctx, storage.AuthRequest{
		ConnectionID: conn.ID, State: state, CreatedAt: now, ExpiresAt: now.Add(authRequestLifetime),
	})
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.pageURL("/u/login", req.ID))
}

func (h *Handler) profilePage(w http.ResponseWriter, r *http.Request) {
	pc, ok, err := h.profileSession(r)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if !ok {
		h.accountLoginTo(w, r, r.URL.Query().Get("connection"), h.path(pathProfile), "")
		return
	}
	h.renderProfile(w, r, http.StatusOK, pc, profileMessages{notice: profileNotices[r.URL.Query().Get("done")]})
}

// profileMessages are what a profile page says besides its data.
type profileMessages struct {
	notice, err, codeErr, passwordErr string
	// form keeps the posted name fields after a refusal.
	form *storage.User
}

func (h *Handler) renderProfile(w http.ResponseWriter, r *http.Request, status int, pc profileCtx, m profileMessages) {
	ctx := r.Context()
	_, hasPassword, err := h.userCredentials(r, pc.user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	sessions, err := h.opts.Store.ListUserSessions(ctx, pc.user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	u := pc.user
	if m.form != nil {
		u.Name, u.GivenName, u.FamilyName = m.form.Name, m.form.GivenName, m.form.FamilyName
	}
	d := templates.ProfileData{
		Email: u.Email, EmailVerified: u.EmailVerified, Username: u.Username,
		Name: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName,
		Notice: m.notice, Error: m.err, CodeError: m.codeErr, PasswordError: m.passwordErr,
		ProfileAction:      h.path(pathProfile),
		VerifyAction:       h.path("/u/account/email/verify"),
		ResendAction:       h.path("/u/account/email/resend"),
		HasPassword:        hasPassword,
		PasswordAction:     h.path("/u/account/password"),
		RevokeAction:       h.path("/u/account/sessions/revoke"),
		RevokeOthersAction: h.path("/u/account/sessions/revoke-others"),
		DeleteURL:          h.path("/u/account/delete"),
		LogoutURL:          h.path("/oidc/logout"),
	}
	if _, ok := pc.conn.(emailVerifier); !ok {
		d.EmailVerified = true // nothing to offer
	}
	if passkeysOf(pc.conn) != nil {
		d.PasskeysURL = h.path("/u/account")
	}
	if pr, ok := pc.conn.(passwordRuler); ok {
		d.PasswordRules = pr.PasswordRules()
	}
	if !hasPassword && !recentAuth(pc.sess) {
		d.ReauthURL = h.path("/u/account/reauth") + "?to=profile"
	}
	for _, s := range sessions {
		ps := templates.ProfileSession{
			ID: s.ID, Device: describeUserAgent(s.UserAgent), IP: s.IP, Current: s.ID == pc.sess.ID,
			Started: s.AuthTime.UTC().Format("2 January 2006, 15:04 UTC"), LastSeen: s.LastSeenAt.UTC().Format("2 January 2006, 15:04 UTC"),
		}
		if ps.IP == "" {
			ps.IP = "unknown"
		}
		d.Sessions = append(d.Sessions, ps)
	}
	slices.SortStableFunc(d.Sessions, func(a, b templates.ProfileSession) int {
		switch {
		case a.Current == b.Current:
			return 0
		case a.Current:
			return -1
		}
		return 1
	})
	p := templates.Page{Lang: h.lang(""), ClientName: "your account", CSRF: h.csrfToken("account:" + pc.sess.ID), AssetBase: h.path("/assets")}
	h.renderPage(w, r, status, p, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Profile(wr, d)
	})
}

// recentAuth reports whether the session's login is within
// recentAuthWindow.
func recentAuth(s storage.Session) bool {
	return time.Since(s.AuthTime) <= recentAuthWindow
}

func (h *Handler) profileSubmit(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	in := storage.User{
		Name:       strings.TrimSpace(r.PostFormValue("name")),
		GivenName:  strings.TrimSpace(r.PostFormValue("given_name")),
		FamilyName: strings.TrimSpace(r.PostFormValue("family_name")),
	}
	for _, v := range []string{in.Name, in.GivenName, in.FamilyName} {
		if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxProfileName {
			h.renderProfile(w, r, http.StatusBadRequest, pc, profileMessages{err: "Names are at most 255 characters.", form: &in})
			return
		}
	}
	_, err := h.opts.Store.UpdateUser(r.Context(), pc.user.ID, func(u *storage.User) error {
		u.Name, u.GivenName, u.FamilyName = in.Name, in.GivenName, in.FamilyName
		return nil
	})
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "profile updated", "user_id", pc.user.ID)
	redirect(w, r, h.path(pathProfile)+"?done=profile")
}

func (h *Handler) passwordChangeSubmit(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	changer, ok := pc.conn.(passwordChanger)
	login, ok2 := pc.conn.(connector.PasswordConnector)
	if !ok || !ok2 {
		h.renderError(w, r, http.StatusNotFound, "Not available", "Your account's connection does not use passwords.")
		return
	}
	_, hasPassword, err := h.userCredentials(r, pc.user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	refuse := func(status int, msg string) {
		h.renderProfile(w, r, status, pc, profileMessages{passwordErr: msg})
	}
	if hasPassword {
		current := r.PostFormValue("current_password")
		if current == "" {
			refuse(http.StatusBadRequest, msgEnterPassword)
			return
		}
		_, _, err := login.Login(ctx, pc.user.Email, current)
		switch {
		case errors.Is(err, connector.ErrInvalidCredentials):
			refuse(http.StatusBadRequest, "Your current password is wrong.")
			return
		case errors.Is(err, connector.ErrLoginBlocked):
			refuse(http.StatusTooManyRequests, msgLoginBlocked)
			return
		case errors.Is(err, password.ErrBusy):
			h.renderBusy(w, r)
			return
		case err != nil:
			h.renderInternalError(w, r, err)
			return
		}
	} else if !recentAuth(pc.sess) {
		redirect(w, r, h.path("/u/account/reauth")+"?to=profile")
		return
	}
	pw := r.PostFormValue("password")
	if pw == "" {
		refuse(http.StatusBadRequest, msgPasswordsRequired)
		return
	}
	err = changer.ChangePassword(ctx, pc.user.ID, pw)
	var pe *connector.PolicyError
	switch {
	case errors.As(err, &pe):
		refuse(http.StatusBadRequest, pe.Message)
		return
	case errors.Is(err, password.ErrBusy):
		h.renderBusy(w, r)
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	if err := h.endOtherSessions(ctx, pc); err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.path(pathProfile)+"?done=password")
}

// endOtherSessions deletes every session of the user but the current one.
func (h *Handler) endOtherSessions(ctx context.Context, pc profileCtx) error {
	sessions, err := h.opts.Store.ListUserSessions(ctx, pc.user.ID)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if s.ID == pc.sess.ID {
			continue
		}
		if err := h.opts.Store.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
	}
	return nil
}

func (h *Handler) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PostFormValue("id")
	sessions, err := h.opts.Store.ListUserSessions(ctx, pc.user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	// Only the person's own sessions; an unknown ID is no error (signed out
	// already).
	if id != "" && slices.ContainsFunc(sessions, func(s storage.Session) bool { return s.ID == id }) {
		if err := h.opts.Store.DeleteSession(ctx, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
			h.renderInternalError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "session signed out from the account page", "user_id", pc.user.ID, "session_id", id)
	}
	if id == pc.sess.ID {
		h.sessions.expireCookie(w)
		redirect(w, r, h.path(pathProfile))
		return
	}
	redirect(w, r, h.path(pathProfile)+"?done=signout")
}

func (h *Handler) sessionRevokeOthers(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	if err := h.endOtherSessions(r.Context(), pc); err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "other sessions signed out from the account page", "user_id", pc.user.ID)
	redirect(w, r, h.path(pathProfile)+"?done=others")
}

// reauth starts a login that returns to the deletion or profile page,
// for the signed-in person (their identifier prefilled).
func (h *Handler) reauth(w http.ResponseWriter, r *http.Request) {
	pc, ok, err := h.profileSession(r)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	to := h.path(pathProfile)
	if r.URL.Query().Get("to") == "delete" {
		to = h.path("/u/account/delete")
	}
	if !ok {
		h.accountLoginTo(w, r, "", to, "")
		return
	}
	h.accountLoginTo(w, r, pc.conn.Connection().Name, to, pc.user.Email)
}

func (h *Handler) deletePage(w http.ResponseWriter, r *http.Request) {
	pc, ok, err := h.profileSession(r)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if !ok {
		h.accountLoginTo(w, r, "", h.path("/u/account/delete"), "")
		return
	}
	h.renderDelete(w, r, http.StatusOK, pc, "")
}

func (h *Handler) renderDelete(w http.ResponseWriter, r *http.Request, status int, pc profileCtx, msg string) {
	d := templates.DeleteAccountData{
		Email: pc.user.Email, Recent: recentAuth(pc.sess), Error: msg,
		ReauthURL: h.path("/u/account/reauth") + "?" + url.Values{"to": {"delete"}}.Encode(),
		Action:    h.path("/u/account/delete"), BackURL: h.path(pathProfile),
	}
	p := templates.Page{Lang: h.lang(""), ClientName: "your account", CSRF: h.csrfToken("account:" + pc.sess.ID), AssetBase: h.path("/assets")}
	h.renderPage(w, r, status, p, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.DeleteAccount(wr, d)
	})
}

func (h *Handler) deleteSubmit(w http.ResponseWriter, r *http.Request) {
	pc, ok := h.profileForm(w, r)
	if !ok {
		return
	}
	if !recentAuth(pc.sess) {
		h.renderDelete(w, r, http.StatusForbidden, pc, "For your security, log in again before deleting your account.")
		return
	}
	if !strings.EqualFold(strings.TrimSpace(r.PostFormValue("confirm")), pc.user.Email) {
		h.renderDelete(w, r, http.StatusBadRequest, pc, "Type your email address exactly to confirm.")
		return
	}
	ctx := r.Context()
	err := h.opts.Store.InTx(ctx, func(ctx context.Context) error {
		for _, kind := range []storage.TokenKind{storage.TokenRefresh, storage.TokenAccess} {
			if _, err := h.opts.Store.DeactivateTokensBySubject(ctx, kind, pc.user.ID); err != nil {
				return err
			}
		}
		return h.opts.Store.DeleteUser(ctx, pc.user.ID)
	})
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	h.sessions.expireCookie(w)
	h.log.InfoContext(ctx, "account deleted by its owner", "user_id", pc.user.ID)
	h.renderMessage(w, r, http.StatusOK, templates.MessageData{
		Title: "Account deleted", Message: "Your account has been deleted. Applications can no longer use it.",
	})
}

// describeUserAgent names a browser and system from a User-Agent header,
// roughly ("Chrome on Linux"), for the sessions list.
func describeUserAgent(ua string) string {
	if ua == "" {
		return "Unknown device"
	}
	browser := "Browser"
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"HeadlessChrome/", "Chrome (headless)"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"Go-http-client", "Go HTTP client"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Windows", "Windows"}, {"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			return browser + " on " + o.name
		}
	}
	return browser
}
