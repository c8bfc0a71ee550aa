package handlers

import (
	"io"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/templates"
)

// mountOutbox mounts the development outbox, only when Options.DevOutbox
// is set (no SMTP server configured) and the issuer is http://localhost:
//
//	GET /dev/outbox  the last messages "sent", newest first, with their links
//
// The page shows live single-use tokens, so it never exists on a public
// issuer.
func (h *Handler) mountOutbox(mux *http.ServeMux) {
	if h.opts.DevOutbox == nil || h.issuer.Scheme != "http" || !isLocalhost(h.issuer) {
		return
	}
	mux.Handle("GET "+h.path("/dev/outbox"), h.page(h.outboxPage))
}

func (h *Handler) outboxPage(w http.ResponseWriter, r *http.Request) {
	var d templates.OutboxData
	for _, m := range h.opts.DevOutbox.List() {
		d.Messages = append(d.Messages, templates.OutboxMessage{
			To: m.To, Subject: m.Subject, At: m.At.UTC().Format(time.RFC3339), Text: m.Text, Links: m.Links,
		})
	}
	h.render(w, r, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Outbox(wr, d)
	}, "", "")
}
