package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// Challenge kinds under which ceremony state is stored.
const (
	// KindRegistration is the storage.Challenge kind of registration (and
	// sign-up) ceremonies.
	KindRegistration = "webauthn.registration"
	// KindLogin is the storage.Challenge kind of authentication ceremonies.
	KindLogin = "webauthn.login"
	// KindSecondFactorRegistration and KindSecondFactorLogin are the
	// ceremony kinds of a second-factor relying party (Config.SecondFactor),
	// so that its ceremonies and passkey ceremonies never finish each other.
	KindSecondFactorRegistration = "webauthn.2fa.registration"
	KindSecondFactorLogin        = "webauthn.2fa.login"
)

// CeremonyTTL is how long a ceremony may be finished after it began. It is
// also the timeout hint given to the browser (WebAuthn L3 §5.4 "timeout";
// §15.1 recommends 300 s to 600 s for user-verifying ceremonies).
const CeremonyTTL = 5 * time.Minute

// maxResponseBytes bounds a ceremony response. Real ones are a few KiB
// (attestation certificate chains included).
const maxResponseBytes = 64 << 10

// Config builds a RelyingParty.
type Config struct {
	// Policy is the connection's passkey policy (validated by New).
	Policy Policy
	// ConnectionID is the storage.Connection whose users this relying party
	// serves: users are created in it, and credentials of users of other
	// connections are unknown to it.
	ConnectionID string
	// RPDisplayName is the relying party's name shown by authenticators
	// (WebAuthn L3 §5.4.1, PublicKeyCredentialRpEntity.name).
	RPDisplayName string
	// Issuer is the OpenID Provider's issuer URL; its host is the default
	// RP ID and its origin the default allowed origin.
	Issuer string
	// Store persists users, credentials and ceremony state.
	Store storage.Store
	// Logger receives security events (sign counter regressions); nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now). Ceremony expiry is judged by it.
	Now func() time.Time
	// SecondFactor, when set, makes this relying party one for security
	// keys used as a second factor after another login step, not for
	// passkeys (see SecondFactor).
	SecondFactor *SecondFactor
}

// SecondFactor configures a relying party for roaming authenticators
// (security keys) used as a second factor. Its ceremonies differ from
// passkey ones: registration asks for a non-discoverable credential
// (residentKey "discouraged", WebAuthn L3 §5.4.6) on a cross-platform
// authenticator (§5.4.5), user verification is preferred or discouraged
// (§5.8.6), logins always name the user (no discoverable login) and sign-up
// is refused. Its credentials are stored under their own CredentialKind and
// its ceremonies under KindSecondFactorRegistration and
// KindSecondFactorLogin, so a second-factor key never signs in alone as a
// passkey, and a passkey never counts as a second factor through it.
// Policy.Enabled and Policy.AuthenticatorAttachment are ignored
// (cross-platform is enforced); the other Policy fields apply.
type SecondFactor struct {
	// CredentialKind is the storage kind of its credentials; it must not be
	// empty or storage.CredentialWebAuthn.
	CredentialKind storage.CredentialKind
	// MethodKind is the evidence kind its ceremonies return (default
	// connector.MethodSecurityKey).
	MethodKind connector.MethodKind
	// UserVerification is UserVerificationPreferred or
	// UserVerificationDiscouraged (default discouraged: the key is the
	// second factor, a PIN prompt adds friction).
	UserVerification UserVerification
}

// RelyingParty runs passkey ceremonies for one connection (WebAuthn L3 §7,
// "WebAuthn Relying Party Operations"). It is safe for concurrent use and
// keeps no state between calls besides its configuration: ceremony state is
// in the store.
type RelyingParty struct {
	policy       Policy
	connectionID string
	rpID         string
	origins      []string
	store        storage.Store
	logger       *slog.Logger
	now          func() time.Time
	wa           *webauthn.WebAuthn

	// What differs between a passkey and a second-factor relying party.
	secondFactor  bool
	credKind      storage.CredentialKind
	methodKind    connector.MethodKind
	regKind       string
	loginKind     string
	residentKey   protocol.ResidentKeyRequirement
	requireRK     *bool
	uvRequirement protocol.UserVerificationRequirement
}

// New validates cfg and builds the relying party. The RP ID defaults to the
// issuer's host and the origins to the issuer's origin; every origin must be
// within the RP ID (WebAuthn L3 §5.1.2).
func New(cfg Config) (*RelyingParty, error) {
	if cfg.Store == nil || cfg.ConnectionID == "" {
		return nil, errors.New("new passkey relying party: store and connection ID are required")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, fmt.Errorf("new passkey relying party: %w", err)
	}
	iss, err := url.Parse(cfg.Issuer)
	if err != nil || iss.Host == "" {
		return nil, fmt.Errorf("new passkey relying party: issuer %q is not an absolute URL", cfg.Issuer)
	}
	p := cfg.Policy
	kinds := rpKinds{
		credKind: storage.CredentialWebAuthn, methodKind: connector.MethodPasskey,
		regKind: KindRegistration, loginKind: KindLogin,
		residentKey: protocol.ResidentKeyRequirementRequired, requireRK: protocol.ResidentKeyRequired(),
		uv: protocol.UserVerificationRequirement(p.UserVerification),
	}
	if sf := cfg.SecondFactor; sf != nil {
		if kinds, err = sf.kinds(); err != nil {
			return nil, fmt.Errorf("new passkey relying party: %w", err)
		}
		p.Enabled = true
		p.AuthenticatorAttachment = AttachmentCrossPlatform
	}
	rpID := p.RPID
	if rpID == "" {
		rpID = strings.ToLower(iss.Hostname())
	}
	if err := protocol.ValidateRPID(rpID); err != nil {
		return nil, fmt.Errorf("new passkey relying party: rp_id %q: %w", rpID, err)
	}
	origins := p.RPOrigins
	if len(origins) == 0 {
		origins = []string{iss.Scheme + "://" + iss.Host}
	}
	for _, o := range origins {
		host, err := originHost(o)
		if err != nil {
			return nil, fmt.Errorf("new passkey relying party: %w", err)
		}
		if !hostWithin(host, rpID) {
			return nil, fmt.Errorf("new passkey relying party: origin %q is not within rp_id %q", o, rpID)
		}
	}
	name := cfg.RPDisplayName
	if name == "" {
		name = rpID
	}
	attachment := protocol.AuthenticatorAttachment(p.AuthenticatorAttachment)
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  rpID,
		RPDisplayName:         name,
		RPOrigins:             origins,
		AttestationPreference: protocol.ConveyancePreference(p.Attestation),
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			AuthenticatorAttachment: attachment,
			RequireResidentKey:      kinds.requireRK,
			ResidentKey:             kinds.residentKey,
			UserVerification:        kinds.uv,
		},
		// Clients and password managers add extension outputs nobody asked
		// for (WebAuthn L3 §9: the RP ignores what it does not understand).
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
		Timeouts: webauthn.TimeoutsConfig{
			// Expiry is enforced by this package with its own clock.
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("new passkey relying party: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &RelyingParty{
		policy:       p,
		connectionID: cfg.ConnectionID,
		rpID:         rpID,
		origins:      origins,
		store:        cfg.Store,
		logger:       logger,
		now:          now,
		wa:           wa,

		secondFactor:  cfg.SecondFactor != nil,
		credKind:      kinds.credKind,
		methodKind:    kinds.methodKind,
		regKind:       kinds.regKind,
		loginKind:     kinds.loginKind,
		residentKey:   kinds.residentKey,
		requireRK:     kinds.requireRK,
		uvRequirement: kinds.uv,
	}, nil
}

// rpKinds is what differs between a passkey and a second-factor relying
// party.
type rpKinds struct {
	credKind           storage.CredentialKind
	methodKind         connector.MethodKind
	regKind, loginKind string
	residentKey        protocol.ResidentKeyRequirement
	requireRK          *bool
	uv                 protocol.UserVerificationRequirement
}

// kinds validates sf and returns its settings.
func (sf *SecondFactor) kinds() (rpKinds, error) {
	if sf.CredentialKind == "" || sf.CredentialKind == storage.CredentialWebAuthn {
		return rpKinds{}, fmt.Errorf("second factor: credential kind %q must be set and differ from %q", sf.CredentialKind, storage.CredentialWebAuthn)
	}
	k := rpKinds{
		credKind: sf.CredentialKind, methodKind: sf.MethodKind,
		regKind: KindSecondFactorRegistration, loginKind: KindSecondFactorLogin,
		residentKey: protocol.ResidentKeyRequirementDiscouraged, requireRK: protocol.ResidentKeyNotRequired(),
		uv: protocol.VerificationDiscouraged,
	}
	if k.methodKind == "" {
		k.methodKind = connector.MethodSecurityKey
	}
	switch sf.UserVerification {
	case "", UserVerificationDiscouraged:
	case UserVerificationPreferred:
		k.uv = protocol.VerificationPreferred
	default:
		return rpKinds{}, fmt.Errorf("second factor: user_verification %q is not one of preferred, discouraged", sf.UserVerification)
	}
	return k, nil
}

// SecondFactorMode reports whether the relying party serves security keys
// as a second factor (Config.SecondFactor) rather than passkeys.
func (rp *RelyingParty) SecondFactorMode() bool { return rp.secondFactor }

// CredentialKind is the storage kind of the relying party's credentials.
func (rp *RelyingParty) CredentialKind() storage.CredentialKind { return rp.credKind }

// Policy returns the relying party's policy.
func (rp *RelyingParty) Policy() Policy { return rp.policy }

// RPID returns the relying party ID in use.
func (rp *RelyingParty) RPID() string { return rp.rpID }

// Origins returns the allowed origins in use.
func (rp *RelyingParty) Origins() []string { return append([]string(nil), rp.origins...) }

// Ceremony is a begun ceremony, as the JSON API returns it.
type Ceremony struct {
	// ID names the ceremony to the matching Finish call.
	ID string `json:"ceremony_id"`
	// PublicKey is PublicKeyCredentialCreationOptionsJSON (registration,
	// WebAuthn L3 §5.1.8) or PublicKeyCredentialRequestOptionsJSON (login,
	// §5.1.9), ready for parseCreationOptionsFromJSON /
	// parseRequestOptionsFromJSON.
	PublicKey json.RawMessage `json:"publicKey"`
	// ExpiresAt is when the ceremony can no longer be finished.
	ExpiresAt time.Time `json:"expires_at"`
}

// Hint steers the browser's choice of authenticator (WebAuthn L3 §5.8.7,
// PublicKeyCredentialHint).
type Hint string

// Hints.
const (
	// HintNone lets the browser choose.
	HintNone Hint = ""
	// HintClientDevice: this device's platform authenticator ("Continue").
	HintClientDevice Hint = "client-device"
	// HintHybrid: another device, a phone over the hybrid transport ("Try
	// another way").
	HintHybrid Hint = "hybrid"
	// HintSecurityKey: a roaming security key.
	HintSecurityKey Hint = "security-key"
)

func (h Hint) protocol() ([]protocol.PublicKeyCredentialHints, error) {
	switch h {
	case HintNone:
		return nil, nil
	case HintClientDevice, HintHybrid, HintSecurityKey:
		return []protocol.PublicKeyCredentialHints{protocol.PublicKeyCredentialHints(h)}, nil
	default:
		return nil, fmt.Errorf("hint %q is not one of client-device, hybrid, security-key", string(h))
	}
}

// purpose says what a ceremony is for.
type purpose string

const (
	purposeRegister purpose = "register" // a passkey for an existing user
	purposeSignup   purpose = "signup"   // a new user with a passkey
	purposeLogin    purpose = "login"    // email-first login (user known)
	purposeDiscover purpose = "discover" // discoverable login (user unknown)
)

// ceremonyState is what a ceremony keeps in storage.Challenge.Data: the
// complete go-webauthn SessionData (challenge, RP ID, requested algorithms,
// user handle, UV requirement, allowed credentials, extensions) plus ours.
type ceremonyState struct {
	Version   int                  `json:"v"`
	Purpose   purpose              `json:"purpose"`
	Session   webauthn.SessionData `json:"session"`
	UserID    string               `json:"user_id,omitempty"`
	Signup    *signupDraft         `json:"signup,omitempty"`
	UserAgent string               `json:"user_agent,omitempty"`
	ExpiresAt time.Time            `json:"expires_at"`
}

// signupDraft is the account a sign-up ceremony creates once its passkey is
// verified.
type signupDraft struct {
	UserID     string `json:"user_id"`
	Email      string `json:"email"`
	Username   string `json:"username,omitempty"`
	Name       string `json:"name,omitempty"`
	GivenName  string `json:"given_name,omitempty"`
	FamilyName string `json:"family_name,omitempty"`
	Locale     string `json:"locale,omitempty"`
}

// saveCeremony stores state under kind and returns the ceremony.
func (rp *RelyingParty) saveCeremony(ctx context.Context, kind string, st ceremonyState, options any) (Ceremony, error) {
	now := rp.now().UTC()
	st.Version = 1
	st.ExpiresAt = now.Add(CeremonyTTL)
	data, err := json.Marshal(st)
	if err != nil {
		return Ceremony{}, fmt.Errorf("encode ceremony state: %w", err)
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return Ceremony{}, fmt.Errorf("encode ceremony options: %w", err)
	}
	ch, err := rp.store.CreateChallenge(ctx, storage.Challenge{
		Kind: kind, UserID: st.UserID, Data: data, CreatedAt: now, ExpiresAt: st.ExpiresAt,
	})
	if err != nil {
		return Ceremony{}, fmt.Errorf("store ceremony: %w", err)
	}
	return Ceremony{ID: ch.ID, PublicKey: opts, ExpiresAt: st.ExpiresAt}, nil
}

// consumeCeremony takes the ceremony out of the store (single use: a replay,
// a concurrent second finish, an expired or unknown ID and a ceremony of the
// other kind all give ErrCeremonyNotFound).
func (rp *RelyingParty) consumeCeremony(ctx context.Context, kind, id string) (ceremonyState, error) {
	if id == "" || len(id) > 128 {
		return ceremonyState{}, ErrCeremonyNotFound
	}
	ch, err := rp.store.ConsumeChallenge(ctx, kind, id)
	if errors.Is(err, storage.ErrNotFound) {
		return ceremonyState{}, ErrCeremonyNotFound
	}
	if err != nil {
		return ceremonyState{}, fmt.Errorf("consume ceremony: %w", err)
	}
	var st ceremonyState
	if err := json.Unmarshal(ch.Data, &st); err != nil || st.Version != 1 {
		return ceremonyState{}, fmt.Errorf("%w: unreadable ceremony state", ErrCeremonyNotFound)
	}
	if !rp.now().Before(st.ExpiresAt) {
		return ceremonyState{}, fmt.Errorf("%w: the ceremony expired at %s", ErrCeremonyNotFound, st.ExpiresAt.Format(time.RFC3339))
	}
	return st, nil
}

// readCeremony reads the ceremony without consuming it (an unknown ID or a
// ceremony of the other kind gives ErrCeremonyNotFound) and returns its
// state and stored data; the caller consumes it (ConsumeChallenge, with
// the data compared) in its write transaction, or burnCeremony on failure.
func (rp *RelyingParty) readCeremony(ctx context.Context, kind, id string) (ceremonyState, []byte, error) {
	if id == "" || len(id) > 128 {
		return ceremonyState{}, nil, ErrCeremonyNotFound
	}
	ch, err := rp.store.GetChallenge(ctx, kind, id)
	if errors.Is(err, storage.ErrNotFound) {
		return ceremonyState{}, nil, ErrCeremonyNotFound
	}
	if err != nil {
		return ceremonyState{}, nil, fmt.Errorf("read ceremony: %w", err)
	}
	var st ceremonyState
	if err := json.Unmarshal(ch.Data, &st); err != nil {
		st = ceremonyState{}
	}
	return st, ch.Data, nil
}

// check refuses an unreadable or expired ceremony state.
func (st ceremonyState) check(now time.Time) error {
	if st.Version != 1 {
		return fmt.Errorf("%w: unreadable ceremony state", ErrCeremonyNotFound)
	}
	if !now.Before(st.ExpiresAt) {
		return fmt.Errorf("%w: the ceremony expired at %s", ErrCeremonyNotFound, st.ExpiresAt.Format(time.RFC3339))
	}
	return nil
}

// burnCeremony consumes a ceremony whose finish failed, so that it cannot
// be tried again; one already consumed is fine.
func (rp *RelyingParty) burnCeremony(ctx context.Context, kind, id string) {
	ctx = context.WithoutCancel(ctx)
	if _, err := rp.store.ConsumeChallenge(ctx, kind, id); err != nil && !errors.Is(err, storage.ErrNotFound) {
		rp.logger.WarnContext(ctx, "consume failed passkey ceremony", "error", err)
	}
}

// waUser is a user as go-webauthn sees it (WebAuthn L3 §5.4.3: the user
// handle is the Latchkey user ID, opaque and without personal data).
type waUser struct {
	id          []byte
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return u.id }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// displayName is what authenticators show for a user.
func displayName(u storage.User) string {
	if u.Name != "" {
		return u.Name
	}
	return userName(u)
}

// userName is the account identifier shown by authenticators.
func userName(u storage.User) string {
	if u.Email != "" {
		return u.Email
	}
	if u.Username != "" {
		return u.Username
	}
	return u.ID
}

// webauthnCredentials converts the user's stored WebAuthn credentials.
// Unreadable ones are skipped (and logged): they cannot be used anyway.
func (rp *RelyingParty) webauthnCredentials(ctx context.Context, creds []storage.Credential) []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(creds))
	for _, c := range creds {
		wc, err := toWebAuthn(c)
		if err != nil {
			rp.logger.ErrorContext(ctx, "stored passkey is unreadable", "credential_id", c.ID, "user_id", c.UserID, "error", err)
			continue
		}
		out = append(out, wc)
	}
	return out
}
