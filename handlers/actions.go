package handlers

import (
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// actionOutcome is what the post-login actions decided for one login, kept
// in the flow state (flowState.Actions) between the login pages and
// /authorize/resume, so that any replica finishes the login.
type actionOutcome struct {
	// UserID is the user the actions ran for; the outcome applies only to
	// a session of that user.
	UserID string `json:"user_id"`
	// MFA is the actions' MFA decision ("", "none" or "any").
	MFA mfa.ActionDecision `json:"mfa,omitempty"`
	// Denied is the reason of an action's denial.
	Denied string `json:"denied,omitempty"`
	// Failed is set when an action failed (see actions.ErrActionFailed).
	Failed bool `json:"failed,omitempty"`
	// IDTokenClaims and AccessTokenClaims are the custom claims.
	IDTokenClaims     map[string]any `json:"id_token_claims,omitempty"`
	AccessTokenClaims map[string]any `json:"access_token_claims,omitempty"`
}

// stopped reports whether the actions stopped the login.
func (o *actionOutcome) stopped() bool { return o != nil && (o.Denied != "" || o.Failed) }

// clientError is the OAuth error the relying party gets for a stopped
// login (actions.ClientError).
func (o *actionOutcome) clientError() error {
	if o.Failed {
		return fosite.ErrServerError.WithHint("A post-login action failed.")
	}
	return &fosite.RFC6749Error{
		ErrorField:       actions.ErrorCodeAccessDenied,
		DescriptionField: o.Denied,
		CodeField:        http.StatusForbidden,
	}
}

// runActions runs the deployment's post-login actions for a login of u
// whose evidence so far is methods. form is the authorization request's
// parameters; it returns nil when no action is configured. A failure is
// logged by the Runner and reported in the outcome.
func (h *Handler) runActions(r *http.Request, form map[string][]string, client storage.Client, connName, connID string, u storage.User, methods []connector.Method) *actionOutcome {
	if h.opts.Actions == nil || h.opts.Actions.Len() == 0 {
		return nil
	}
	ev := h.actionEvent(r, form, client, connName, connID, u, methods)
	out := &actionOutcome{UserID: u.ID}
	res, err := h.opts.Actions.Run(r.Context(), ev)
	switch {
	case err != nil:
		out.Failed = true
	case res.Denied != nil:
		out.Denied = res.Denied.Reason
		if out.Denied == "" {
			out.Denied = "Access denied."
		}
	default:
		switch res.MFA {
		case actions.MFASkip:
			out.MFA = mfa.ActionNone
		case actions.MFARequire:
			out.MFA = mfa.ActionAny
		}
		out.IDTokenClaims = res.IDTokenClaims
		out.AccessTokenClaims = res.AccessTokenClaims
	}
	return out
}

// actionEvent builds the post-login event.
func (h *Handler) actionEvent(r *http.Request, form map[string][]string, client storage.Client, connName, connID string, u storage.User, methods []connector.Method) *actions.Event {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	ev := &actions.Event{
		User:   actions.NewUser(u),
		Client: actions.NewClient(client),
		Connection: actions.NewConnection(storage.Connection{
			ID: connID, Name: connName, Type: "database",
		}),
		Authentication: actions.Authentication{Methods: actions.NewMethods(methods)},
		Transaction: actions.Transaction{
			ACRValues:       strings.Fields(get("acr_values")),
			Locale:          h.lang(get("ui_locales")),
			LoginHint:       get("login_hint"),
			Prompt:          strings.Fields(get("prompt")),
			Protocol:        actions.ProtocolOIDC,
			RedirectURI:     get("redirect_uri"),
			RequestedScopes: strings.Fields(get("scope")),
			ResponseType:    strings.Fields(get("response_type")),
			UILocales:       strings.Fields(get("ui_locales")),
		},
		Request: actions.Request{
			IP:        clientIP(r),
			Hostname:  r.Host,
			Method:    r.Method,
			UserAgent: truncate(r.UserAgent(), 512),
			Language:  truncate(r.Header.Get("Accept-Language"), 256),
		},
		Stats:  actions.Stats{LoginsCount: 1},
		Tenant: actions.Tenant{ID: h.issuer.Host},
	}
	if conn, err := h.opts.Store.GetConnection(r.Context(), connID); err == nil {
		ev.Connection = actions.NewConnection(conn)
	}
	if svc := h.mfaOf(h.connectorByID(r.Context(), connID)); svc != nil {
		if fs, err := svc.ListFactors(r.Context(), u.ID); err == nil {
			for _, f := range fs {
				ev.User.EnrolledFactors = append(ev.User.EnrolledFactors, actions.Factor{Type: string(f.Kind)})
			}
		}
	}
	return ev
}

// connectorByID opens the connector of a stored connection, or returns nil.
func (h *Handler) connectorByID(ctx context.Context, id string) connector.Connector {
	conn, err := h.opts.Store.GetConnection(ctx, id)
	if err != nil {
		return nil
	}
	c, err := h.opts.Connectors.Lookup(ctx, conn.Name)
	if err != nil {
		return nil
	}
	return c
}

// mountActions mounts the page of a login stopped by an action:
//
//	GET /u/denied?state=ID  the reason (or a generic message), and a link back to the application
func (h *Handler) mountActions(mux *http.ServeMux) {
	mux.Handle("GET "+h.path("/u/denied"), h.page(h.deniedPage))
}

func (h *Handler) deniedPage(w http.ResponseWriter, r *http.Request) {
	f, ok := h.pageFlow(w, r)
	if !ok {
		return
	}
	o := f.State.Actions
	if !o.stopped() {
		redirect(w, r, h.afterLoginURL(f))
		return
	}
	d := templates.ActionDeniedData{Title: "Access denied", Message: o.Denied}
	status := http.StatusForbidden
	if o.Failed {
		d.Title, d.Message, status = "Something went wrong", "We could not complete your login. Please try again later.", http.StatusInternalServerError
	}
	if f.State.ReturnTo == "" {
		d.ReturnURL = h.resumeURL(f.Req.ID)
	}
	h.renderFlow(w, r, f, status, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.ActionDenied(wr, d)
	})
}
