package latchkey

import (
	"fmt"
	"net/url"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/connector/mfa"
	"github.com/latchkey/latchkey/connector/passkey"
)

// labelMFAKey derives the key of the MFA factors (TOTP secrets are sealed
// and recovery codes hashed under keys derived from it). Fixed forever:
// changing it makes enrolled factors unusable.
const labelMFAKey = "latchkey mfa key"

// MFA returns the MFA service of an opened database connection, or nil
// (handlers.Options.MFA).
func (r *resolver) MFA(c connector.Connector) *mfa.Service {
	if c == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mfas[c.Connection().ID]
}

// withMFA builds the MFA service of an opened database connection: the
// connection's "mfa" policy, the factors' key from the master secret, and
// security keys on the passkey relying party's RP ID and origins (none when
// the issuer cannot be a WebAuthn relying party and the settings name no
// RP ID).
func (r *resolver) withMFA(conn *database.Connection) (*database.Connection, error) {
	if len(r.mfaKey) == 0 {
		return conn, nil
	}
	stored, settings := conn.Connection(), conn.Settings()
	logger := r.log.With("connection", stored.Name)
	issuerName := "Latchkey"
	if u, err := url.Parse(r.passkeys.Issuer); err == nil && u.Hostname() != "" {
		issuerName = u.Hostname()
	}
	var sk *passkey.RelyingParty
	if settings.MFA.Enabled(mfa.FactorWebAuthnRoaming) {
		name := r.passkeys.RPDisplayName
		if name == "" {
			name = "Latchkey"
		}
		rp, err := passkey.New(mfa.SecurityKeyConfig(passkey.Config{
			Policy:        settings.Passkeys,
			ConnectionID:  stored.ID,
			RPDisplayName: name,
			Issuer:        r.passkeys.Issuer,
			Store:         r.store,
			Logger:        logger,
			Now:           r.passkeys.Now,
		}))
		if err != nil {
			logger.Warn("security keys are off for this connection: the issuer cannot be a WebAuthn relying party; set passkeys.rp_id and passkeys.rp_origins", "error", err)
		} else {
			sk = rp
		}
	}
	svc, err := mfa.New(mfa.Config{
		Store:        r.store,
		Policy:       settings.MFA,
		Key:          r.mfaKey,
		Issuer:       issuerName,
		SecurityKeys: sk,
		Logger:       logger,
	})
	if err != nil {
		return nil, fmt.Errorf("open connection %q: %w", stored.Name, err)
	}
	r.mu.Lock()
	if r.mfas == nil {
		r.mfas = make(map[string]*mfa.Service)
	}
	r.mfas[stored.ID] = svc
	r.mu.Unlock()
	return conn, nil
}
