package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// authRequestLifetime bounds how long a person may take to log in.
const authRequestLifetime = 30 * time.Minute

// flowState is the JSON kept in storage.AuthRequest.State: what the pages
// learnt so far. Only handlers read or write it.
type flowState struct {
	// Identifier is the email (or username) the person entered.
	Identifier string `json:"identifier,omitempty"`
	// Denied is set when the person refused consent; resume then answers the
	// client with access_denied.
	Denied bool `json:"denied,omitempty"`
	// ConsentedAt is when the person approved consent in this flow (needed
	// for prompt=consent, which must ask again even if a consent is stored).
	ConsentedAt time.Time `json:"consented_at,omitzero"`
	// PasskeyOffer is set after a login that should be followed by the
	// "Create a passkey" page before resuming: offerProgressive (password
	// login, no passkey yet), offerLocal (cross-device passkey login) or
	// offerRequired (the request demands a passkey's acr).
	PasskeyOffer string `json:"passkey_offer,omitempty"`
	// ReturnTo marks a login flow that is not an authorization request:
	// the account page's (see account.go). After the login the browser goes
	// there instead of /authorize/resume.
	ReturnTo string `json:"return_to,omitempty"`
	// MFA is a login waiting for its second factor (see mfa.go).
	MFA *mfaPending `json:"mfa,omitempty"`
	// Actions is what the post-login actions decided (see actions.go).
	Actions *actionOutcome `json:"actions,omitempty"`
}

// flow is a pending authorization request loaded for a page.
type flow struct {
	Req    storage.AuthRequest
	Form   url.Values
	Client storage.Client
	Conn   connector.Connector
	// ConnName is the connection's name.
	ConnName string
	State    flowState
}

// errFlowNotFound reports an unknown or expired state parameter.
var errFlowNotFound = errors.New("login transaction not found or expired")

// loadFlow loads the pending request named by the "state" query or form
// parameter.
func (h *Handler) loadFlow(r *http.Request) (*flow, error) {
	id := r.FormValue("state")
	if id == "" {
		return nil, errFlowNotFound
	}
	return h.loadFlowByID(r.Context(), id)
}

func (h *Handler) loadFlowByID(ctx context.Context, id string) (*flow, error) {
	req, err := h.opts.Store.GetAuthRequest(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errFlowNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load login transaction: %w", err)
	}
	f := &flow{Req: req}
	if f.Form, err = url.ParseQuery(req.Form); err != nil {
		return nil, fmt.Errorf("parse stored request: %w", err)
	}
	if len(req.State) > 0 {
		if err := json.Unmarshal(req.State, &f.State); err != nil {
			return nil, fmt.Errorf("parse login transaction state: %w", err)
		}
	}
	if req.ClientID == "" && f.State.ReturnTo != "" {
		// A login for Latchkey's own pages (the account page).
		f.Client = accountClient()
	} else if f.Client, err = h.opts.Provider.StoredClient(ctx, req.ClientID); err != nil {
		return nil, fmt.Errorf("load client: %w", err)
	}
	conn, err := h.connection(ctx, req.ConnectionID)
	if err != nil {
		return nil, fmt.Errorf("load connection: %w", err)
	}
	f.ConnName = conn.Name
	if f.Conn, err = h.opts.Connectors.Lookup(ctx, conn.Name); err != nil {
		return nil, fmt.Errorf("open connection %q: %w", conn.Name, err)
	}
	return f, nil
}

// saveFlowState applies fn to the flow's state and stores it.
func (h *Handler) saveFlowState(ctx context.Context, f *flow, fn func(*flowState)) error {
	_, err := h.opts.Store.UpdateAuthRequest(ctx, f.Req.ID, func(r *storage.AuthRequest) error {
		var st flowState
		if len(r.State) > 0 {
			if err := json.Unmarshal(r.State, &st); err != nil {
				return fmt.Errorf("parse login transaction state: %w", err)
			}
		}
		fn(&st)
		b, err := json.Marshal(st)
		if err != nil {
			return fmt.Errorf("encode login transaction state: %w", err)
		}
		r.State = b
		f.State = st
		return nil
	})
	if err != nil {
		return fmt.Errorf("save login transaction: %w", err)
	}
	return nil
}

// resumeURL is where the pages send the browser once the person has logged
// in or answered consent.
func (h *Handler) resumeURL(id string) string {
	return h.path("/authorize/resume") + "?state=" + url.QueryEscape(id)
}

// afterLoginURL is where the browser goes once the person has logged in
// (and answered any passkey offer): back to /authorize, or to the page a
// non-OAuth flow returns to.
func (h *Handler) afterLoginURL(f *flow) string {
	if f.State.ReturnTo != "" {
		return f.State.ReturnTo
	}
	return h.resumeURL(f.Req.ID)
}

// pageURL builds the URL of a hosted page for a flow.
func (h *Handler) pageURL(page, id string) string {
	return h.path(page) + "?state=" + url.QueryEscape(id)
}
