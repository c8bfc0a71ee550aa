package handlers

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"
)

func (h *Handler) mountToken(mux *http.ServeMux) {
	mux.Handle("POST "+h.path("/oauth/token"), h.cors(http.HandlerFunc(h.token), requestClientID))
	mux.Handle("OPTIONS "+h.path("/oauth/token"), h.cors(nil, nil))
}

// token is the token endpoint (RFC 6749 section 3.2): authorization_code,
// refresh_token and client_credentials grants. The provider does the work,
// including the single-use guarantees for codes and refresh tokens.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	oauth2 := h.opts.Provider.OAuth2()
	ar, resp, err := h.opts.Provider.Token(ctx, r)
	if err != nil {
		h.logOAuthError(r, "token request refused", err)
		if r.Header.Get("Authorization") != "" && errors.Is(err, fosite.ErrInvalidClient) {
			// RFC 6749 section 5.2: a failed authentication through the
			// Authorization header is answered with its scheme.
			w.Header().Set("WWW-Authenticate", `Basic realm="latchkey"`)
		}
		oauth2.WriteAccessError(ctx, w, ar, err)
		return
	}
	oauth2.WriteAccessResponse(ctx, w, ar, resp)
}
