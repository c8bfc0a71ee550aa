package database

import (
	"fmt"
	"time"

	"github.com/latchkey/latchkey/connector/passkey"
)

// Option configures Open.
type Option func(*openOptions)

type openOptions struct {
	passkeys *PasskeyOptions
}

// PasskeyOptions give the connection what its passkey relying party needs
// from outside the stored settings.
type PasskeyOptions struct {
	// Issuer is the OpenID Provider's issuer URL: its host is the default
	// RP ID and its origin the default allowed origin (passkey.Config).
	Issuer string
	// RPDisplayName is the name authenticators show for the relying party
	// (default "Latchkey").
	RPDisplayName string
	// Now is the clock of ceremony expiry (nil: time.Now).
	Now func() time.Time
}

// WithPasskeys builds the connection's passkey relying party from the
// "passkeys" policy of its settings. Without this option, or when the
// policy is disabled, Passkeys returns nil.
func WithPasskeys(o PasskeyOptions) Option {
	return func(oo *openOptions) { oo.passkeys = &o }
}

// newRelyingParty builds the passkey relying party of an opened connection,
// or returns nil when passkeys are not configured or disabled.
func (c *Connection) newRelyingParty(o *PasskeyOptions) (*passkey.RelyingParty, error) {
	if o == nil || !c.settings.Passkeys.Enabled {
		return nil, nil
	}
	name := o.RPDisplayName
	if name == "" {
		name = "Latchkey"
	}
	rp, err := passkey.New(passkey.Config{
		Policy:        c.settings.Passkeys,
		ConnectionID:  c.conn.ID,
		RPDisplayName: name,
		Issuer:        o.Issuer,
		Store:         c.store,
		Logger:        c.logger,
		Now:           o.Now,
	})
	if err != nil {
		p := c.settings.Passkeys
		if p.RPID == "" && len(p.RPOrigins) == 0 {
			// The defaults come from the issuer, and WebAuthn cannot use
			// every issuer (an IP address, plain http off localhost): the
			// connection then works without passkeys rather than not at all.
			c.logger.Warn("passkeys are off for this connection: the issuer cannot be a WebAuthn relying party; set passkeys.rp_id and passkeys.rp_origins",
				"issuer", o.Issuer, "error", err)
			return nil, nil
		}
		return nil, fmt.Errorf("passkeys: %w", err)
	}
	return rp, nil
}

// Passkeys returns the connection's passkey relying party, or nil when the
// connection does not offer passkeys (policy disabled, or opened without
// WithPasskeys).
func (c *Connection) Passkeys() *passkey.RelyingParty { return c.passkeys }
