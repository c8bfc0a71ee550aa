package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/templates"
)

// Passkey recovery: a passkey-only user who lost their passkeys asks for
// an email ("Can't use your passkey?"); its link, once used, grants
// enrolling one new passkey and nothing else. The grant is not a login: no
// session starts, and the person then logs in with the new passkey.
const (
	// recoveryGrantKind is the storage.Challenge kind of a recovery grant.
	recoveryGrantKind = "handlers.passkey_recovery_grant"
	// recoveryGrantTTL bounds how long the page may take to create the
	// passkey after the link was used.
	recoveryGrantTTL = 15 * time.Minute
	// purposeRecover is the ceremony purpose of a recovery registration.
	purposeRecover = "recover"
)

// passkeyRecoverer is implemented by connectors that recover passkey-only
// accounts by email (database.Connection).
type passkeyRecoverer interface {
	SendPasskeyRecovery(ctx context.Context, email string) error
	ConsumeRecovery(ctx context.Context, token string) (storage.User, error)
}

// recoveryGrant is the Data of a recovery grant's challenge.
type recoveryGrant struct {
	Connection string `json:"connection"`
}

// mountRecovery mounts the passkey recovery:
//
//	GET  /u/recover-passkey/request[?state=ID|connection=NAME]  "Can't use your passkey?": the email form
//	POST /u/recover-passkey/request                              send the link (passkey-only accounts); always the same answer
//	GET  /u/recover-passkey?token&connection                     the link's page (a button uses it)
//	POST /u/recover-passkey                                      use the link: sessions end; the page creates a passkey
//	POST /u/recover-passkey/register/begin                       {"state": grant, "hint"?} → {"ceremony", "publicKey"}
//	POST /u/recover-passkey/register/finish                      {"state": grant, "ceremony", "credential"} → {"redirect"}
//	GET  /u/recover-passkey/done                                 "Your new passkey is ready"
func (h *Handler) mountRecovery(mux *http.ServeMux) {
	req := func(w http.ResponseWriter, r *http.Request) { h.emailRequest(w, r, "recovery") }
	mux.Handle("GET "+h.path(pathRecoverPasskey+"/request"), h.page(req))
	mux.Handle("POST "+h.path(pathRecoverPasskey+"/request"), h.form(req))
	mux.Handle("GET "+h.path(pathRecoverPasskey), h.page(h.recoverPage))
	mux.Handle("POST "+h.path(pathRecoverPasskey), h.form(h.recoverSubmit))
	slots := make(chan struct{}, passkeyConcurrency)
	mux.Handle("POST "+h.path(pathRecoverPasskey+"/register/begin"), h.passkeyJSON(slots, h.recoverBegin))
	mux.Handle("POST "+h.path(pathRecoverPasskey+"/register/finish"), h.passkeyJSON(slots, h.recoverFinish))
	mux.Handle("GET "+h.path(pathRecoverPasskey+"/done"), h.page(func(w http.ResponseWriter, r *http.Request) {
		h.renderMessage(w, r, http.StatusOK, templates.MessageData{
			Title:   "Your new passkey is ready",
			Message: "Go back to the application and log in with your new passkey.",
			LinkURL: h.path("/u/account"), LinkText: "Log in to your account",
		})
	}))
}

func (h *Handler) recoverPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" || len(token) > 128 {
		h.renderLinkInvalid(w, r)
		return
	}
	h.renderConfirmLink(w, r, pathRecoverPasskey, token, templates.ConfirmLinkData{
		Title:   "Set up a new passkey",
		Message: "Continue to create a new passkey for your account. This signs you out everywhere.",
		Button:  "Continue",
	})
}

func (h *Handler) recoverSubmit(w http.ResponseWriter, r *http.Request) {
	c, token, ok := linkSubmit[connector.Connector](h, w, r)
	if !ok {
		return
	}
	pr, ok := c.(passkeyRecoverer)
	if !ok || passkeysOf(c) == nil {
		h.renderLinkInvalid(w, r)
		return
	}
	u, err := pr.ConsumeRecovery(r.Context(), token)
	if !h.linkUsed(w, r, err) {
		return
	}
	grant, err := h.newRecoveryGrant(r.Context(), u, c.Connection().Name)
	if err != nil {
		h.renderInternalError(w, r, err)
		return
	}
	// The user's sessions ended; this browser's cookie goes with them.
	h.sessions.expireCookie(w)
	d := templates.RecoverPasskeyData{Email: u.Email, Passkeys: templates.PasskeyUI{API: h.path(pathRecoverPasskey), State: grant}}
	h.render(w, r, http.StatusOK, func(wr io.Writer, p templates.Page) error {
		d.Page = p
		return h.opts.Templates.RecoverPasskey(wr, d)
	}, "", "")
}

// newRecoveryGrant stores a grant to enrol one passkey for u and returns
// its token (only its hash is stored).
func (h *Handler) newRecoveryGrant(ctx context.Context, u storage.User, connection string) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new recovery grant: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	data, err := json.Marshal(recoveryGrant{Connection: connection})
	if err != nil {
		return "", fmt.Errorf("new recovery grant: %w", err)
	}
	now := time.Now().UTC()
	if _, err := h.opts.Store.CreateChallenge(ctx, storage.Challenge{
		ID: grantID(token), Kind: recoveryGrantKind, UserID: u.ID, Data: data, CreatedAt: now, ExpiresAt: now.Add(recoveryGrantTTL),
	}); err != nil {
		return "", fmt.Errorf("new recovery grant: %w", err)
	}
	return token, nil
}

func grantID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// errAPIGrant: the recovery grant is unknown, used or expired.
var errAPIGrant = &apiError{http.StatusBadRequest, "invalid_grant",
	"This recovery page expired or was already used. Ask for a new email.", ""}

// recoveryContext loads a grant's challenge, user and relying party.
func (h *Handler) recoveryContext(ctx context.Context, grant string) (storage.Challenge, storage.User, *passkey.RelyingParty, error) {
	if grant == "" {
		return storage.Challenge{}, storage.User{}, nil, errAPIGrant
	}
	ch, err := h.opts.Store.GetChallenge(ctx, recoveryGrantKind, grantID(grant))
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Challenge{}, storage.User{}, nil, errAPIGrant
	}
	if err != nil {
		return storage.Challenge{}, storage.User{}, nil, err
	}
	var g recoveryGrant
	if err := json.Unmarshal(ch.Data, &g); err != nil {
		return storage.Challenge{}, storage.User{}, nil, errAPIGrant
	}
	u, err := h.opts.Store.GetUser(ctx, ch.UserID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Blocked {
		return storage.Challenge{}, storage.User{}, nil, errAPIGrant
	}
	if err != nil {
		return storage.Challenge{}, storage.User{}, nil, err
	}
	c, err := h.opts.Connectors.Lookup(ctx, g.Connection)
	if err != nil {
		return storage.Challenge{}, storage.User{}, nil, fmt.Errorf("open connection %q: %w", g.Connection, err)
	}
	rp := passkeysOf(c)
	if rp == nil || c.Connection().ID != u.ConnectionID {
		return storage.Challenge{}, storage.User{}, nil, errAPIDisabled
	}
	return ch, u, rp, nil
}

func (h *Handler) recoverBegin(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	ch, u, rp, err := h.recoveryContext(ctx, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	hint, err := parseHint(req.Hint)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	c, err := rp.BeginRegistration(ctx, u, passkey.RegistrationOptions{Hint: hint, UserAgent: r.UserAgent()})
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ceremonyResponse{Ceremony: h.ceremonyToken(purposeRecover, c.ID, "grant:"+ch.ID), PublicKey: c.PublicKey})
}

func (h *Handler) recoverFinish(w http.ResponseWriter, r *http.Request, req passkeyRequest) {
	ctx := r.Context()
	ch, u, rp, err := h.recoveryContext(ctx, req.State)
	if err != nil {
		h.writeAPIError(w, r, err)
		return
	}
	purpose, id, mac, ok := parseCeremonyToken(req.Ceremony)
	if !ok || purpose != purposeRecover || !h.checkCeremony(purpose, id, mac, "grant:"+ch.ID) {
		h.writeAPIError(w, r, errAPIBadCeremony)
		return
	}
	if len(req.Credential) == 0 {
		h.writeAPIError(w, r, apiBadRequest(`"credential" is required: the JSON of credential.toJSON().`))
		return
	}
	// The grant is single use: take it first, and put it back when the
	// passkey is refused so that the person can try again.
	if _, err := h.opts.Store.ConsumeChallenge(ctx, recoveryGrantKind, ch.ID); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = errAPIGrant
		}
		h.writeAPIError(w, r, err)
		return
	}
	reg, err := rp.FinishRegistration(ctx, id, req.Credential)
	if err != nil {
		if _, perr := h.opts.Store.CreateChallenge(ctx, ch); perr != nil {
			h.log.WarnContext(ctx, "restore recovery grant", "user_id", u.ID, "error", perr)
		}
		h.writeAPIError(w, r, err)
		return
	}
	h.log.InfoContext(ctx, "passkey added", "user_id", u.ID, "passkey_id", reg.Passkey.ID, "from", "recovery")
	writeJSON(w, http.StatusOK, map[string]string{"redirect": h.path(pathRecoverPasskey + "/done")})
}
