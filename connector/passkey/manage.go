package passkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkey/latchkey/storage"
)

// MaxNameLength bounds a passkey's name, in characters.
const MaxNameLength = 64

// ErrInvalidName: a passkey name that is empty, too long or has control
// characters.
var ErrInvalidName = errors.New("passkey: a passkey name must be 1 to 64 printable characters")

// Passkey is a user's passkey as the account page shows it.
type Passkey struct {
	// ID is the storage.Credential ID (not the WebAuthn credential ID).
	ID string `json:"id"`
	// Name is the user's label, by default the provider's name.
	Name string `json:"name"`
	// Provider is the passkey provider known from the AAGUID, or "".
	Provider string `json:"provider,omitempty"`
	// AAGUID of the authenticator model (WebAuthn L3 §6.5.1).
	AAGUID string `json:"aaguid"`
	// Synced reports a backup-eligible passkey (WebAuthn L3 §6.1.3, BE=1),
	// one a provider may copy to the user's other devices; false means
	// device-bound.
	Synced bool `json:"synced"`
	// BackedUp is the latest backup state (BS).
	BackedUp bool `json:"backed_up"`
	// Transports the client reported at registration.
	Transports []string `json:"transports,omitempty"`
	// CloneWarning: a login's signature counter did not increase.
	CloneWarning bool      `json:"clone_warning,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	// LastUsedAt is zero until the first login with the passkey.
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// toPasskey converts a stored credential.
func toPasskey(c storage.Credential) (Passkey, error) {
	a, err := ParseAttributes(c.Attributes)
	if err != nil {
		return Passkey{}, err
	}
	return Passkey{
		ID: c.ID, Name: c.Name, Provider: a.Provider, AAGUID: a.AAGUID,
		Synced: a.BackupEligible, BackedUp: a.BackupState, Transports: a.Transports,
		CloneWarning: a.CloneWarning, CreatedAt: c.CreatedAt, LastUsedAt: c.LastUsedAt,
	}, nil
}

// List returns the user's passkeys, oldest first. Unreadable records are
// skipped and logged.
func (rp *RelyingParty) List(ctx context.Context, userID string) ([]Passkey, error) {
	creds, err := rp.store.ListCredentials(ctx, userID, storage.CredentialWebAuthn)
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	out := make([]Passkey, 0, len(creds))
	for _, c := range creds {
		p, err := toPasskey(c)
		if err != nil {
			rp.logger.ErrorContext(ctx, "stored passkey is unreadable", "credential_id", c.ID, "user_id", c.UserID, "error", err)
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// Rename sets the name of one of the user's passkeys. The name is trimmed
// and must be 1..MaxNameLength printable characters (ErrInvalidName). A
// passkey that is not the user's gives ErrPasskeyNotFound.
func (rp *RelyingParty) Rename(ctx context.Context, userID, passkeyID, name string) (Passkey, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxNameLength || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return Passkey{}, fmt.Errorf("rename passkey: %w", ErrInvalidName)
	}
	c, err := rp.store.UpdateCredential(ctx, passkeyID, func(c *storage.Credential) error {
		if c.UserID != userID || c.Kind != storage.CredentialWebAuthn {
			return ErrPasskeyNotFound
		}
		c.Name = name
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = ErrPasskeyNotFound
	}
	if err != nil {
		return Passkey{}, fmt.Errorf("rename passkey: %w", err)
	}
	return toPasskey(c)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Delete removes one of the user's passkeys. It refuses (ErrLastCredential)
// to remove the last way to sign in: the user's only passkey when the user
// has no password. The check and the deletion run in one transaction with
// the user's row locked, so two concurrent deletions cannot both pass it.
func (rp *RelyingParty) Delete(ctx context.Context, userID, passkeyID string) error {
	err := rp.store.InTx(ctx, func(ctx context.Context) error {
		if _, err := rp.store.UpdateUser(ctx, userID, func(*storage.User) error { return nil }); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return ErrPasskeyNotFound
			}
			return fmt.Errorf("lock user: %w", err)
		}
		creds, err := rp.store.ListCredentials(ctx, userID, storage.CredentialWebAuthn)
		if err != nil {
			return fmt.Errorf("list passkeys: %w", err)
		}
		found := false
		for _, c := range creds {
			found = found || c.ID == passkeyID
		}
		if !found {
			return ErrPasskeyNotFound
		}
		if len(creds) == 1 {
			pw, err := rp.store.ListCredentials(ctx, userID, storage.CredentialPassword)
			if err != nil {
				return fmt.Errorf("list passwords: %w", err)
			}
			if len(pw) == 0 {
				return ErrLastCredential
			}
		}
		return rp.store.DeleteCredential(ctx, passkeyID)
	})
	if err != nil {
		return fmt.Errorf("delete passkey: %w", err)
	}
	return nil
}
