package handlers

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// maxFormBytes bounds the body of a page form.
const maxFormBytes = 64 << 10

// pageCSP is the Content-Security-Policy of every hosted page, less its
// form-action directive (see setPageHeaders).
const pageCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; base-uri 'none'"

// setPageHeaders sets the security headers of a hosted page. formTargets
// are extra CSP sources for form-action: Chrome and Safari apply
// form-action to every redirect that follows a form submission, so a page
// whose form ends in a redirect to the client must name the client's
// redirect origin or the browser silently refuses the last hop.
func setPageHeaders(w http.ResponseWriter, formTargets ...string) {
	hd := w.Header()
	formAction := "form-action 'self'"
	for _, t := range formTargets {
		formAction += " " + t
	}
	hd.Set("Content-Security-Policy", pageCSP+"; "+formAction)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Pragma", "no-cache")
}

// page wraps a page handler so that every response carries the security
// headers, also when the handler fails early.
func (h *Handler) page(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		fn(w, r)
	})
}

// protectPOST refuses cross-origin browser requests with unsafe methods
// (Go's CrossOriginProtection: Sec-Fetch-Site, else Origin against Host)
// with a friendly 403 page. Forms also carry a token (checkCSRF).
func (h *Handler) protectPOST(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, http.StatusForbidden, "Request blocked",
			"This request did not come from this site. Go back to the application and try again.")
	}))
	return cop.Handler(next)
}

// form wraps a page's POST handler: security headers, cross-origin
// protection and a bounded, parsed body. The flow-bound token is checked by
// pageFlow.
func (h *Handler) form(fn http.HandlerFunc) http.Handler {
	protected := h.protectPOST(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			h.renderError(w, r, http.StatusBadRequest, "Invalid request",
				"The form you sent could not be read. Go back and try again.")
			return
		}
		fn(w, r)
	}))
	return h.page(protected.ServeHTTP)
}

// csrfToken is the anti-forgery token of a form bound to key (a flow's ID,
// or "logout:"+session ID): an HMAC of key under the cookie hash key, so it
// needs no storage and cannot be computed by another site. Forms post it in
// the field "csrf".
func (h *Handler) csrfToken(key string) string {
	mac := hmac.New(sha256.New, h.opts.Cookies.HashKey)
	mac.Write([]byte("latchkey csrf v1\x00"))
	mac.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// checkCSRF reports whether a posted form carries the token bound to key.
func (h *Handler) checkCSRF(r *http.Request, key string) bool {
	got := r.PostFormValue("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(h.csrfToken(key)))
}

// pageFlow loads the flow a page request names and sets the page headers
// for it. On POST it also checks the anti-forgery token. When it returns
// false it has answered the request.
func (h *Handler) pageFlow(w http.ResponseWriter, r *http.Request) (*flow, bool) {
	f, err := h.loadFlow(r)
	if errors.Is(err, errFlowNotFound) {
		h.renderExpired(w, r)
		return nil, false
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return nil, false
	}
	setPageHeaders(w, formTargets(f)...)
	if r.Method == http.MethodPost && !h.checkCSRF(r, f.Req.ID) {
		h.renderError(w, r, http.StatusForbidden, "Request blocked",
			"This form has expired or did not come from this site. Go back to the application and try again.")
		return nil, false
	}
	return f, true
}

// formTargets returns the CSP sources of where the flow's forms may end up
// after redirects: the origin of the request's redirect_uri (validated by
// /authorize), or of every registered redirect URI when the request named
// none.
func formTargets(f *flow) []string {
	uris := f.Client.RedirectURIs
	if ru := f.Form.Get("redirect_uri"); ru != "" {
		uris = []string{ru}
	}
	var out []string
	seen := map[string]bool{}
	for _, u := range uris {
		if src, ok := cspSource(u); ok && !seen[src] {
			seen[src] = true
			out = append(out, src)
		}
	}
	return out
}

// cspSource turns a redirect URI into a CSP source expression: the origin
// for http(s), the scheme for private-use schemes of native apps. Anything
// that could break out of the header is refused.
func cspSource(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return "", false
		}
	}
	if scheme != "http" && scheme != "https" {
		return scheme + ":", true
	}
	host := u.Hostname()
	if host == "" {
		return "", false
	}
	if strings.Contains(host, ":") {
		// CSP host sources cannot express IPv6 literals (native apps'
		// http://[::1]:port): fall back to the scheme.
		return scheme + ":", true
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", false
		}
	}
	src := scheme + "://" + host
	if p := u.Port(); p != "" {
		for _, c := range p {
			if c < '0' || c > '9' {
				return "", false
			}
		}
		src += ":" + p
	}
	return src, true
}

// pageData is the part of every flow page that comes from the flow.
func (h *Handler) pageData(f *flow) templates.Page {
	return templates.Page{
		Lang:       h.lang(f.Form.Get("ui_locales")),
		ClientName: clientName(f.Client),
		CSRF:       h.csrfToken(f.Req.ID),
		AssetBase:  h.path("/assets"),
	}
}

// lang picks the first of the space-separated ui_locales the pages are
// written in, or the templates' first language. <html lang> must name the
// language of the text, so an unsupported locale is not echoed.
func (h *Handler) lang(uiLocales string) string {
	supported := h.opts.Templates.Languages()
	for _, want := range strings.Fields(uiLocales) {
		for _, have := range supported {
			if strings.EqualFold(want, have) {
				return have
			}
		}
		base, _, _ := strings.Cut(want, "-")
		for _, have := range supported {
			if strings.EqualFold(base, have) {
				return have
			}
		}
	}
	if len(supported) > 0 {
		return supported[0]
	}
	return "en"
}

func clientName(c storage.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// render sends a page with status. exec gets the shared page data: the
// language, the asset path, clientName and csrf (the token for the page's
// form, "" when it has none). The page security headers are set unless the
// handler set a Content-Security-Policy already (allowFormRedirect).
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, exec func(w io.Writer, p templates.Page) error, clientName, csrf string) {
	h.renderPage(w, r, status, templates.Page{
		Lang:       h.lang(""),
		ClientName: clientName,
		CSRF:       csrf,
		AssetBase:  h.path("/assets"),
	}, exec)
}

// renderFlow sends a page of a login flow: its language comes from the
// request's ui_locales and its forms carry the flow's token.
func (h *Handler) renderFlow(w http.ResponseWriter, r *http.Request, f *flow, status int, exec func(w io.Writer, p templates.Page) error) {
	h.renderPage(w, r, status, h.pageData(f), exec)
}

// renderPage executes a page into a buffer and sends it, or an error page
// when the template fails.
func (h *Handler) renderPage(w http.ResponseWriter, r *http.Request, status int, p templates.Page, exec func(w io.Writer, p templates.Page) error) {
	var buf bytes.Buffer
	if err := exec(&buf, p); err != nil {
		h.renderInternalError(w, r, fmt.Errorf("render page: %w", err))
		return
	}
	if w.Header().Get("Content-Security-Policy") == "" {
		setPageHeaders(w)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if _, err := buf.WriteTo(w); err != nil {
		h.log.DebugContext(r.Context(), "write page", "err", err)
	}
}

// allowFormRedirect sets the page security headers for a page whose form
// ends in a redirect to uri (a client's redirect or post-logout redirect
// URI), adding uri's origin to the CSP form-action; see setPageHeaders.
func allowFormRedirect(w http.ResponseWriter, uris ...string) {
	var srcs []string
	for _, u := range uris {
		if src, ok := cspSource(u); ok {
			srcs = append(srcs, src)
		}
	}
	setPageHeaders(w, srcs...)
}

// redirect sends the browser to another page with a GET (303 See Other).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// renderError shows people a friendly error page. title and message must
// not carry internal detail; the page shows an ID that is also logged, so
// support can find the log line.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	id := newRequestID()
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "error page",
		slog.Int("status", status), slog.String("title", title),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("request_id", id))
	h.writeErrorPage(w, r, status, title, message, id)
}

// renderInternalError logs err with a request ID and shows a generic error
// page (500) with that ID. err never reaches the page.
func (h *Handler) renderInternalError(w http.ResponseWriter, r *http.Request, err error) {
	id := newRequestID()
	h.log.LogAttrs(r.Context(), slog.LevelError, "request failed", slog.Any("err", err),
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("request_id", id))
	h.writeErrorPage(w, r, http.StatusInternalServerError, "Something went wrong",
		"We could not complete your request. Please try again later.", id)
}

// renderBusy is the page for a saturated password hasher: 503 with a
// short Retry-After, so the person (or a script) backs off.
func (h *Handler) renderBusy(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "2")
	h.renderError(w, r, http.StatusServiceUnavailable, "Too many requests",
		"We are handling many logins right now. Wait a moment and try again.")
}

// renderExpired is the page for an unknown or expired state parameter.
func (h *Handler) renderExpired(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, http.StatusBadRequest, "Your login session expired",
		"Go back to the application and try again.")
}

func (h *Handler) writeErrorPage(w http.ResponseWriter, r *http.Request, status int, title, message, id string) {
	setPageHeaders(w)
	var buf bytes.Buffer
	err := h.opts.Templates.Error(&buf, templates.ErrorData{
		Page:    templates.Page{Lang: h.lang(""), AssetBase: h.path("/assets"), RequestID: id},
		Status:  status,
		Title:   title,
		Message: message,
	})
	if err != nil {
		h.log.ErrorContext(r.Context(), "render error page", "err", err, "request_id", id)
		http.Error(w, title+" (error ID "+id+")", status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// newRequestID returns a short random ID that ties an error page to its log
// line.
func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}
