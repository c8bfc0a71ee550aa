package handlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// mountConsent mounts the consent page:
//
//	GET  /u/consent?state=ID  show the client and the scopes it asks for
//	POST /u/consent           action=accept stores the consent, action=deny refuses; both resume /authorize
//
// Both need the browser session the login started; without one the person
// is sent to log in.
func (h *Handler) mountConsent(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/consent"), h.page(h.consentPage))
	mux.Handle("POST "+h.path("/u/consent"), h.form(h.consentSubmit))
}

// consentSession returns the browser session a consent answer belongs to:
// it must exist and come from the flow's connection.
func (h *Handler) consentSession(r *http.Request, f *flow) (storage.Session, bool) {
	s, ok := h.sessions.current(r)
	if !ok || s.ConnectionID != f.Req.ConnectionID {
		return storage.Session{}, false
	}
	return s, true
}

func (h *Handler) consentPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	s, ok := h.consentSession(r, f)
	if !ok {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return
	}
	u, err := h.opts.Store.GetUser(r.Context(), s.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return
	}
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	d := templates.ConsentData{
		Action:    h.pageURL("/u/consent", f.Req.ID),
		UserEmail: u.Email,
	}
	for _, sc := range requestedScopes(f) {
		d.Scopes = append(d.Scopes, describeScope(sc))
	}
	h.renderFlow(w, r, f, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.Consent(wr, d)
	})
}

func (h *Handler) consentSubmit(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	s, ok := h.consentSession(r, f)
	if !ok {
		redirect(w, r, h.pageURL("/u/login", f.Req.ID))
		return
	}
	ctx := r.Context()
	switch r.PostFormValue("action") {
	case "accept":
		scopes := requestedScopes(f)
		err := h.opts.Store.InTx(ctx, func(ctx context.Context) error {
			prev, err := h.opts.Store.GetConsent(ctx, s.UserID, f.Client.ID)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return fmt.Errorf("load consent: %w", err)
			}
			// Keep what was granted before: a consent widens, it never
			// silently narrows.
			for _, sc := range prev.Scopes {
				if !slices.Contains(scopes, sc) {
					scopes = append(scopes, sc)
				}
			}
			if _, err := h.opts.Store.UpsertConsent(ctx, storage.Consent{UserID: s.UserID, ClientID: f.Client.ID, Scopes: scopes}); err != nil {
				return fmt.Errorf("store consent: %w", err)
			}
			return nil
		})
		if err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		if err := h.saveFlowState(ctx, f, func(st *flowState) { st.ConsentedAt = time.Now().UTC(); st.Denied = false }); err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "consent granted", "user_id", s.UserID, "client_id", f.Client.ID, "scopes", scopes)
	case "deny":
		if err := h.saveFlowState(ctx, f, func(st *flowState) { st.Denied = true }); err != nil {
			h.renderInternalError(w, r, err)
			return
		}
		h.log.InfoContext(ctx, "consent denied", "user_id", s.UserID, "client_id", f.Client.ID)
	default:
		h.renderError(w, r, http.StatusBadRequest, "Invalid request", "Choose Accept or Decline.")
		return
	}
	redirect(w, r, h.resumeURL(f.Req.ID))
}

// requestedScopes are the distinct scopes of the stored request, in order.
func requestedScopes(f *flow) []string {
	var out []string
	for _, sc := range strings.Fields(f.Form.Get("scope")) {
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// describeScope puts a scope in words for the consent page.
func describeScope(name string) templates.Scope {
	s := templates.Scope{Name: name, Title: name}
	switch name {
	case "openid":
		s.Title, s.Description = "Identity", "Know who you are on this site"
	case "profile":
		s.Title, s.Description = "Profile", "Your name, nickname, picture and locale"
	case "email":
		s.Title, s.Description = "Email", "Your email address and whether it is verified"
	case "phone":
		s.Title, s.Description = "Phone", "Your phone number"
	case "address":
		s.Title, s.Description = "Address", "Your postal address"
	case "offline_access":
		s.Title, s.Description = "Offline access", "Keep access to your data while you are not using the application"
	default:
		s.Description = "Access to " + name
	}
	return s
}
