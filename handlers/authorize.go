package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

func (h *Handler) mountAuthorize(mux *http.ServeMux) {
	mux.HandleFunc("GET "+h.path("/authorize"), h.authorize)
	mux.HandleFunc("POST "+h.path("/authorize"), h.authorize)
	mux.HandleFunc("GET "+h.path("/authorize/resume"), h.resume)
}

// authorize is the authorization endpoint (RFC 6749 section 3.1, OpenID
// Connect Core section 3.1.2), for GET and form POST.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	h.dropUnknownScopes(r)
	ar, err := h.opts.Provider.OAuth2().NewAuthorizeRequest(ctx, r)
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	h.continueAuthorize(w, r, ar, nil)
}

// dropUnknownScopes removes from the request's scope parameter the values
// that neither the provider nor any client knows: OpenID Connect Core
// section 3.1.2.1 says scope values that are not understood SHOULD be
// ignored (a relying party asking for "openid address" still logs in).
// Scopes the provider knows but the client may not use still fail with
// invalid_scope in fosite. A form that does not parse is left to fosite,
// which reports it.
func (h *Handler) dropUnknownScopes(r *http.Request) {
	if err := r.ParseForm(); err != nil {
		return
	}
	requested := strings.Fields(r.Form.Get("scope"))
	if len(requested) == 0 {
		return
	}
	supported := h.opts.Provider.ScopesSupported()
	kept := make([]string, 0, len(requested))
	ok := h.withClientIndex(r.Context(), func(idx *clientIndex) {
		for _, s := range requested {
			if slices.Contains(supported, s) || idx.scopes[s] {
				kept = append(kept, s)
			}
		}
	})
	if !ok {
		return
	}
	if len(kept) != len(requested) {
		r.Form.Set("scope", strings.Join(kept, " "))
	}
}

// resume finishes a pending authorization request once the person logged in
// or answered consent. The stored request is validated again from scratch:
// the client or its redirect URIs may have changed in between.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := h.loadFlow(r)
	if err != nil {
		h.flowError(w, r, err)
		return
	}
	req := r.Clone(ctx)
	req.Method = http.MethodGet
	req.URL.RawQuery = f.Req.Form
	req.Body = http.NoBody
	req.Form, req.PostForm = nil, nil
	req.Header.Del("Content-Type")
	ar, err := h.opts.Provider.OAuth2().NewAuthorizeRequest(ctx, req)
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}
	if f.State.Denied {
		h.endFlow(ctx, f)
		h.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}
	if o := f.State.Actions; o.stopped() {
		// A post-login action denied the login or failed (actions.go).
		h.endFlow(ctx, f)
		h.authorizeError(w, r, ar, o.clientError())
		return
	}
	h.continueAuthorize(w, r, ar, f)
}

// continueAuthorize decides what a validated authorization request still
// needs (login, consent) and either sends the browser to the page for it or
// issues the response. pending is the stored request when resuming.
func (h *Handler) continueAuthorize(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, pending *flow) {
	ctx := r.Context()
	form := ar.GetRequestForm()
	prompts := strings.Fields(form.Get("prompt"))
	promptNone := slices.Contains(prompts, "none")

	client, err := h.opts.Provider.StoredClient(ctx, ar.GetClient().GetID())
	if err != nil {
		h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
		return
	}
	conn, err := h.pickConnection(ctx, client, form.Get("connection"))
	if err != nil {
		h.authorizeError(w, r, ar, err)
		return
	}

	// The moment the request was first received: a login after it is fresh
	// for prompt=login, prompt=create and max_age.
	requestedAt := time.Now()
	if pending != nil {
		requestedAt = pending.Req.CreatedAt
	}
	requestedAt = requestedAt.Truncate(time.Second)

	claimsReq, err := parseClaimsRequest(form.Get("claims"))
	if err != nil {
		h.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("The claims parameter is not a valid JSON object.").WithWrap(err))
		return
	}
	acrRequired := requiredACR(form.Get("acr_values"), claimsReq)

	hintSubject := ""
	if hint := form.Get("id_token_hint"); hint != "" {
		claims, err := h.opts.Provider.VerifyIDTokenHint(ctx, hint)
		if err != nil {
			h.authorizeError(w, r, ar, fosite.ErrInvalidRequest.WithHint("The id_token_hint is not a valid ID token issued by this provider.").WithWrap(err))
			return
		}
		hintSubject = claims.Subject
	}

	// Who is logged in, and is that login good enough for this request?
	sess, loggedIn := h.sessions.current(r)
	var user storage.User
	if loggedIn {
		user, err = h.opts.Store.GetUser(ctx, sess.UserID)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			loggedIn = false
		case err != nil:
			h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		case user.Blocked || sess.ConnectionID != conn.ID:
			loggedIn = false
		}
	}
	authTime := sess.AuthTime.Truncate(time.Second)
	// Only a login that happened while this request was pending is fresh:
	// a request received in the same second as an earlier login is not.
	freshLogin := loggedIn && pending != nil && !authTime.Before(requestedAt)
	needLogin := !loggedIn
	if loggedIn && !freshLogin {
		if slices.Contains(prompts, "login") || slices.Contains(prompts, "create") {
			needLogin = true
		}
		if maxAge, err := strconv.ParseInt(form.Get("max_age"), 10, 64); err == nil && maxAge >= 0 &&
			authTime.Add(time.Duration(maxAge)*time.Second).Before(requestedAt) {
			needLogin = true
		}
	}
	if loggedIn && hintSubject != "" && hintSubject != user.ID {
		needLogin = true
	}
	if needLogin {
		if promptNone {
			h.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not logged in, or the login does not satisfy the request."))
			return
		}
		page := "/u/login"
		if slices.Contains(prompts, "create") {
			page = "/u/signup"
		}
		h.redirectToPage(w, r, ar, pending, conn.ID, page)
		return
	}

	// Post-login actions: their outcome after a login in this flow (run
	// before the session started, see gateLogin), or a run now for a
	// session that logged in earlier (single sign-on).
	evidence := sessionEvidence(sess)
	var outcome *actionOutcome
	ranNow := false
	if pending != nil && pending.State.Actions != nil && pending.State.Actions.UserID == user.ID {
		// Run earlier in this flow: at the login, or before a page (consent)
		// that this request now comes back from. Actions run once per flow.
		outcome = pending.State.Actions
	} else {
		outcome = h.runActions(r, form, client, conn.Name, conn.ID, user, evidence)
		ranNow = true
	}
	if outcome.stopped() {
		if pending != nil {
			h.endFlow(ctx, pending)
		}
		h.authorizeError(w, r, ar, outcome.clientError())
		return
	}
	// Step-up: the request (multi-factor acr), an action or the policy asks
	// for a second factor the session does not hold.
	if h.stepUp(r, conn, evidence, outcome, form) {
		if promptNone {
			h.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The login needs a second factor."))
			return
		}
		h.redirectToStepUp(w, r, ar, pending, conn.ID, user, evidence, outcome)
		return
	}

	// acr_values / an essential acr claim: never issue a token that claims
	// less than was demanded. A login that does not reach the class goes
	// back to the login page (which offers passkeys); a fresh login in this
	// flow that still does not reach it ends with an error for the client.
	if !acrSatisfied(sess.ACR, acrRequired) {
		switch {
		case promptNone:
			h.authorizeError(w, r, ar, fosite.ErrLoginRequired.WithHintf("The login does not satisfy the requested authentication context class (%s).", strings.Join(acrRequired, " or ")))
		case freshLogin:
			h.authorizeError(w, r, ar, errUnmetAuthenticationRequirements.WithHintf("The user did not authenticate with the requested authentication context class (%s).", strings.Join(acrRequired, " or ")))
		default:
			h.redirectToPage(w, r, ar, pending, conn.ID, "/u/login")
		}
		return
	}

	// Consent, for clients that are not first-party.
	scopes := []string(ar.GetRequestedScopes())
	if !client.FirstParty {
		consented := pending != nil && !pending.State.ConsentedAt.Before(requestedAt)
		if !consented && !slices.Contains(prompts, "consent") {
			c, err := h.opts.Store.GetConsent(ctx, user.ID, client.ID)
			switch {
			case err == nil:
				consented = covers(c.Scopes, scopes)
			case !errors.Is(err, storage.ErrNotFound):
				h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
				return
			}
		}
		if !consented {
			if promptNone {
				h.authorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not granted the requested scopes to this client."))
				return
			}
			// Keep the actions' outcome for when consent comes back.
			h.redirectToPageWith(w, r, ar, pending, conn.ID, "/u/consent", func(st *flowState) {
				if ranNow {
					st.Actions = outcome
				}
			})
			return
		}
	}

	for _, s := range scopes {
		ar.GrantScope(s)
	}
	for _, a := range ar.GetRequestedAudience() {
		ar.GrantAudience(a)
	}
	extra := provider.UserClaims(user, scopes)
	if len(claimsReq.IDToken) > 0 {
		all := provider.UserClaims(user, []string{"openid", "email", "profile"})
		for _, name := range claimsReq.IDToken {
			if v, ok := all[name]; ok {
				extra[name] = v
			}
		}
	}
	var accessExtra map[string]any
	if outcome != nil {
		// Custom claims of the actions; the provider drops the reserved ones.
		maps.Copy(extra, outcome.IDTokenClaims)
		accessExtra = outcome.AccessTokenClaims
	}
	session := h.opts.Provider.NewSession(provider.Authentication{
		Subject:          user.ID,
		ClientID:         client.ID,
		SessionID:        sess.ID,
		ConnectionID:     conn.ID,
		AuthTime:         authTime,
		RequestedAt:      requestedAt,
		AMR:              sess.AMR,
		ACR:              sess.ACR,
		Nonce:            form.Get("nonce"),
		IDTokenExtra:     extra,
		AccessTokenExtra: accessExtra,
		UserinfoClaims:   claimsReq.Userinfo,
	})
	if pending == nil {
		h.opts.Provider.WriteAuthorizeResponse(ctx, w, ar, session)
		return
	}
	// The pending request is deleted in the code's transaction: the code
	// exists if and only if the request was consumed, by exactly one of
	// concurrent resumes (the others find it gone and issue nothing), and
	// the response goes out only once that transaction committed.
	var resp fosite.AuthorizeResponder
	err = h.opts.Store.InTx(ctx, func(ctx context.Context) error {
		if err := h.opts.Store.DeleteAuthRequest(ctx, pending.Req.ID); err != nil {
			return err
		}
		var err error
		resp, err = h.opts.Provider.NewAuthorizeResponse(ctx, ar, session)
		return err
	})
	if errors.Is(err, storage.ErrNotFound) {
		h.flowError(w, r, errFlowNotFound)
		return
	}
	if err != nil {
		// Rolled back: the request ends all the same (single use).
		h.endFlow(ctx, pending)
		if rfc := new(fosite.RFC6749Error); !errors.As(err, &rfc) {
			err = fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
	}
	h.opts.Provider.WriteAuthorizeResult(ctx, w, ar, resp, err)
}

// errUnmetAuthenticationRequirements is the error of OpenID Connect Core
// Unmet Authentication Requirements 1.0: the OP could not authenticate the
// user as the request's acr_values or essential acr claim demanded.
var errUnmetAuthenticationRequirements = &fosite.RFC6749Error{
	ErrorField:       "unmet_authentication_requirements",
	DescriptionField: "The Authorization Server is unable to meet the requirements of the Relying Party for the authentication of the End-User.",
	CodeField:        http.StatusBadRequest,
}

// pickConnection resolves the connection= parameter against the client's
// allowed connections (the first is the default).
func (h *Handler) pickConnection(ctx context.Context, client storage.Client, name string) (storage.Connection, error) {
	allowed := client.Connections
	if len(allowed) == 0 {
		names, err := h.opts.Connectors.Names(ctx)
		if err != nil {
			return storage.Connection{}, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
		}
		allowed = names
	}
	if len(allowed) == 0 {
		return storage.Connection{}, fosite.ErrServerError.WithHint("No connection is configured for this client.")
	}
	if name == "" {
		name = allowed[0]
	} else if !slices.Contains(allowed, name) {
		return storage.Connection{}, fosite.ErrInvalidRequest.WithHintf("The connection %q is not enabled for this client.", name)
	}
	conn, err := h.connectionByName(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Connection{}, fosite.ErrInvalidRequest.WithHintf("The connection %q does not exist.", name)
	}
	if err != nil {
		return storage.Connection{}, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return conn, nil
}

// redirectToPage stores the request (when not stored yet) and sends the
// browser to a hosted page for it.
func (h *Handler) redirectToPage(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, pending *flow, connectionID, page string) {
	h.redirectToPageWith(w, r, ar, pending, connectionID, page, nil)
}

// redirectToPageWith is redirectToPage that also sets part of the flow
// state (init, when not nil) before the browser leaves.
func (h *Handler) redirectToPageWith(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, pending *flow, connectionID, page string, init func(*flowState)) {
	ctx := r.Context()
	id := ""
	if pending != nil {
		id = pending.Req.ID
		if init != nil {
			if err := h.saveFlowState(ctx, pending, init); err != nil {
				h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
				return
			}
		}
	} else {
		now := time.Now()
		var state []byte
		if init != nil {
			var st flowState
			init(&st)
			b, err := json.Marshal(st)
			if err != nil {
				h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
				return
			}
			state = b
		}
		req, err := h.opts.Store.CreateAuthRequest(ctx, storage.AuthRequest{
			ClientID:     ar.GetClient().GetID(),
			Form:         ar.GetRequestForm().Encode(),
			ConnectionID: connectionID,
			State:        state,
			CreatedAt:    now,
			ExpiresAt:    now.Add(authRequestLifetime),
		})
		if err != nil {
			h.authorizeError(w, r, ar, fosite.ErrServerError.WithWrap(err).WithDebug(err.Error()))
			return
		}
		id = req.ID
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, h.pageURL(page, id), http.StatusSeeOther)
}

// endFlow deletes a finished pending request so it cannot be resumed twice.
func (h *Handler) endFlow(ctx context.Context, f *flow) {
	if err := h.opts.Store.DeleteAuthRequest(ctx, f.Req.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.log.WarnContext(ctx, "delete finished login transaction", "error", err)
	}
}

// authorizeError answers an authorization request with an error: a redirect
// to the client (with iss, RFC 9207) when its redirect URI is trusted, an
// HTML page for the person otherwise.
func (h *Handler) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	h.logOAuthError(r, "authorization request refused", err)
	if ar != nil && h.opts.Provider.WriteAuthorizeError(r.Context(), w, ar, err) {
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	msg := rfc.GetDescription()
	h.renderError(w, r, http.StatusBadRequest, "We could not process this request", msg)
}

// flowError renders the page for a missing or broken pending request.
func (h *Handler) flowError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errFlowNotFound) {
		h.renderError(w, r, http.StatusBadRequest, "Your login session expired",
			"Go back to the application and try again.")
		return
	}
	h.log.ErrorContext(r.Context(), "load login transaction", "error", err)
	h.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
}

// logOAuthError logs a refused protocol request without secrets: the
// error's code, hint and debug text, never the request body.
func (h *Handler) logOAuthError(r *http.Request, msg string, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	level := "info"
	if rfc.CodeField >= 500 {
		level = "error"
	}
	attrs := []any{"path", r.URL.Path, "error", rfc.ErrorField, "hint", rfc.HintField, "debug", rfc.DebugField}
	if level == "error" {
		h.log.ErrorContext(r.Context(), msg, attrs...)
		return
	}
	h.log.InfoContext(r.Context(), msg, attrs...)
}

// covers reports whether granted includes every wanted scope.
func covers(granted, wanted []string) bool {
	for _, s := range wanted {
		if !slices.Contains(granted, s) {
			return false
		}
	}
	return true
}

// claimsRequest is what Latchkey uses of the OpenID Connect claims request
// parameter (Core section 5.5).
type claimsRequest struct {
	// IDToken and Userinfo name the claims asked for in each place.
	IDToken, Userinfo []string
	// EssentialACR lists the acr values of an essential acr claim request
	// for the ID token (value or values).
	EssentialACR []string
}

// parseClaimsRequest parses the claims request parameter. Claims Latchkey
// does not know are ignored; a parameter that is not a JSON object of
// objects is an error.
func parseClaimsRequest(raw string) (claimsRequest, error) {
	var out claimsRequest
	if raw == "" {
		return out, nil
	}
	type member struct {
		Essential bool     `json:"essential"`
		Value     *string  `json:"value"`
		Values    []string `json:"values"`
	}
	var req struct {
		IDToken  map[string]*member `json:"id_token"`
		Userinfo map[string]*member `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(raw), &req); err != nil {
		return out, fmt.Errorf("parse claims parameter: %w", err)
	}
	for k := range req.IDToken {
		out.IDToken = append(out.IDToken, k)
	}
	for k := range req.Userinfo {
		out.Userinfo = append(out.Userinfo, k)
	}
	slices.Sort(out.IDToken)
	slices.Sort(out.Userinfo)
	if m := req.IDToken["acr"]; m != nil && m.Essential {
		if m.Value != nil {
			out.EssentialACR = append(out.EssentialACR, *m.Value)
		}
		out.EssentialACR = append(out.EssentialACR, m.Values...)
	}
	return out, nil
}

// requiredACR returns the acr values a request demands, in the client's
// order of preference: the known values of acr_values and of an essential
// acr claim. Any one of them satisfies the request. Values Latchkey does not
// issue are ignored (acr_values is a voluntary request for those).
func requiredACR(acrValues string, claims claimsRequest) []string {
	var out []string
	for _, v := range append(strings.Fields(acrValues), claims.EssentialACR...) {
		if provider.KnownACR(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// acrSatisfied reports whether a login's acr satisfies one of the required
// values (or nothing is required).
func acrSatisfied(have string, required []string) bool {
	if len(required) == 0 {
		return true
	}
	for _, want := range required {
		if provider.ACRSatisfies(have, want) {
			return true
		}
	}
	return false
}
