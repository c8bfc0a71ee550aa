package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"
)

func (h *Handler) mountIntrospect(mux *http.ServeMux) {
	mux.HandleFunc("POST "+h.path("/oauth/introspect"), h.introspect)
}

// clientAuthenticator is the part of *fosite.Fosite that authenticates a
// client the way the token endpoint does (client_secret_basic,
// client_secret_post, private_key_jwt).
type clientAuthenticator interface {
	AuthenticateClient(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error)
}

// introspect is the introspection endpoint (RFC 7662). Only confidential
// clients that authenticate as at the token endpoint may call it. fosite's
// own NewIntrospectionRequest would also accept any bearer access token as
// authorisation (letting a token holder probe other tokens) and knows only
// client_secret_basic, so the client is authenticated here and the token is
// then introspected. The endpoint reads and never writes.
func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	oauth2 := h.opts.Provider.OAuth2()
	// refuse answers a failed client authentication as RFC 7662 section
	// 2.3 asks: the token endpoint's invalid_client error (RFC 6749 section
	// 5.2), not fosite's {"active": false}.
	refuse := func(hint string, err error) {
		e := fosite.ErrInvalidClient.WithHint(hint)
		if err != nil {
			e = e.WithWrap(err).WithDebug(err.Error())
		}
		h.logOAuthError(r, "introspection refused", e)
		w.Header().Set("WWW-Authenticate", `Basic realm="latchkey"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_client", hint)
	}
	if auth := r.Header.Get("Authorization"); auth != "" && !strings.HasPrefix(strings.ToLower(auth), "basic ") {
		refuse("The introspection endpoint requires client authentication; bearer tokens are not accepted.", nil)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauth2.WriteIntrospectionError(ctx, w, fosite.ErrInvalidRequest.WithHint("Unable to parse the request body."))
		return
	}
	authn, ok := oauth2.(clientAuthenticator)
	if !ok {
		refuse("Client authentication is unavailable.", nil)
		return
	}
	client, err := authn.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		refuse("Client authentication failed.", err)
		return
	}
	if client.IsPublic() {
		refuse("Public clients may not introspect tokens.", nil)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		oauth2.WriteIntrospectionError(ctx, w, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	use, ar, err := oauth2.IntrospectToken(ctx, token, fosite.TokenUse(r.PostForm.Get("token_type_hint")), h.opts.Provider.EmptySession())
	if err != nil {
		// Inactive, expired, revoked or unknown: {"active": false}.
		oauth2.WriteIntrospectionError(ctx, w, fosite.ErrInactiveToken.WithWrap(err))
		return
	}
	resp := &fosite.IntrospectionResponse{Active: true, AccessRequester: ar, TokenUse: use}
	if use == fosite.AccessToken {
		resp.AccessTokenType = fosite.BearerAccessToken
	}
	oauth2.WriteIntrospectionResponse(ctx, w, resp)
}
