package handlers

import (
	"context"
	"net/http"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// unblocker is implemented by connectors with brute-force protection that
// mail unblock links (database.Connection).
type unblocker interface {
	Unblock(ctx context.Context, token string) (storage.User, error)
}

// mountUnblock mounts the brute-force unblock link:
//
//	GET  /u/unblock?token&connection  "Unblock your account" (a button uses the link)
//	POST /u/unblock                    lift the blocks: "Your account has been unblocked"
func (h *Handler) mountUnblock(mux *http.ServeMux) {
	mux.Handle("GET "+h.path(pathUnblock), h.page(h.unblockPage))
	mux.Handle("POST "+h.path(pathUnblock), h.form(h.unblockSubmit))
}

func (h *Handler) unblockPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		h.renderLinkInvalid(w, r)
		return
	}
	h.renderConfirmLink(w, r, pathUnblock, token, templates.ConfirmLinkData{
		Title:   "Unblock your account",
		Message: "Logins to your account were blocked after too many failed attempts. If they were yours, unblock it.",
		Button:  "Unblock my account",
	})
}

func (h *Handler) unblockSubmit(w http.ResponseWriter, r *http.Request) {
	ub, token, ok := linkSubmit[unblocker](h, w, r)
	if !ok {
		return
	}
	u, err := ub.Unblock(r.Context(), token)
	if !h.linkUsed(w, r, err) {
		return
	}
	h.log.InfoContext(r.Context(), "account unblocked by link", "user_id", u.ID)
	h.renderMessage(w, r, http.StatusOK, templates.MessageData{
		Title:   "Account unblocked",
		Message: "Your account has been unblocked. You can log in again.",
	})
}
