package handlers

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// clientIndexTTL bounds how stale the cached view of all clients (their web
// origins and scopes) may be on a replica after a client changes.
const clientIndexTTL = 10 * time.Second

// clientIndex caches what the handlers need to know about all clients at
// once: which client registered which web origin (CORS) and which scopes
// some client may use (to tell unknown scopes from forbidden ones).
type clientIndex struct {
	mu      sync.Mutex
	loaded  time.Time
	origins map[string][]string // client ID -> web origins
	any     map[string]bool     // origin -> registered by some client
	scopes  map[string]bool     // scope -> allowed to some client
}

// withClientIndex runs fn on a fresh enough index; it reports false when the
// clients cannot be listed.
func (h *Handler) withClientIndex(ctx context.Context, fn func(*clientIndex)) bool {
	idx := &h.clientIdx
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if time.Since(idx.loaded) > clientIndexTTL {
		clients, err := h.opts.Store.ListClients(ctx)
		if err != nil {
			h.log.WarnContext(ctx, "list clients", "error", err)
			return false
		}
		idx.origins = make(map[string][]string, len(clients))
		idx.any = make(map[string]bool)
		idx.scopes = make(map[string]bool)
		for _, c := range clients {
			idx.origins[c.ID] = c.WebOrigins
			for _, o := range c.WebOrigins {
				idx.any[o] = true
			}
			for _, s := range c.Scopes {
				idx.scopes[s] = true
			}
		}
		idx.loaded = time.Now()
	}
	fn(idx)
	return true
}

// originAllowed reports whether origin is registered: by clientID when it is
// not empty, by any client otherwise.
func (h *Handler) originAllowed(ctx context.Context, origin, clientID string) bool {
	allowed := false
	h.withClientIndex(ctx, func(idx *clientIndex) {
		if clientID != "" {
			allowed = slices.Contains(idx.origins[clientID], origin)
		} else {
			allowed = idx.any[origin]
		}
	})
	return allowed
}

// cors adds CORS headers for registered web origins and answers preflight
// requests. clientOf, when not nil, names the client whose origins apply to
// an actual (non-preflight) request. next may be nil for preflight-only
// routes. The authorization endpoint is never wrapped: it is navigated to,
// not fetched.
func (h *Handler) cors(next http.Handler, clientOf func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" && h.originAllowed(r.Context(), origin, "") {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if origin != "" {
			clientID := ""
			if clientOf != nil {
				clientID = clientOf(r)
			}
			if h.originAllowed(r.Context(), origin, clientID) {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requestClientID names the client of a token-endpoint style request: the
// HTTP Basic user name or the client_id form parameter.
func requestClientID(r *http.Request) string {
	if id, _, ok := r.BasicAuth(); ok {
		if dec, err := url.QueryUnescape(id); err == nil {
			return dec
		}
		return id
	}
	return r.PostFormValue("client_id")
}
