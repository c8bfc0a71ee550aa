package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/storage"
)

// passkeyConnector is implemented by connectors that offer passkeys
// (database.Connection). Passkeys returns nil when the connection's policy
// turns them off.
type passkeyConnector interface {
	Passkeys() *passkey.RelyingParty
}

// passkeysOf returns the connector's passkey relying party, or nil.
func passkeysOf(c connector.Connector) *passkey.RelyingParty {
	pc, ok := c.(passkeyConnector)
	if !ok {
		return nil
	}
	return pc.Passkeys()
}

// Passkey offers: the variants of the "Create a passkey" page shown after a
// login, before the browser resumes (flowState.PasskeyOffer).
const (
	offerProgressive = "progressive" // after a password login by a user without passkeys
	offerLocal       = "local"       // after a passkey login from another device
	offerRequired    = "required"    // the request demands phr/phrh and the login reached neither
)

// remindLater is how long "Remind me later" silences progressive
// enrollment.
const remindLater = 30 * 24 * time.Hour

// metadataKey is the key of Latchkey's passkey data in storage.User.Metadata.
const metadataKey = "latchkey_passkeys"

// passkeyMetadata is what Latchkey keeps in a user's Metadata about passkey
// enrollment.
type passkeyMetadata struct {
	// RemindAfter silences progressive enrollment until then ("Remind me
	// later").
	RemindAfter time.Time `json:"enroll_remind_after,omitzero"`
}

// readPasskeyMetadata reads Latchkey's part of a user's Metadata; anything
// unreadable counts as empty.
func readPasskeyMetadata(u storage.User) passkeyMetadata {
	var all map[string]json.RawMessage
	if len(u.Metadata) == 0 || json.Unmarshal(u.Metadata, &all) != nil {
		return passkeyMetadata{}
	}
	var m passkeyMetadata
	_ = json.Unmarshal(all[metadataKey], &m)
	return m
}

// writePasskeyMetadata stores m in the user's Metadata, keeping the other
// keys (Metadata belongs to connectors and hooks too).
func (h *Handler) writePasskeyMetadata(ctx context.Context, userID string, m passkeyMetadata) error {
	_, err := h.opts.Store.UpdateUser(ctx, userID, func(u *storage.User) error {
		all := map[string]json.RawMessage{}
		if len(u.Metadata) > 0 {
			if err := json.Unmarshal(u.Metadata, &all); err != nil {
				return fmt.Errorf("user metadata is not a JSON object: %w", err)
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		all[metadataKey] = b
		if u.Metadata, err = json.Marshal(all); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save passkey enrollment reminder: %w", err)
	}
	return nil
}

// requiresPasskey reports whether the flow's request demands an acr only a
// passkey reaches (acr_values or an essential acr claim of phr or phrh).
func requiresPasskey(f *flow) bool {
	claims, err := parseClaimsRequest(f.Form.Get("claims"))
	if err != nil {
		return false
	}
	return len(requiredACR(f.Form.Get("acr_values"), claims)) > 0
}

// flowSession returns the browser session and its user when the browser is
// logged in to the flow's connection.
func (h *Handler) flowSession(r *http.Request, connectionID string) (storage.Session, storage.User, bool) {
	s, ok := h.sessions.current(r)
	if !ok || (connectionID != "" && s.ConnectionID != connectionID) {
		return storage.Session{}, storage.User{}, false
	}
	u, err := h.opts.Store.GetUser(r.Context(), s.UserID)
	if err != nil || u.Blocked {
		return storage.Session{}, storage.User{}, false
	}
	return s, u, true
}

// sessionEvidence decodes the evidence stored with a session.
func sessionEvidence(s storage.Session) []connector.Method {
	var ms []connector.Method
	if len(s.Evidence) > 0 {
		_ = json.Unmarshal(s.Evidence, &ms)
	}
	return ms
}

// passkeyMethod completes the evidence of a passkey ceremony with what the
// connection's policy says about attestation (provider.EvidenceClaims
// counts a device-bound key as hardware only with verified attestation
// when the connection asks for it).
func passkeyMethod(rp *passkey.RelyingParty, m connector.Method) connector.Method {
	if rp.Policy().Attestation == passkey.AttestationDirect {
		m.AttestationRequired = true
	}
	return m
}

// passkeyOffer decides whether a password login should be followed by the
// "Create a passkey" page, and which variant. capable is the login form's
// report that the browser can create passkeys (set by passkey.js; a browser
// without WebAuthn or JavaScript is never asked).
func (h *Handler) passkeyOffer(ctx context.Context, f *flow, u storage.User, capable bool) (string, error) {
	rp := passkeysOf(f.Conn)
	if rp == nil || !capable {
		return "", nil
	}
	creds, err := h.opts.Store.ListCredentials(ctx, u.ID, storage.CredentialWebAuthn)
	if err != nil {
		return "", fmt.Errorf("list passkeys: %w", err)
	}
	if requiresPasskey(f) {
		// The login cannot satisfy the request without a passkey step.
		if len(creds) < rp.Policy().MaxPasskeys {
			return offerRequired, nil
		}
		return "", nil
	}
	if len(creds) > 0 || !rp.Policy().ProgressiveEnrollment || f.State.ReturnTo != "" {
		return "", nil
	}
	if md := readPasskeyMetadata(u); time.Now().Before(md.RemindAfter) {
		return "", nil
	}
	return offerProgressive, nil
}

// Ceremony tokens. The JSON API hands out "<purpose>.<ceremony ID>.<MAC>":
// the MAC binds the passkey package's ceremony to what began it (the flow,
// and the browser session for registrations), so a ceremony cannot be
// finished in another flow or by another session, and the finish call
// knows what the ceremony is for without trusting the client.
const (
	purposeLogin   = "login"   // login/begin → login/finish
	purposeSignup  = "signup"  // register/begin with email (new account)
	purposeEnroll  = "enroll"  // register/begin in a flow, logged in
	purposeAccount = "account" // register/begin from the account page
)

// ceremonyToken makes the token of a begun ceremony.
func (h *Handler) ceremonyToken(purpose, id, binding string) string {
	return purpose + "." + id + "." + h.ceremonyMAC(purpose, id, binding)
}

func (h *Handler) ceremonyMAC(purpose, id, binding string) string {
	mac := hmac.New(sha256.New, h.opts.Cookies.HashKey)
	mac.Write([]byte("latchkey passkey ceremony v1\x00" + purpose + "\x00" + id + "\x00" + binding))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// parseCeremonyToken splits a token and reports its purpose and ceremony ID.
// Check the binding with checkCeremony.
func parseCeremonyToken(tok string) (purpose, id, mac string, ok bool) {
	if len(tok) > 256 {
		return "", "", "", false
	}
	purpose, rest, ok1 := strings.Cut(tok, ".")
	i := strings.LastIndexByte(rest, '.')
	if !ok1 || i <= 0 {
		return "", "", "", false
	}
	return purpose, rest[:i], rest[i+1:], true
}

// checkCeremony reports whether the token's MAC binds it to binding.
func (h *Handler) checkCeremony(purpose, id, mac, binding string) bool {
	return hmac.Equal([]byte(mac), []byte(h.ceremonyMAC(purpose, id, binding)))
}
