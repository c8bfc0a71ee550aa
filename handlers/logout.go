package handlers

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

func (h *Handler) mountLogout(mux *http.ServeMux) {
	mux.HandleFunc("GET "+h.path("/oidc/logout"), h.logout)
	mux.Handle("POST "+h.path("/oidc/logout"), h.protectPOST(http.HandlerFunc(h.logout)))
}

// logout is the end_session_endpoint of OpenID Connect RP-Initiated Logout
// 1.0. With a valid id_token_hint for the logged-in user the session ends at
// once; without one the person confirms first, so that a third-party page
// cannot log people out. The browser returns to post_logout_redirect_uri
// (with state) only when it is registered for the client exactly.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, http.StatusBadRequest, "We could not process this request", "The logout request is malformed.")
		return
	}
	q := r.Form
	clientID := q.Get("client_id")
	hintSubject, hintSID := "", ""
	if raw := q.Get("id_token_hint"); raw != "" {
		hint, err := h.opts.Provider.VerifyIDTokenHint(ctx, raw)
		if err != nil {
			h.renderError(w, r, http.StatusBadRequest, "We could not log you out", "The id_token_hint is not a valid ID token issued by this provider.")
			return
		}
		if clientID != "" && !slices.Contains(hint.Audience, clientID) {
			h.renderError(w, r, http.StatusBadRequest, "We could not log you out", "The client_id does not match the id_token_hint.")
			return
		}
		if clientID == "" && len(hint.Audience) == 1 {
			clientID = hint.Audience[0]
		}
		hintSubject, hintSID = hint.Subject, hint.SessionID
	}

	// Where to go afterwards: only an exactly registered URI.
	redirect := ""
	var client storage.Client
	if clientID != "" {
		c, err := h.opts.Store.GetClient(ctx, clientID)
		switch {
		case err == nil:
			client = c
		case errors.Is(err, storage.ErrNotFound):
			h.renderError(w, r, http.StatusBadRequest, "We could not log you out", "The application is unknown.")
			return
		default:
			h.log.ErrorContext(ctx, "logout: load client", "error", err)
			h.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
			return
		}
	}
	if p := q.Get("post_logout_redirect_uri"); p != "" {
		if clientID == "" {
			h.renderError(w, r, http.StatusBadRequest, "We could not log you out",
				"A post_logout_redirect_uri needs an id_token_hint or a client_id.")
			return
		}
		if !slices.Contains(client.PostLogoutRedirectURIs, p) {
			h.renderError(w, r, http.StatusBadRequest, "We could not log you out",
				"The post_logout_redirect_uri is not registered for this application.")
			return
		}
		u, err := url.Parse(p)
		if err != nil {
			h.renderError(w, r, http.StatusBadRequest, "We could not log you out", "The post_logout_redirect_uri is malformed.")
			return
		}
		if state := q.Get("state"); state != "" {
			v := u.Query()
			v.Set("state", state)
			u.RawQuery = v.Encode()
		}
		redirect = u.String()
	}

	sess, loggedIn := h.sessions.current(r)
	if loggedIn {
		trusted := hintSubject != "" && hintSubject == sess.UserID && (hintSID == "" || hintSID == sess.ID)
		confirmed := r.Method == http.MethodPost && q.Get("confirm") == "yes" && h.checkCSRF(r, "logout:"+sess.ID)
		if !trusted && !confirmed {
			allowFormRedirect(w, q.Get("post_logout_redirect_uri"))
			h.render(w, r, http.StatusOK, func(w io.Writer, p templates.Page) error {
				return h.opts.Templates.Logout(w, templates.LogoutData{
					Page:                  p,
					Action:                h.path("/oidc/logout"),
					ClientID:              clientID,
					PostLogoutRedirectURI: q.Get("post_logout_redirect_uri"),
					State:                 q.Get("state"),
				})
			}, client.Name, h.csrfToken("logout:"+sess.ID))
			return
		}
		if err := h.sessions.end(w, r); err != nil {
			h.log.ErrorContext(ctx, "logout: end session", "error", err)
			h.renderError(w, r, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
			return
		}
	}
	if redirect != "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, redirect, http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, func(w io.Writer, p templates.Page) error {
		return h.opts.Templates.LoggedOut(w, templates.LoggedOutData{Page: p})
	}, client.Name, "")
}
