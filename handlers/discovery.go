package handlers

import (
	"net/http"
)

func (h *Handler) mountDiscovery(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/.well-known/openid-configuration"), h.cors(http.HandlerFunc(h.discovery), nil))
	mux.Handle("OPTIONS "+h.path("/.well-known/openid-configuration"), h.cors(nil, nil))
	mux.Handle("GET "+h.path("/.well-known/jwks.json"), h.cors(http.HandlerFunc(h.jwks), nil))
	mux.Handle("OPTIONS "+h.path("/.well-known/jwks.json"), h.cors(nil, nil))
}

// discovery serves the OpenID Provider Metadata, precomputed by the provider.
func (h *Handler) discovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.opts.Provider.DiscoveryJSON())
}

// jwks serves the public signing keys, precomputed by the provider. The
// cache lifetime is short so relying parties see rotated keys promptly.
func (h *Handler) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(h.opts.Provider.JWKSJSON())
}
