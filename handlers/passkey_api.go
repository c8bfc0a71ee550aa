package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
)

// maxPasskeyBody bounds a ceremony API request (a registration response
// with an attestation chain is a few KiB; the passkey package refuses
// responses over 64 KiB).
const maxPasskeyBody = 128 << 10

// passkeyConcurrency bounds the ceremony requests served at once, and
// passkeyQueueWait how long a request waits for a slot before a 503.
const (
	passkeyConcurrency = 256
	passkeyQueueWait   = 250 * time.Millisecond
)

// mountPasskeyAPI mounts the passkey ceremony JSON API (docs/passkeys-api.md):
//
//	POST /passkey/login/begin      {"state", "email"?}                  → {"ceremony", "publicKey"}
//	POST /passkey/login/finish     {"state", "ceremony", "credential"}  → {"redirect"}
//	POST /passkey/register/begin   {"state"?, "email"?, "hint"?}        → {"ceremony", "publicKey"}
//	POST /passkey/register/finish  {"state"?, "ceremony", "credential"} → {"redirect"} or {"passkey"}
func (h *Handler) mountPasskeyAPI(mux *http.ServeMux) {
	slots := make(chan struct{}, passkeyConcurrency)
	for path, fn := range map[string]func(http.ResponseWriter, *http.Request, passkeyRequest){
		"/passkey/login/begin":     h.passkeyLoginBegin,
		"/passkey/login/finish":    h.passkeyLoginFinish,
		"/passkey/register/begin":  h.passkeyRegisterBegin,
		"/passkey/register/finish": h.passkeyRegisterFinish,
	} {
		mux.Handle("POST "+h.path(path), h.passkeyJSON(slots, fn))
	}
}

// passkeyRequest is the body of every ceremony API call; each call uses the
// fields it documents and ignores the others.
type passkeyRequest struct {
	State      string          `json:"state"`
	Email      string          `json:"email"`
	Hint       string          `json:"hint"`
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
}

// apiError is the JSON error of the API: a stable code and a reason for
// people.
type apiError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description"`
	// Rule names the policy rule a passkey broke (code passkey_policy).
	Rule string `json:"rule,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Description }

// API errors that do not come from the passkey package.
var (
	errAPIState = &apiError{http.StatusBadRequest, "invalid_state",
		"Your login session expired or was not found. Go back to the application and try again.", ""}
	errAPILoginRequired = &apiError{http.StatusUnauthorized, "login_required",
		"You need to log in first.", ""}
	errAPIDisabled = &apiError{http.StatusForbidden, "passkeys_disabled",
		"Passkeys are not available for this application.", ""}
	errAPIBadCeremony = &apiError{http.StatusBadRequest, "invalid_ceremony",
		"This passkey request does not belong to this login. Start again.", ""}
	errAPIBusy = &apiError{http.StatusServiceUnavailable, "temporarily_unavailable",
		"We are handling many logins right now. Wait a moment and try again.", ""}
)

func apiBadRequest(desc string) *apiError {
	return &apiError{http.StatusBadRequest, "invalid_request", desc, ""}
}

// passkeyJSON wraps an API handler: cross-origin protection, a JSON
// content type, a bounded body decoded as one object, and a bounded number
// of requests in flight (503 beyond).
func (h *Handler) passkeyJSON(slots chan struct{}, fn func(http.ResponseWriter, *http.Request, passkeyRequest)) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.writeAPIError(w, r, &apiError{http.StatusForbidden, "cross_origin_request",
			"This request did not come from this site.", ""})
	}))
	return cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			h.writeAPIError(w, r, &apiError{http.StatusUnsupportedMediaType, "invalid_request",
				"The request body must be JSON (Content-Type: application/json).", ""})
			return
		}
		timer := time.NewTimer(passkeyQueueWait)
		select {
		case slots <- struct{}{}:
			timer.Stop()
			defer func() { <-slots }()
		case <-timer.C:
			w.Header().Set("Retry-After", "1")
			h.writeAPIError(w, r, errAPIBusy)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPasskeyBody))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.writeAPIError(w, r, &apiError{http.StatusRequestEntityTooLarge, "invalid_request",
				fmt.Sprintf("The request body is larger than %d bytes.", maxPasskeyBody), ""})
			return
		}
		if err != nil {
			h.writeAPIError(w, r, apiBadRequest("The request body could not be read."))
			return
		}
		var req passkeyRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&req); err != nil {
			h.writeAPIError(w, r, apiBadRequest("The request body is not a valid JSON object: "+jsonProblem(err)))
			return
		}
		if dec.More() {
			h.writeAPIError(w, r, apiBadRequest("The request body must hold exactly one JSON object."))
			return
		}
		if len(req.State) > 128 || len(req.Email) > maxIdentifierLen || len(req.Hint) > 32 {
			h.writeAPIError(w, r, apiBadRequest("A field of the request is too long."))
			return
		}
		fn(w, r, req)
	}))
}

// jsonProblem describes a JSON decoding error without echoing input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or truncated"
	default:
		return "it cannot be decoded"
	}
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeAPIError sends an API error. Errors that are not *apiError are
// mapped with passkeyAPIError; what remains is a 500 that is logged with a
// request ID and never described to the client.
func (h *Handler) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	ae := passkeyAPIError(err)
	if ae == nil {
		id := newRequestID()
		h.log.LogAttrs(r.Context(), slog.LevelError, "passkey request failed", slog.Any("err", err),
			slog.String("path", r.URL.Path), slog.String("request_id", id))
		writeJSON(w, http.StatusInternalServerError, &apiError{Code: "server_error",
			Description: "We could not complete your request. Please try again later (error ID " + id + ")."})
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "passkey request refused",
		slog.String("path", r.URL.Path), slog.String("error", ae.Code), slog.Any("cause", err))
	writeJSON(w, ae.Status, ae)
}

// passkeyAPIError maps the passkey package's and connectors' errors to API
// errors, or returns nil for an unexpected (server) error.
func passkeyAPIError(err error) *apiError {
	var (
		ae *apiError
		ve *passkey.VerificationError
		pe *passkey.PolicyError
		fe *connector.FieldError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, passkey.ErrCeremonyNotFound):
		return &apiError{http.StatusBadRequest, "ceremony_expired",
			"This passkey request expired or was already used. Try again.", ""}
	case errors.Is(err, passkey.ErrUserVerificationRequired):
		return &apiError{http.StatusBadRequest, "user_verification_required",
			"Your device did not verify you (with a PIN, fingerprint or face). This application requires it; try again and confirm it is you.", ""}
	case errors.As(err, &ve):
		return &apiError{http.StatusBadRequest, "invalid_credential",
			"The passkey response could not be verified: " + ve.Reason + ".", ""}
	case errors.Is(err, passkey.ErrUnknownCredential):
		return &apiError{http.StatusBadRequest, "unknown_passkey",
			"This passkey is not registered for this application. Try another passkey or another way to log in.", ""}
	case errors.Is(err, passkey.ErrCredentialExists):
		return &apiError{http.StatusConflict, "passkey_exists",
			"This passkey is already registered.", ""}
	case errors.Is(err, passkey.ErrSignCountRegression):
		return &apiError{http.StatusBadRequest, "passkey_cloned",
			"This passkey reported a signature counter that went backwards, a sign that it may have been copied. Use another passkey or another way to log in.", ""}
	case errors.Is(err, passkey.ErrNoPasskeys):
		return &apiError{http.StatusNotFound, "no_passkeys",
			"There is no passkey for this account. Continue another way.", ""}
	case errors.Is(err, passkey.ErrLastCredential):
		return &apiError{http.StatusConflict, "last_credential",
			"This is your only way to log in, so it cannot be deleted. Add another passkey or a password first.", ""}
	case errors.Is(err, passkey.ErrPasskeyNotFound):
		return &apiError{http.StatusNotFound, "passkey_not_found", "This passkey was not found.", ""}
	case errors.Is(err, passkey.ErrInvalidName):
		return &apiError{http.StatusBadRequest, "invalid_name",
			fmt.Sprintf("A passkey name must be 1 to %d characters.", passkey.MaxNameLength), ""}
	case errors.Is(err, passkey.ErrDisabled):
		return errAPIDisabled
	case errors.As(err, &pe):
		return &apiError{http.StatusForbidden, "passkey_policy", sentence(pe.Reason), pe.Rule}
	case errors.As(err, &fe):
		return &apiError{http.StatusBadRequest, "invalid_" + fe.Field, sentence(fe.Message), ""}
	case errors.Is(err, connector.ErrUserExists):
		return &apiError{http.StatusConflict, "user_exists", msgUserExists, ""}
	case errors.Is(err, connector.ErrUserBlocked):
		return &apiError{http.StatusForbidden, "user_blocked", msgBlocked, ""}
	case errors.Is(err, connector.ErrSignupDisabled):
		return &apiError{http.StatusForbidden, "signup_disabled", msgSignupDisabled, ""}
	}
	return nil
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	if c := s[0]; c >= 'a' && c <= 'z' {
		s = string(c-'a'+'A') + s[1:]
	}
	switch s[len(s)-1] {
	case '.', '!', '?':
		return s
	}
	return s + "."
}

// ceremonyResponse is the answer of the begin calls.
type ceremonyResponse struct {
	Ceremony  string          `json:"ceremony"`
	PublicKey json.RawMessage `json:"publicKey"`
}

// apiFlow loads the flow the request names.
func (h *Handler) apiFlow(ctx context.Context, state string) (*flow, *passkey.RelyingParty, error) {
	if state == "" {
		return nil, nil, errAPIState
	}
	f, err := h.loadFlowByID(ctx, state)
	if errors.Is(err, errFlowNotFound) {
		return nil, nil, errAPIState
	}
	if err != nil {
		return nil, nil, err
	}
	rp := passkeysOf(f.Conn)
	if rp == nil {
		return nil, nil, errAPIDisabled
	}
	return f, rp, nil
}

func parseHint(s string) (passkey.Hint, error) {
	switch h := passkey.Hint(s); h {
	case passkey.HintNone, passkey.HintClientDevice, passkey.HintHybrid, passkey.HintSecurityKey:
		return h, nil
	}
	return "", apiBadRequest(`"hint" must be "client-device", "hybrid", "security-key" or empty.`)
}

// passkeyLoginBegin starts a login ceremony: discoverable (autofill, the
// passkey button) without email, the user's passkeys with one.
func (h *Handler) passkeyLoginBegin(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	f, rp, err := h.apiFlow(ctx, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	hint, err := parseHint(req.Hint)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	var user *storage.User
	if email := normalizeIdentifier(req.Email); email != "" {
		u, err := h.lookupUser(ctx, f, email)
		if errors.Is(err, storage.ErrNotFound) {
			// An unknown email gets the answer of a user without passkeys.
			h.writeAPIError(w, r, passkey.ErrNoPasskeys)
			return
		}
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		user = &u
	}
	c, err := rp.BeginLogin(ctx, user, passkey.LoginOptions{Hint: hint})
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: h.ceremonyToken(purposeLogin, c.ID, f.Req.ID), PublicKey: c.PublicKey})
}

// lookupUser finds the flow connection's user by identifier; an error
// wrapping storage.ErrNotFound when there is none.
func (h *Handler) lookupUser(ctx context.Context, f *flow, identifier string) (storage.User, error) {
	if pc, ok := f.Conn.(connector.PasswordConnector); ok {
		return pc.LookupUser(ctx, identifier)
	}
	return h.opts.Store.GetUserByEmail(ctx, f.Req.ConnectionID, identifier)
}

// passkeyLoginFinish verifies the assertion, starts the browser session
// with the passkey's evidence and says where to go next.
func (h *Handler) passkeyLoginFinish(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	f, rp, err := h.apiFlow(ctx, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	purpose, id, mac, ok := parseCeremonyToken(req.Ceremony)
	if !ok || purpose != purposeLogin || !h.checkCeremony(purpose, id, mac, f.Req.ID) {
		h.writeAPIError(w, r, errAPIBadCeremony)
		return
	}
	if len(req.Credential) == 0 {
		h.writeAPIError(w, r, apiBadRequest(`"credential" is required: the JSON of credential.toJSON().`))
		return
	}
	// Without post-login actions (which may take long, and must not run
	// while the login's transaction holds its locks), the MFA gate and the
	// new session are written in the passkey login's own transaction: a
	// login is one write transaction, and the cookie is set only once it
	// committed.
	var (
		s       storage.Session
		tok     []byte
		gated   string
		inTx    = h.opts.Actions == nil || h.opts.Actions.Len() == 0
		started bool
	)
	var then func(ctx context.Context, u storage.User, m connector.Method) error
	if inTx {
		then = func(txCtx context.Context, u storage.User, m connector.Method) error {
			m = passkeyMethod(rp, m)
			next, err := h.gateLogin(r.WithContext(txCtx), f, u, []connector.Method{m})
			if err != nil || next != "" {
				gated = next
				return err
			}
			s, tok, err = h.sessions.create(txCtx, r, u, f.Req.ConnectionID, []connector.Method{m})
			started = err == nil
			return err
		}
	}
	u, m, err := rp.FinishLoginTx(ctx, id, req.Credential, then)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	m = passkeyMethod(rp, m)
	// A login from another device earns the offer of a passkey on this one
	// (local enrollment); when MFA comes first, the offer waits in the flow
	// state and completeMFA shows it.
	offerLocalAfterMFA := func() error {
		if !m.CrossDevice || !rp.Policy().LocalEnrollment || f.State.ReturnTo != "" {
			return nil
		}
		return h.saveFlowState(ctx, f, func(st *flowState) { st.PasskeyOffer = offerLocal })
	}
	if gated != "" {
		if err := offerLocalAfterMFA(); err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"redirect": gated})
		return
	}
	if started {
		err = h.sessions.setCookie(w, r, tok)
	} else {
		// Post-login actions and MFA come before the session (mfa.go).
		if next, err := h.gateLogin(r, f, u, []connector.Method{m}); err != nil || next != "" {
			if err == nil {
				err = offerLocalAfterMFA()
			}
			if err != nil {
				h.writeAPIError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
			return
		}
		s, err = h.sessions.start(w, r, u, f.Req.ConnectionID, []connector.Method{m})
	}
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "login", "user_id", u.ID, "session_id", s.ID, "connection", f.ConnName,
		"client_id", f.Client.ID, "amr", s.AMR, "acr", s.ACR, "cross_device", m.CrossDevice)
	next := h.afterLoginURL(f)
	if m.CrossDevice && rp.Policy().LocalEnrollment && f.State.ReturnTo == "" {
		if err := h.saveFlowState(ctx, f, func(st *flowState) { st.PasskeyOffer = offerLocal }); err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		next = h.pageURL("/u/passkey/enroll", f.Req.ID)
	} else if f.State.ReturnTo != "" {
		h.endFlow(ctx, f)
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
}

// passkeyRegisterBegin starts a registration: a sign-up (state and email),
// an enrollment in a flow (state, logged in) or from the account page (no
// state, logged in).
func (h *Handler) passkeyRegisterBegin(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	hint, err := parseHint(req.Hint)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	opts := passkey.RegistrationOptions{Hint: hint, UserAgent: r.UserAgent()}
	if req.State == "" {
		if req.Email != "" {
			h.writeAPIError(w, r, apiBadRequest(`A sign-up needs the "state" of the login flow.`))
			return
		}
		sess, user, rp, err := h.accountSession(r)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		c, err := rp.BeginRegistration(ctx, user, opts)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: h.ceremonyToken(purposeAccount, c.ID, "session:"+sess.ID), PublicKey: c.PublicKey})
		return
	}
	f, rp, err := h.apiFlow(ctx, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	if req.Email != "" {
		if h.signupConnector(f) == nil || f.State.ReturnTo != "" {
			h.writeAPIError(w, r, connector.ErrSignupDisabled)
			return
		}
		email := normalizeIdentifier(req.Email)
		if !validEmail(email) {
			h.writeAPIError(w, r, &apiError{http.StatusBadRequest, "invalid_email", msgInvalidEmail, ""})
			return
		}
		c, err := rp.BeginSignup(ctx, connector.Profile{Email: email}, opts)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: h.ceremonyToken(purposeSignup, c.ID, f.Req.ID), PublicKey: c.PublicKey})
		return
	}
	sess, user, ok := h.flowSession(r, f.Req.ConnectionID)
	if !ok {
		h.writeAPIError(w, r, errAPILoginRequired)
		return
	}
	c, err := rp.BeginRegistration(ctx, user, opts)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: h.ceremonyToken(purposeEnroll, c.ID, f.Req.ID+"\x00"+sess.ID), PublicKey: c.PublicKey})
}

// accountSession returns the browser session, its user and the passkey
// relying party of the session's connection, for the account page.
func (h *Handler) accountSession(r *http.Request) (storage.Session, storage.User, *passkey.RelyingParty, error) {
	sess, user, ok := h.flowSession(r, "")
	if !ok {
		return storage.Session{}, storage.User{}, nil, errAPILoginRequired
	}
	conn, err := h.opts.Store.GetConnection(r.Context(), sess.ConnectionID)
	if err != nil {
		return storage.Session{}, storage.User{}, nil, fmt.Errorf("load connection: %w", err)
	}
	c, err := h.opts.Connectors.Lookup(r.Context(), conn.Name)
	if err != nil {
		return storage.Session{}, storage.User{}, nil, fmt.Errorf("open connection %q: %w", conn.Name, err)
	}
	rp := passkeysOf(c)
	if rp == nil {
		return storage.Session{}, storage.User{}, nil, errAPIDisabled
	}
	return sess, user, rp, nil
}

// passkeyRegisterFinish verifies the new credential and stores it; then a
// sign-up is logged in, an enrollment in a flow resumes with the new
// evidence added to the session, and the account page gets the passkey.
func (h *Handler) passkeyRegisterFinish(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	purpose, id, mac, ok := parseCeremonyToken(req.Ceremony)
	if !ok {
		h.writeAPIError(w, r, errAPIBadCeremony)
		return
	}
	if len(req.Credential) == 0 {
		h.writeAPIError(w, r, apiBadRequest(`"credential" is required: the JSON of credential.toJSON().`))
		return
	}
	if purpose == purposeAccount {
		sess, user, rp, err := h.accountSession(r)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		if !h.checkCeremony(purpose, id, mac, "session:"+sess.ID) {
			h.writeAPIError(w, r, errAPIBadCeremony)
			return
		}
		reg, err := rp.FinishRegistration(ctx, id, req.Credential)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "passkey added", "user_id", user.ID, "passkey_id", reg.Passkey.ID, "from", "account")
		writeJSON(w, http.StatusOK, map[string]any{"passkey": apiPasskey(reg.Passkey)})
		return
	}
	f, rp, err := h.apiFlow(ctx, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	switch purpose {
	case purposeSignup:
		if !h.checkCeremony(purpose, id, mac, f.Req.ID) {
			h.writeAPIError(w, r, errAPIBadCeremony)
			return
		}
		reg, err := rp.FinishRegistration(ctx, id, req.Credential)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		m := passkeyMethod(rp, reg.Method)
		if next, err := h.gateLogin(r, f, reg.User, []connector.Method{m}); err != nil || next != "" {
			if err != nil {
				h.writeAPIError(w, r, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
			return
		}
		s, err := h.sessions.start(w, r, reg.User, f.Req.ConnectionID, []connector.Method{m})
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "sign-up", "user_id", reg.User.ID, "session_id", s.ID, "connection", f.ConnName,
			"client_id", f.Client.ID, "method", "passkey", "amr", s.AMR, "acr", s.ACR)
		h.sendVerification(ctx, f.Conn, reg.User)
		writeJSON(w, http.StatusOK, map[string]string{"redirect": h.afterLoginURL(f)})
	case purposeEnroll:
		sess, _, ok := h.flowSession(r, f.Req.ConnectionID)
		if !ok {
			h.writeAPIError(w, r, errAPILoginRequired)
			return
		}
		if !h.checkCeremony(purpose, id, mac, f.Req.ID+"\x00"+sess.ID) {
			h.writeAPIError(w, r, errAPIBadCeremony)
			return
		}
		reg, err := rp.FinishRegistration(ctx, id, req.Credential)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		// The registration is a passkey ceremony of this login: the session
		// is renewed with its evidence added (a request demanding phr can
		// then be satisfied by a password login followed by a new passkey).
		methods := append(sessionEvidence(sess), passkeyMethod(rp, reg.Method))
		s, err := h.sessions.start(w, r, reg.User, f.Req.ConnectionID, methods)
		if err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		if err := h.saveFlowState(ctx, f, func(st *flowState) { st.PasskeyOffer = "" }); err != nil {
			h.writeAPIError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "passkey added", "user_id", reg.User.ID, "passkey_id", reg.Passkey.ID,
			"session_id", s.ID, "from", "enrollment", "amr", s.AMR, "acr", s.ACR)
		next := h.afterLoginURL(f)
		if f.State.ReturnTo != "" {
			h.endFlow(ctx, f)
		}
		writeJSON(w, http.StatusOK, map[string]string{"redirect": next})
	default:
		h.writeAPIError(w, r, errAPIBadCeremony)
	}
}

// apiPasskeyJSON is a passkey as the API and the account page describe it.
type apiPasskeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Provider   string     `json:"provider,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	Synced     bool       `json:"synced"`
}

func apiPasskey(p passkey.Passkey) apiPasskeyJSON {
	out := apiPasskeyJSON{ID: p.ID, Name: p.Name, Provider: p.Provider, CreatedAt: p.CreatedAt, Synced: p.Synced}
	if !p.LastUsedAt.IsZero() {
		t := p.LastUsedAt
		out.LastUsedAt = &t
	}
	return out
}
