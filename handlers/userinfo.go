package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage"
)

func (h *Handler) mountUserinfo(mux *http.ServeMux) {
	ui := h.cors(http.HandlerFunc(h.userinfo), nil)
	mux.Handle("GET "+h.path("/userinfo"), ui)
	mux.Handle("POST "+h.path("/userinfo"), ui)
	mux.Handle("OPTIONS "+h.path("/userinfo"), h.cors(nil, nil))
}

// userinfo is the OpenID Connect UserInfo endpoint (Core section 5.3). The
// access token comes in the Authorization header or, for POST, the
// access_token form parameter (RFC 6750 section 2.2). Claims follow the
// scopes granted with the token and are read fresh from the user record.
func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := bearerToken(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_request", "An access token is required.")
		return
	}
	ar, sess, err := h.opts.Provider.IntrospectAccessToken(ctx, token)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token", error_description="The access token is invalid, expired or revoked."`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	if !ar.GetGrantedScopes().Has("openid") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="insufficient_scope", scope="openid"`)
		writeJSONError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		return
	}
	authn := sess.Authentication()
	user, err := h.opts.Store.GetUser(ctx, authn.Subject)
	if errors.Is(err, storage.ErrNotFound) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="latchkey", error="invalid_token", error_description="The user no longer exists."`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token", "The user no longer exists.")
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "userinfo: load user", "error", err)
		writeJSONError(w, http.StatusInternalServerError, "server_error", "The request could not be completed.")
		return
	}
	claims := provider.UserClaims(user, ar.GetGrantedScopes())
	for _, name := range authn.UserinfoClaims {
		if v, ok := provider.UserClaims(user, []string{"openid", "email", "profile"})[name]; ok {
			claims[name] = v
		}
	}
	claims["sub"] = user.ID
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(claims)
}

// bearerToken returns the access token of a request: the Authorization
// header's Bearer credentials or the access_token form parameter of a
// form-encoded POST body (never the query string).
func bearerToken(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); auth != "" {
		if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if r.Method == http.MethodPost {
		return r.PostFormValue("access_token")
	}
	return ""
}

// writeJSONError writes an OAuth-style JSON error body.
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}
