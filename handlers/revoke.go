package handlers

import (
	"net/http"
)

func (h *Handler) mountRevoke(mux *http.ServeMux) {
	mux.Handle("POST "+h.path("/oauth/revoke"), h.cors(http.HandlerFunc(h.revoke), requestClientID))
	mux.Handle("OPTIONS "+h.path("/oauth/revoke"), h.cors(nil, nil))
}

// revoke is the revocation endpoint (RFC 7009). Revoking a refresh token
// also revokes the access tokens of its grant.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	oauth2 := h.opts.Provider.OAuth2()
	err := oauth2.NewRevocationRequest(ctx, r)
	if err != nil {
		h.logOAuthError(r, "revocation request refused", err)
	}
	oauth2.WriteRevocationResponse(ctx, w, err)
}
