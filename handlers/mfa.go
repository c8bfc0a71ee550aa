package handlers

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// mfaOf returns the connection's MFA service, or nil.
func (h *Handler) mfaOf(c connector.Connector) *mfa.Service {
	if h.opts.MFA == nil || c == nil {
		return nil
	}
	return h.opts.MFA(c)
}

// mfaPending is a login waiting for its second factor, kept in the flow
// state (flowState.MFA): the first factor's evidence and the open MFA
// challenge. It lives in the store, so any replica serves any step, and no
// browser session exists for the login until the second factor is done.
type mfaPending struct {
	UserID string `json:"user_id"`
	// Methods is the evidence so far (the first factor; for a step-up, the
	// session's evidence).
	Methods []connector.Method `json:"methods"`
	// Challenge is the open mfa.Challenge and its expiry.
	Challenge        string    `json:"challenge,omitempty"`
	ChallengeExpires time.Time `json:"challenge_expires,omitzero"`
	// Ceremony is the security-key ceremony begun for this login.
	Ceremony string `json:"ceremony,omitempty"`
	// StepUp marks a logged-in user asked for a second factor by the
	// relying party (acr_values) or an action.
	StepUp bool `json:"step_up,omitempty"`
}

// multiFactorRequested reports whether the authorization request asks for
// the multi-factor acr (acr_values, or an essential acr claim).
func multiFactorRequested(form url.Values) bool {
	if slices.Contains(strings.Fields(form.Get("acr_values")), provider.ACRMultiFactor) {
		return true
	}
	c, err := parseClaimsRequest(form.Get("claims"))
	return err == nil && slices.Contains(c.EssentialACR, provider.ACRMultiFactor)
}

// gateLogin runs after a first factor succeeded and before the browser
// session starts: the post-login actions run, then the connection's MFA
// policy decides (mfa.Required) with the actions' decision and the
// request's acr_values. It returns the URL of the page the login must go
// through first (the MFA page, or the page of a stopped login), or "" when
// the session may start now. The outcome is kept in the flow state.
func (h *Handler) gateLogin(r *http.Request, f *flow, u storage.User, methods []connector.Method) (string, error) {
	var outcome *actionOutcome
	if f.State.ReturnTo == "" {
		outcome = h.runActions(r, f.Form, f.Client, f.ConnName, f.Req.ConnectionID, u, methods)
	}
	if outcome.stopped() {
		err := h.saveFlowState(r.Context(), f, func(s *flowState) { s.Actions, s.MFA = outcome, nil })
		return h.pageURL("/u/denied", f.Req.ID), err
	}
	decision := mfa.ActionUnset
	if outcome != nil {
		decision = outcome.MFA
	}
	svc := h.mfaOf(f.Conn)
	policy := mfa.DefaultPolicy()
	if svc != nil {
		policy = svc.Policy()
	}
	need := mfa.Required(policy, methods, decision, multiFactorRequested(f.Form))
	if need && svc == nil {
		if decision == mfa.ActionAny {
			// An action demands a second factor the connection cannot ask.
			h.log.ErrorContext(r.Context(), "a post-login action requires MFA, but the connection has no MFA", "connection", f.ConnName)
			outcome = &actionOutcome{UserID: u.ID, Failed: true}
			err := h.saveFlowState(r.Context(), f, func(s *flowState) { s.Actions, s.MFA = outcome, nil })
			return h.pageURL("/u/denied", f.Req.ID), err
		}
		// acr_values asked for multi-factor: /authorize answers the client
		// with unmet_authentication_requirements.
		need = false
	}
	if !need && outcome == nil && f.State.MFA == nil && f.State.Actions == nil {
		return "", nil
	}
	var pending *mfaPending
	if need {
		pending = &mfaPending{UserID: u.ID, Methods: methods}
	}
	if err := h.saveFlowState(r.Context(), f, func(s *flowState) { s.Actions, s.MFA = outcome, pending }); err != nil {
		return "", err
	}
	if need {
		h.log.InfoContext(r.Context(), "second factor required", "user_id", u.ID, "connection", f.ConnName, "client_id", f.Client.ID)
		return h.pageURL("/u/mfa", f.Req.ID), nil
	}
	return "", nil
}

// stepUp decides, for a logged-in user at /authorize, whether the session
// must add a second factor now: the request asks for the multi-factor acr,
// an action asks for MFA, or the policy does and the session lacks one.
func (h *Handler) stepUp(r *http.Request, conn storage.Connection, evidence []connector.Method, outcome *actionOutcome, form url.Values) bool {
	c, err := h.opts.Connectors.Lookup(r.Context(), conn.Name)
	if err != nil {
		return false
	}
	svc := h.mfaOf(c)
	if svc == nil {
		return false
	}
	decision := mfa.ActionUnset
	if outcome != nil {
		decision = outcome.MFA
	}
	return mfa.Required(svc.Policy(), evidence, decision, multiFactorRequested(form))
}

// redirectToStepUp stores the request (when not stored yet) with a pending
// second factor for the logged-in user and sends the browser to the MFA
// page.
func (h *Handler) redirectToStepUp(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, pending *flow, connectionID string, u storage.User, evidence []connector.Method, outcome *actionOutcome) {
	ctx := r.Context()
	mp := &mfaPending{UserID: u.ID, Methods: evidence, StepUp: true}
	var id string
	if pending != nil {
		if err := h.saveFlowState(ctx, pending, func(s *flowState) { s.MFA, s.Actions = mp, outcome }); err != nil {
			h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		id = pending.Req.ID
	} else {
		st, err := json.Marshal(flowState{MFA: mp, Actions: outcome})
		if err != nil {
			h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		now := time.Now()
		req, err := h.opts.Store.CreateAuthRequest(ctx, storage.AuthRequest{
			ClientID:     ar.GetClient().GetID(),
			Form:         ar.GetRequestForm().Encode(),
			ConnectionID: connectionID,
			State:        st,
			CreatedAt:    now,
			ExpiresAt:    now.Add(authRequestLifetime),
		})
		if err != nil {
			h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		id = req.ID
	}
	h.log.InfoContext(ctx, "step-up: second factor required", "user_id", u.ID, "client_id", ar.GetClient().GetID())
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.pageURL("/u/mfa", id), http.StatusSeeOther)
}

// mountMFA mounts the second-factor step of the login:
//
//	GET  /u/mfa?state=ID[&kind=recovery-code]   the challenge page (a code, or a security key)
//	POST /u/mfa                                  fields code, kind, csrf: verify, start the session, go on
//	GET  /u/mfa/enroll?state=ID                  a user without a factor sets one up (QR code and secret)
//	POST /u/mfa/enroll                           fields enrollment, code, csrf: confirm, show the recovery codes once
//	POST /u/mfa/security-key/begin               JSON {state}: a security-key assertion (or registration when the user has no factor)
//	POST /u/mfa/security-key/finish              JSON {state, ceremony, credential}
func (h *Handler) mountMFA(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/mfa"), h.page(h.mfaPage))
	mux.Handle("POST "+h.path("/u/mfa"), h.form(h.mfaSubmit))
	mux.Handle("GET "+h.path("/u/mfa/enroll"), h.page(h.mfaEnrollPage))
	mux.Handle("POST "+h.path("/u/mfa/enroll"), h.form(h.mfaEnrollSubmit))
	slots := make(chan struct{}, passkeyConcurrency)
	mux.Handle("POST "+h.path("/u/mfa/security-key/begin"), h.passkeyJSON(slots, h.mfaSecurityKeyBegin))
	mux.Handle("POST "+h.path("/u/mfa/security-key/finish"), h.passkeyJSON(slots, h.mfaSecurityKeyFinish))
}

// mfaFlow loads the flow of an MFA page with its pending second factor,
// user and service. When it returns false it has answered.
func (h *Handler) mfaFlow(w http.ResponseWriter, r *http.Request) (*flow, *mfaPending, storage.User, *mfa.Service, bool) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return nil, nil, storage.User{}, nil, false
	}
	p := f.State.MFA
	svc := h.mfaOf(f.Conn)
	if p == nil || svc == nil {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return nil, nil, storage.User{}, nil, false
	}
	u, err := h.opts.Store.GetUser(r.Context(), p.UserID)
	if err != nil || u.Blocked {
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			h.renderInternalError(w, r, err)
			return nil, nil, storage.User{}, nil, false
		}
		_ = h.saveFlowState(r.Context(), f, func(s *flowState) { s.MFA = nil })
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return nil, nil, storage.User{}, nil, false
	}
	return f, p, u, svc, true
}

// ensureChallenge opens an MFA challenge for the pending login unless one
// is open, and returns the kinds the user can answer with.
func (h *Handler) ensureChallenge(r *http.Request, f *flow, p *mfaPending, svc *mfa.Service, fresh bool) ([]mfa.FactorKind, error) {
	ctx := r.Context()
	if p.Challenge != "" && !fresh && time.Now().Before(p.ChallengeExpires) {
		return h.answerableKinds(r, svc, p.UserID)
	}
	ch, err := svc.BeginChallenge(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	if err := h.saveFlowState(ctx, f, func(s *flowState) {
		if s.MFA != nil {
			s.MFA.Challenge, s.MFA.ChallengeExpires = ch.ID, ch.ExpiresAt
		}
	}); err != nil {
		return nil, err
	}
	p.Challenge, p.ChallengeExpires = ch.ID, ch.ExpiresAt
	return ch.Factors, nil
}

// answerableKinds lists the user's enrolled factor kinds that the
// connection enables.
func (h *Handler) answerableKinds(r *http.Request, svc *mfa.Service, userID string) ([]mfa.FactorKind, error) {
	factors, err := svc.ListFactors(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	var kinds []mfa.FactorKind
	for _, f := range factors {
		if svc.FactorEnabled(f.Kind) && !slices.Contains(kinds, f.Kind) {
			kinds = append(kinds, f.Kind)
		}
	}
	return kinds, nil
}

func (h *Handler) mfaPage(w http.ResponseWriter, r *http.Request) {
	f, p, u, svc, ok := h.mfaFlow(w, r)
	if !ok {
		return
	}
	kinds, err := h.ensureChallenge(r, f, p, svc, false)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if len(kinds) == 0 {
		redirect(w, r, h.pageURL("/u/mfa/enroll", f.Req.ID))
		return
	}
	h.renderMFA(w, r, f, u, kinds, http.StatusOK, r.URL.Query().Get("kind"), "", false)
}

// renderMFA renders the challenge page for the requested kind of code
// (the first the user has when kind is not one of theirs).
func (h *Handler) renderMFA(w http.ResponseWriter, r *http.Request, f *flow, u storage.User, kinds []mfa.FactorKind, status int, kind, msg string, spent bool) {
	k := mfa.FactorKind(kind)
	if k != mfa.FactorOTP && k != mfa.FactorRecoveryCode || !slices.Contains(kinds, k) {
		k = ""
		for _, c := range []mfa.FactorKind{mfa.FactorOTP, mfa.FactorRecoveryCode} {
			if slices.Contains(kinds, c) {
				k = c
				break
			}
		}
	}
	d := templates.MFAChallengeData{Kind: string(k), Email: u.Email, Error: msg}
	if k != "" {
		d.Action = h.pageURL("/u/mfa", f.Req.ID)
	}
	if k != mfa.FactorOTP && slices.Contains(kinds, mfa.FactorOTP) {
		d.OTPURL = h.pageURL("/u/mfa", f.Req.ID) + "&kind=otp"
	}
	if k != mfa.FactorRecoveryCode && slices.Contains(kinds, mfa.FactorRecoveryCode) {
		d.RecoveryURL = h.pageURL("/u/mfa", f.Req.ID) + "&kind=recovery-code"
	}
	if slices.Contains(kinds, mfa.FactorWebAuthnRoaming) {
		d.SecurityKey = templates.SecurityKeyUI{API: h.path("/u/mfa/security-key"), State: f.Req.ID}
	}
	if spent {
		d.StartOverURL = h.pageURL("/u/login", f.Req.ID)
		if f.State.ReturnTo == "" && f.State.MFA == nil {
			d.StartOverURL = h.resumeURL(f.Req.ID)
		}
	}
	h.renderFlow(w, r, f, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.MFAChallenge(wr, d)
	})
}

// Messages of the MFA pages.
const (
	msgMFAInvalid   = "The code is not valid. Try again."
	msgMFAReplayed  = "This code was already used. Wait for the next code from your app."
	msgMFAEnterCode = "Please enter the code."
	msgMFASpent     = "Too many wrong codes for this login. Start over."
	msgMFAExpired   = "This verification expired. Enter a new code."
)

// mfaLimitMessage words a reached per-user attempt limit.
func mfaLimitMessage(le *mfa.LimitError) string {
	mins := int(le.RetryAfter.Round(time.Minute) / time.Minute)
	if mins <= 1 {
		return "Too many wrong codes. Try again in a minute."
	}
	return fmt.Sprintf("Too many wrong codes. Try again in %d minutes.", mins)
}

func (h *Handler) mfaSubmit(w http.ResponseWriter, r *http.Request) {
	f, p, u, svc, ok := h.mfaFlow(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	kind := r.PostFormValue("kind")
	code := strings.TrimSpace(r.PostFormValue("code"))
	kinds, err := h.ensureChallenge(r, f, p, svc, false)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if code == "" {
		h.renderMFA(w, r, f, u, kinds, http.StatusBadRequest, kind, msgMFAEnterCode, false)
		return
	}
	m, err := svc.Verify(ctx, u.ID, p.Challenge, mfa.FactorKind(kind), code)
	var le *mfa.LimitError
	switch {
	case errors.As(err, &le) && le.Scope == "challenge":
		// The challenge is spent: the login starts over (the first factor
		// again), so a new challenge does not reset the count.
		h.log.InfoContext(ctx, "MFA challenge spent", "user_id", u.ID, "connection", f.ConnName)
		if err := h.saveFlowState(ctx, f, func(s *flowState) {
			if s.MFA != nil && !s.MFA.StepUp {
				s.MFA = nil
			} else if s.MFA != nil {
				s.MFA.Challenge = ""
			}
		}); err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		h.renderMFA(w, r, f, u, kinds, http.StatusTooManyRequests, kind, msgMFASpent, true)
		return
	case errors.As(err, &le):
		w.Header().Set("Retry-After", fmt.Sprint(int(le.RetryAfter.Seconds())+1))
		h.log.InfoContext(ctx, "MFA attempts limited", "user_id", u.ID, "connection", f.ConnName)
		h.renderMFA(w, r, f, u, kinds, http.StatusTooManyRequests, kind, mfaLimitMessage(le), false)
		return
	case errors.Is(err, mfa.ErrCodeReplayed):
		h.renderMFA(w, r, f, u, kinds, http.StatusBadRequest, kind, msgMFAReplayed, false)
		return
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrFactorNotFound), errors.Is(err, mfa.ErrFactorDisabled):
		h.log.InfoContext(ctx, "MFA code refused", "user_id", u.ID, "connection", f.ConnName, "kind", kind)
		h.renderMFA(w, r, f, u, kinds, http.StatusBadRequest, kind, msgMFAInvalid, false)
		return
	case errors.Is(err, mfa.ErrChallengeNotFound):
		if kinds, err = h.ensureChallenge(r, f, p, svc, true); err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		h.renderMFA(w, r, f, u, kinds, http.StatusBadRequest, kind, msgMFAExpired, false)
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	next, err := h.completeMFA(w, r, f, u, p, m)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	redirect(w, r, next)
}

// completeMFA ends the MFA step: a new browser session (new ID) with all
// the evidence, first factor and second, and where the browser goes next.
func (h *Handler) completeMFA(w http.ResponseWriter, r *http.Request, f *flow, u storage.User, p *mfaPending, m connector.Method) (string, error) {
	ctx := r.Context()
	methods := append(slices.Clone(p.Methods), m)
	s, err := h.sessions.start(w, r, u, f.Req.ConnectionID, methods)
	if err != nil {
		return "", err
	}
	if err := h.saveFlowState(ctx, f, func(st *flowState) { st.MFA = nil }); err != nil {
		return "", err
	}
	h.log.InfoContext(ctx, "login", "user_id", u.ID, "session_id", s.ID, "connection", f.ConnName,
		"client_id", f.Client.ID, "amr", s.AMR, "acr", s.ACR, "second_factor", m.Kind, "step_up", p.StepUp)
	if f.State.PasskeyOffer != "" && !p.StepUp {
		return h.pageURL("/u/passkey/enroll", f.Req.ID), nil
	}
	next := h.afterLoginURL(f)
	if f.State.ReturnTo != "" {
		h.endFlow(ctx, f)
	}
	return next, nil
}

// setQRCSP lets the enrolment page show its QR code as a data: image.
func setQRCSP(w http.ResponseWriter) {
	csp := w.Header().Get("Content-Security-Policy")
	w.Header().Set("Content-Security-Policy", strings.Replace(csp, "img-src 'self'", "img-src 'self' data:", 1))
}

// qrDataURL is the enrolment's QR code as a data: URL.
func qrDataURL(png []byte) template.URL {
	// The PNG is generated by Latchkey, base64 has no characters that
	// could leave the attribute.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)) //nolint:gosec
}

func (h *Handler) mfaEnrollPage(w http.ResponseWriter, r *http.Request) {
	f, p, u, svc, ok := h.mfaFlow(w, r)
	if !ok {
		return
	}
	kinds, err := h.answerableKinds(r, svc, p.UserID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if len(kinds) > 0 {
		// Enrolment during login is only for people without a factor.
		redirect(w, r, h.pageURL("/u/mfa", f.Req.ID))
		return
	}
	h.renderMFAEnroll(w, r, f, u, svc, http.StatusOK, "", "")
}

// renderMFAEnroll shows the enrolment page; with enrollmentID "" it begins
// a new TOTP enrolment.
func (h *Handler) renderMFAEnroll(w http.ResponseWriter, r *http.Request, f *flow, u storage.User, svc *mfa.Service, status int, _ string, msg string) {
	d := templates.MFAEnrollData{Error: msg, Action: h.pageURL("/u/mfa/enroll", f.Req.ID)}
	if svc.FactorEnabled(mfa.FactorOTP) {
		e, err := svc.BeginTOTP(r.Context(), u)
		if err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		d.EnrollmentID, d.Secret, d.QRCode = e.ID, e.Secret, qrDataURL(e.QRPNG)
	}
	if svc.FactorEnabled(mfa.FactorWebAuthnRoaming) {
		d.SecurityKey = templates.SecurityKeyUI{API: h.path("/u/mfa/security-key"), State: f.Req.ID}
	}
	setQRCSP(w)
	h.renderFlow(w, r, f, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.MFAEnroll(wr, d)
	})
}

func (h *Handler) mfaEnrollSubmit(w http.ResponseWriter, r *http.Request) {
	f, p, u, svc, ok := h.mfaFlow(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	kinds, err := h.answerableKinds(r, svc, p.UserID)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if len(kinds) > 0 {
		redirect(w, r, h.pageURL("/u/mfa", f.Req.ID))
		return
	}
	code := strings.TrimSpace(r.PostFormValue("code"))
	factor, err := svc.ConfirmTOTP(ctx, u.ID, r.PostFormValue("enrollment"), code)
	var le *mfa.LimitError
	switch {
	case errors.As(err, &le):
		w.Header().Set("Retry-After", fmt.Sprint(int(le.RetryAfter.Seconds())+1))
		h.renderMFAEnroll(w, r, f, u, svc, http.StatusTooManyRequests, "", mfaLimitMessage(le))
		return
	case errors.Is(err, mfa.ErrInvalidCode), errors.Is(err, mfa.ErrEnrollmentNotFound):
		// A new secret: the person scans again (the old enrolment is
		// dropped by BeginTOTP).
		h.renderMFAEnroll(w, r, f, u, svc, http.StatusBadRequest, "", "The code is not valid. Scan the new QR code and try again.")
		return
	case err != nil:
		h.renderInternalError(w, r, err)
		return
	}
	// The confirmation code proved possession of the authenticator: it is
	// this login's second factor.
	m := connector.Method{Kind: connector.MethodOTP, Time: time.Now().UTC(), CredentialID: factor.ID}
	next, err := h.completeMFA(w, r, f, u, p, m)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	if !svc.FactorEnabled(mfa.FactorRecoveryCode) {
		redirect(w, r, next)
		return
	}
	codes, err := svc.GenerateRecoveryCodes(ctx, u.ID)
	if err != nil {
		h.log.ErrorContext(ctx, "generate recovery codes", "user_id", u.ID, "error", err)
		redirect(w, r, next)
		return
	}
	d := templates.MFARecoveryCodesData{Codes: codes, ContinueURL: next}
	h.renderFlow(w, r, f, http.StatusOK, func(wr io.Writer, pg templates.Page) error {
		d.Page = pg
		return h.opts.Templates.MFARecoveryCodes(wr, d)
	})
}

// errAPISecurityKeyOff: no security key can be used for this login.
var errAPISecurityKeyOff = &apiError{http.StatusForbidden, "security_key_unavailable",
	"Security keys are not available for this login.", ""}

// mfaAPIFlow loads the flow of a security-key call with its pending MFA.
func (h *Handler) mfaAPIFlow(r *http.Request, state string) (*flow, *mfaPending, storage.User, *mfa.Service, error) {
	f, err := h.loadFlowByID(r.Context(), state)
	if err != nil {
		if errors.Is(err, errFlowNotFound) {
			return nil, nil, storage.User{}, nil, errAPIState
		}
		return nil, nil, storage.User{}, nil, err
	}
	p, svc := f.State.MFA, h.mfaOf(f.Conn)
	if p == nil || svc == nil {
		return nil, nil, storage.User{}, nil, errAPIState
	}
	u, err := h.opts.Store.GetUser(r.Context(), p.UserID)
	if err != nil {
		return nil, nil, storage.User{}, nil, errAPIState
	}
	return f, p, u, svc, nil
}

// mfaSecurityKeyBegin starts a security-key assertion for the pending
// login, or a registration when the user has no factor yet (enrolment).
func (h *Handler) mfaSecurityKeyBegin(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	f, _, u, svc, err := h.mfaAPIFlow(r, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	kinds, err := h.answerableKinds(r, svc, u.ID)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	var c passkey.Ceremony
	switch {
	case slices.Contains(kinds, mfa.FactorWebAuthnRoaming):
		c, err = svc.BeginSecurityKeyLogin(r.Context(), u)
	case len(kinds) == 0:
		c, err = svc.BeginSecurityKey(r.Context(), u)
	default:
		err = errAPISecurityKeyOff
	}
	if errors.Is(err, mfa.ErrFactorDisabled) {
		err = errAPISecurityKeyOff
	}
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	if err := h.saveFlowState(r.Context(), f, func(s *flowState) {
		if s.MFA != nil {
			s.MFA.Ceremony = c.ID
		}
	}); err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: c.ID, PublicKey: c.PublicKey})
}

// mfaSecurityKeyFinish verifies the assertion (and completes the login) or
// the registration (and sends the person to the challenge page, where the
// new key is used).
func (h *Handler) mfaSecurityKeyFinish(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	f, p, u, svc, err := h.mfaAPIFlow(r, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	if p.Ceremony == "" || req.Ceremony != p.Ceremony {
		h.writeAPIError(w, r, errAPIBadCeremony)
		return
	}
	if len(req.Credential) == 0 {
		h.writeAPIError(w, r, apiBadRequest(`"credential" is required: the JSON of credential.toJSON().`))
		return
	}
	if err := h.saveFlowState(ctx, f, func(s *flowState) {
		if s.MFA != nil {
			s.MFA.Ceremony = ""
		}
	}); err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	kinds, err := h.answerableKinds(r, svc, u.ID)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	if len(kinds) == 0 {
		factor, err := svc.FinishSecurityKey(ctx, u.ID, req.Ceremony, req.Credential)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "security key enrolled", "user_id", u.ID, "factor_id", factor.ID, "from", "login")
		writeJSON(w, http.StatusOK, map[string]string{"redirect": h.pageURL("/u/mfa", f.Req.ID)})
		return
	}
	m, err := svc.FinishSecurityKeyLogin(ctx, u.ID, req.Ceremony, req.Credential)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	next, err := h.completeMFA(w, r, f, u, p, m)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
}
