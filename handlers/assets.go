package handlers

import (
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// mountAssets serves the pages' static files (templates.Assets) under
// /assets/. URLs carrying the current ?v= asset version are immutable and
// cached for a year; others for an hour. Directories are not listed.
func (h *Handler) mountAssets(mux *http.ServeMux) {
	assets := h.opts.Templates.Assets()
	version := h.opts.Templates.AssetVersion()
	prefix := h.path("/assets/")
	mux.HandleFunc("GET "+prefix, func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, prefix)
		if name == "" || strings.HasSuffix(name, "/") || !fs.ValidPath(name) || path.Clean(name) != name {
			http.NotFound(w, r)
			return
		}
		st, err := fs.Stat(assets, name)
		if err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		// A theme's SVG opened directly must not run script.
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		if r.URL.Query().Get("v") == version {
			hd.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			hd.Set("Cache-Control", "public, max-age=3600")
		}
		http.ServeFileFS(w, r, assets, name)
	})
}
