package handlers

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// mountAccountMFA mounts the account page's MFA section, for a signed-in
// person (no session: the account page's login first):
//
//	GET  /u/account/mfa                         list second factors; add an authenticator app or a security key; new recovery codes
//	GET  /u/account/mfa/totp                    a new authenticator app: QR code and secret
//	POST /u/account/mfa/totp                    fields enrollment, code, csrf: confirm; the first recovery codes are shown once
//	POST /u/account/mfa/recovery-codes          field csrf: replace the recovery codes, shown once
//	POST /u/account/mfa/remove                  fields id, csrf (never the last factor under the policy "always")
//	POST /u/account/mfa/security-key/begin      JSON {}: register a security key
//	POST /u/account/mfa/security-key/finish     JSON {ceremony, credential}
func (h *Handler) mountAccountMFA(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/account/mfa"), h.page(h.accountMFAPage))
	mux.Handle("GET "+h.path("/u/account/mfa/totp"), h.page(h.accountTOTPPage))
	mux.Handle("POST "+h.path("/u/account/mfa/totp"), h.form(h.accountTOTPSubmit))
	mux.Handle("POST "+h.path("/u/account/mfa/recovery-codes"), h.form(h.accountRecoveryCodes))
	mux.Handle("POST "+h.path("/u/account/mfa/remove"), h.form(h.accountMFARemove))
	slots := make(chan struct{}, passkeyConcurrency)
	mux.Handle("POST "+h.path("/u/account/mfa/security-key/begin"), h.passkeyJSON(slots, h.accountSecurityKeyBegin))
	mux.Handle("POST "+h.path("/u/account/mfa/security-key/finish"), h.passkeyJSON(slots, h.accountSecurityKeyFinish))
}

// Notices of the MFA section, by the "done" query parameter.
var accountMFANotices = map[string]string{
	"otp":          "Authenticator app added.",
	"security-key": "Security key added.",
	"removed":      "Removed.",
}

// accountMFA returns the signed-in person and their connection's MFA
// service. When it returns false it has answered: no session leads to the
// account page (which logs in), no MFA to an error page.
func (h *Handler) accountMFA(w http.ResponseWriter, r *http.Request, post bool) (storage.Session, storage.User, *mfa.Service, bool) {
	sess, user, ok := h.flowSession(r, "")
	if !ok {
		redirect(w, r, h.path("/u/account"))
		return sess, user, nil, false
	}
	svc := h.mfaOf(h.connectorByID(r.Context(), sess.ConnectionID))
	if svc == nil {
		h.renderError(w, r, http.StatusNotFound, "Two-step verification is not available", "Your account's connection does not offer two-step verification.")
		return sess, user, nil, false
	}
	if post && !h.checkCSRF(r, "account:"+sess.ID) {
		h.renderError(w, r, http.StatusForbidden, "Request blocked",
			"This form has expired or did not come from this site. Go back to your account page and try again.")
		return sess, user, nil, false
	}
	return sess, user, svc, true
}

// accountPageData is the shared part of the account pages.
func (h *Handler) accountPageData(sess storage.Session) templates.Page {
	return templates.Page{
		Lang:       h.lang(""),
		ClientName: "your account",
		CSRF:       h.csrfToken("account:" + sess.ID),
		AssetBase:  h.path("/assets"),
	}
}

func (h *Handler) accountMFAPage(w http.ResponseWriter, r *http.Request) {
	sess, user, svc, ok := h.accountMFA(w, r, false)
	if !ok {
		return
	}
	h.renderAccountMFA(w, r, http.StatusOK, sess, user, svc, accountMFANotices[r.URL.Query().Get("done")], "")
}

func (h *Handler) renderAccountMFA(w http.ResponseWriter, r *http.Request, status int, sess storage.Session, user storage.User, svc *mfa.Service, notice, msg string) {
	factors, err := svc.ListFactors(r.Context(), user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	d := templates.MFAAccountData{
		Email:        user.Email,
		RemoveAction: h.path("/u/account/mfa/remove"),
		BackURL:      h.path("/u/account"),
		Notice:       notice,
		Error:        msg,
	}
	switch svc.Policy().Policy {
	case mfa.ModeAlways:
		d.Policy = "A second step is asked at every login."
	default:
		d.Policy = "A second step is asked when an application requires it."
	}
	if svc.FactorEnabled(mfa.FactorOTP) {
		d.EnrollOTPURL = h.path("/u/account/mfa/totp")
	}
	if svc.FactorEnabled(mfa.FactorWebAuthnRoaming) {
		d.SecurityKey = templates.SecurityKeyUI{API: h.path("/u/account/mfa/security-key")}
	}
	hasPrimary := false
	for _, f := range factors {
		af := templates.MFAFactor{ID: f.ID, Kind: string(f.Kind), Name: f.Name, Remaining: f.Remaining,
			Created: f.CreatedAt.UTC().Format("2 January 2006")}
		if !f.LastUsedAt.IsZero() {
			af.LastUsed = f.LastUsedAt.UTC().Format("2 January 2006, 15:04 UTC")
		}
		d.Factors = append(d.Factors, af)
		hasPrimary = hasPrimary || f.Kind != mfa.FactorRecoveryCode
	}
	if hasPrimary && svc.FactorEnabled(mfa.FactorRecoveryCode) {
		d.RecoveryAction = h.path("/u/account/mfa/recovery-codes")
	}
	h.renderPage(w, r, status, h.accountPageData(sess), func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.MFAAccount(wr, d)
	})
}

func (h *Handler) accountTOTPPage(w http.ResponseWriter, r *http.Request) {
	sess, user, svc, ok := h.accountMFA(w, r, false)
	if !ok {
		return
	}
	h.renderAccountTOTP(w, r, http.StatusOK, sess, user, svc, "")
}

func (h *Handler) renderAccountTOTP(w http.ResponseWriter, r *http.Request, status int, sess storage.Session, user storage.User, svc *mfa.Service, msg string) {
	if !svc.FactorEnabled(mfa.FactorOTP) {
		h.renderAccountMFA(w, r, http.StatusBadRequest, sess, user, svc, "", "Authenticator apps are not available.")
		return
	}
	e, err := svc.BeginTOTP(r.Context(), user)
	if errors.Is(err, mfa.ErrTooManyFactors) {
		h.renderAccountMFA(w, r, http.StatusBadRequest, sess, user, svc, "", "You have too many authenticator apps. Remove one first.")
		return
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	d := templates.MFAEnrollData{
		Action: h.path("/u/account/mfa/totp"), EnrollmentID: e.ID, Secret: e.Secret, QRCode: qrDataURL(e.QRPNG),
		Error: msg, Account: true,
	}
	setQRCSP(w)
	h.renderPage(w, r, status, h.accountPageData(sess), func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.MFAEnroll(wr, d)
	})
}

func (h *Handler) accountTOTPSubmit(w http.ResponseWriter, r *http.Request) {
	sess, user, svc, ok := h.accountMFA(w, r, true)
	if !ok {
		return
	}
	ctx := r.Context()
	_, err := svc.ConfirmTOTP(ctx, user.ID, r.PostFormValue("enrollment"), strings.TrimSpace(r.PostFormValue("code")))
	var le *mfa.LimitError
	switch {
	case errors.As(err, &le):
		w.Header().Set("Retry-After", retryAfter(le.RetryAfter))
		h.renderAccountTOTP(w, r, http.StatusTooManyRequests, sess, user, svc, mfaLimitMessage(le))
		return
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrEnrollmentNotFound):
		h.renderAccountTOTP(w, r, http.StatusBadRequest, sess, user, svc, "The code is not valid. Scan the new QR code and try again.")
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "authenticator app added", "user_id", user.ID, "from", "account")
	if n, err := svc.RemainingRecoveryCodes(ctx, user.ID); err == nil && n == 0 && svc.FactorEnabled(mfa.FactorRecoveryCode) {
		h.showRecoveryCodes(w, r, sess, user, svc, h.path("/u/account/mfa")+"?done=otp")
		return
	}
	redirect(w, r, h.path("/u/account/mfa")+"?done=otp")
}

// showRecoveryCodes replaces the user's recovery codes and shows them once.
func (h *Handler) showRecoveryCodes(w http.ResponseWriter, r *http.Request, sess storage.Session, user storage.User, svc *mfa.Service, next string) {
	codes, err := svc.GenerateRecoveryCodes(r.Context(), user.ID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	d := templates.MFARecoveryCodesData{Codes: codes, ContinueURL: next}
	h.renderPage(w, r, http.StatusOK, h.accountPageData(sess), func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.MFARecoveryCodes(wr, d)
	})
}

func (h *Handler) accountRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	sess, user, svc, ok := h.accountMFA(w, r, true)
	if !ok {
		return
	}
	if !svc.FactorEnabled(mfa.FactorRecoveryCode) {
		h.renderAccountMFA(w, r, http.StatusBadRequest, sess, user, svc, "", "Recovery codes are not available.")
		return
	}
	h.log.InfoContext(r.Context(), "recovery codes replaced", "user_id", user.ID)
	h.showRecoveryCodes(w, r, sess, user, svc, h.path("/u/account/mfa"))
}

func (h *Handler) accountMFARemove(w http.ResponseWriter, r *http.Request) {
	sess, user, svc, ok := h.accountMFA(w, r, true)
	if !ok {
		return
	}
	err := svc.RemoveFactor(r.Context(), user.ID, r.PostFormValue("id"))
	switch {
	case errors.Is(err, mfa.ErrLastFactor):
		h.renderAccountMFA(w, r, http.StatusConflict, sess, user, svc, "",
			"This is your last second step, and it is required at every login. Add another one before removing it.")
		return
	case errors.Is(err, mfa.ErrFactorNotFound):
		h.renderAccountMFA(w, r, http.StatusNotFound, sess, user, svc, "", "This second step no longer exists.")
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, h.path("/u/account/mfa")+"?done=removed")
}

// accountMFAAPI returns the signed-in person and MFA service of a JSON
// call.
func (h *Handler) accountMFAAPI(r *http.Request) (storage.User, *mfa.Service, error) {
	_, user, ok := h.flowSession(r, "")
	if !ok {
		return storage.User{}, nil, errAPILoginRequired
	}
	sess, _ := h.sessions.current(r)
	svc := h.mfaOf(h.connectorByID(r.Context(), sess.ConnectionID))
	if svc == nil || !svc.FactorEnabled(mfa.FactorWebAuthnRoaming) {
		return storage.User{}, nil, errAPISecurityKeyOff
	}
	return user, svc, nil
}

func (h *Handler) accountSecurityKeyBegin(w http.ResponseWriter, r *http.Request, _ passkeyRequest) {
	user, svc, err := h.accountMFAAPI(r)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	c, err := svc.BeginSecurityKey(r.Context(), user)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: c.ID, PublicKey: c.PublicKey})
}

func (h *Handler) accountSecurityKeyFinish(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	user, svc, err := h.accountMFAAPI(r)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	if req.Ceremony == "" || len(req.Credential) == 0 {
		h.writeAPIError(w, r, apiBadRequest(`"ceremony" and "credential" are required.`))
		return
	}
	f, err := svc.FinishSecurityKey(r.Context(), user.ID, req.Ceremony, req.Credential)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "security key added", "user_id", user.ID, "factor_id", f.ID, "from", "account")
	writeJSON(w, http.StatusOK, map[string]string{"redirect": h.path("/u/account/mfa") + "?done=security-key"})
}

// retryAfter formats a Retry-After header value in whole seconds.
func retryAfter(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.Itoa(s)
}
