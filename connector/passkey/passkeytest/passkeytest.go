// Package passkeytest is a software WebAuthn authenticator and client for
// tests and benchmarks: it reads the options JSON a relying party hands the
// browser (WebAuthn L3 §5.1.8, §5.1.9) and answers with the JSON of
// PublicKeyCredential.toJSON() (§5.1.10, §5.1.11), as Chromium does.
//
// Credentials are ES256 (P-256) keys. Registration responses carry a "none"
// or a "packed" self attestation (§8.2, §8.7); authenticator data is built
// per §6.1 (RP ID hash, flags, signature counter, attested credential data
// with AAGUID, credential ID and COSE key). Every field can be overridden
// through Tamper to build hostile responses.
//
// It imports the standard library and github.com/fxamacker/cbor/v2 only, so
// tests see exactly the bytes a browser would send.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator data flags (WebAuthn L3 §6.1).
const (
	FlagUP byte = 0x01 // user present
	FlagUV byte = 0x04 // user verified
	FlagBE byte = 0x08 // backup eligible
	FlagBS byte = 0x10 // backup state
	FlagAT byte = 0x40 // attested credential data included
	FlagED byte = 0x80 // extension data included
)

// AAGUIDZero is reported by authenticators that do not identify themselves.
func AAGUIDZero() [16]byte { return [16]byte{} }

// AAGUIDChromeVirtual is what Chromium's virtual "internal" authenticator
// reports: 01020304-0506-0708-0102-030405060708.
func AAGUIDChromeVirtual() [16]byte {
	return [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8}
}

// ParseAAGUID parses an AAGUID in 8-4-4-4-12 form.
func ParseAAGUID(s string) ([16]byte, error) {
	var out [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return out, fmt.Errorf("parse AAGUID %q: not 8-4-4-4-12", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	if _, err := hex.Decode(out[:], []byte(h)); err != nil {
		return [16]byte{}, fmt.Errorf("parse AAGUID %q: %w", s, err)
	}
	return out, nil
}

// Authenticator is a software authenticator with its client (the browser
// part: clientDataJSON, origin). The zero value is not usable; use New.
// It is safe for concurrent use.
type Authenticator struct {
	// Origin is the web origin the "browser" reports in clientDataJSON.
	Origin string
	// AAGUID identifies the authenticator model.
	AAGUID [16]byte
	// BackupEligible and BackupState set the BE and BS flags: true/true is
	// a synced passkey, false/false a device-bound one.
	BackupEligible, BackupState bool
	// UserVerified sets the UV flag (a PIN or biometric was checked).
	UserVerified bool
	// Attestation is "none" (default) or "packed" (self attestation).
	Attestation string
	// Attachment is reported as authenticatorAttachment ("platform",
	// "cross-platform" or "").
	Attachment string
	// Transports are reported at registration (default ["internal"]).
	Transports []string
	// CounterStep is added to a credential's signature counter on each
	// assertion; 0 keeps the counter at zero (as synced passkeys do).
	CounterStep uint32

	mu    sync.Mutex
	creds map[string]*Credential
}

// New returns a platform authenticator for origin that verifies the user,
// with a synced (BE=1, BS=1) passkey profile, "none" attestation and a
// counter that increases by one.
func New(origin string) *Authenticator {
	return &Authenticator{
		Origin: origin, UserVerified: true, BackupEligible: true, BackupState: true,
		Attestation: "none", Attachment: "platform", Transports: []string{"internal", "hybrid"},
		CounterStep: 1, AAGUID: AAGUIDChromeVirtual(),
	}
}

// Credential is a credential the authenticator holds.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	// SignCount is the counter the next assertion starts from.
	SignCount uint32
}

// Tamper overrides parts of a response to make it hostile. Zero fields
// change nothing.
type Tamper struct {
	// Type replaces clientDataJSON.type.
	Type string
	// Challenge replaces the challenge (raw bytes, base64url-encoded here).
	Challenge []byte
	// Origin replaces the origin.
	Origin string
	// RPID replaces the RP ID whose SHA-256 starts the authenticator data.
	RPID string
	// SetFlags and ClearFlags are or-ed into / cleared from the flags after
	// they are computed.
	SetFlags, ClearFlags byte
	// SignCount, when not nil, is the counter to report.
	SignCount *uint32
	// UserHandle, when not nil, replaces response.userHandle (an empty
	// slice omits it).
	UserHandle []byte
	// CorruptSignature flips a bit of the signature.
	CorruptSignature bool
	// Credential, for a registration, re-registers this existing credential
	// (ID and key) instead of making a new one; for an assertion, uses it.
	Credential *Credential
	// Attachment, when not "", replaces authenticatorAttachment.
	Attachment string
}

var b64 = base64.RawURLEncoding

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON the
// authenticator reads.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	PubKeyCredParams []struct {
		Alg int `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the
// authenticator reads.
type requestOptions struct {
	Challenge        string `json:"challenge"`
	RPID             string `json:"rpId"`
	AllowCredentials []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// ErrExcluded is returned by Create when the authenticator already holds an
// excluded credential (the browser's InvalidStateError).
var ErrExcluded = errors.New("passkeytest: the authenticator holds an excluded credential")

// ErrNoCredential is returned by Get when no credential matches.
var ErrNoCredential = errors.New("passkeytest: no matching credential")

// Create answers a registration: options is the publicKey options JSON. It
// returns the response JSON and the new credential (kept by the
// authenticator).
func (a *Authenticator) Create(options []byte, t Tamper) ([]byte, *Credential, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, nil, fmt.Errorf("passkeytest: parse creation options: %w", err)
	}
	challenge, err := b64.DecodeString(o.Challenge)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: challenge: %w", err)
	}
	userHandle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: user.id: %w", err)
	}
	es256 := false
	for _, p := range o.PubKeyCredParams {
		es256 = es256 || p.Alg == -7
	}
	if !es256 {
		return nil, nil, errors.New("passkeytest: the relying party does not accept ES256")
	}
	cred := t.Credential
	if cred == nil {
		a.mu.Lock()
		for _, ex := range o.ExcludeCredentials {
			if _, ok := a.creds[ex.ID]; ok {
				a.mu.Unlock()
				return nil, nil, ErrExcluded
			}
		}
		a.mu.Unlock()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("passkeytest: generate key: %w", err)
		}
		id := make([]byte, 32)
		if _, err := rand.Read(id); err != nil {
			return nil, nil, fmt.Errorf("passkeytest: credential ID: %w", err)
		}
		cred = &Credential{ID: id, RPID: o.RP.ID, UserHandle: userHandle, Key: key}
	}

	clientData, err := a.clientData("webauthn.create", challenge, t)
	if err != nil {
		return nil, nil, err
	}
	cose, err := coseKey(&cred.Key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	attested := make([]byte, 0, 18+len(cred.ID)+len(cose))
	attested = append(attested, a.AAGUID[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(cred.ID)))
	attested = append(attested, cred.ID...)
	attested = append(attested, cose...)
	rpID := o.RP.ID
	if t.RPID != "" {
		rpID = t.RPID
	}
	count := cred.SignCount
	if t.SignCount != nil {
		count = *t.SignCount
	}
	authData := a.authData(rpID, FlagAT, count, t)
	authData = append(authData, attested...)

	attStmt := map[string]any{}
	format := a.Attestation
	switch format {
	case "", "none":
		format = "none"
	case "packed":
		sig, err := sign(cred.Key, authData, clientData, t.CorruptSignature)
		if err != nil {
			return nil, nil, err
		}
		attStmt = map[string]any{"alg": -7, "sig": sig}
	default:
		return nil, nil, fmt.Errorf("passkeytest: attestation %q is not none or packed", format)
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: cbor: %w", err)
	}
	attObj, err := em.Marshal(map[string]any{"fmt": format, "attStmt": attStmt, "authData": authData})
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: encode attestation object: %w", err)
	}
	transports := a.Transports
	if transports == nil {
		transports = []string{"internal"}
	}
	resp := map[string]any{
		"id":                     b64.EncodeToString(cred.ID),
		"rawId":                  b64.EncodeToString(cred.ID),
		"type":                   "public-key",
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": true}},
		"response": map[string]any{
			"clientDataJSON":     b64.EncodeToString(clientData),
			"attestationObject":  b64.EncodeToString(attObj),
			"authenticatorData":  b64.EncodeToString(authData),
			"transports":         transports,
			"publicKeyAlgorithm": -7,
		},
	}
	if att := a.attachment(t); att != "" {
		resp["authenticatorAttachment"] = att
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeytest: encode response: %w", err)
	}
	if t.Credential == nil {
		a.mu.Lock()
		if a.creds == nil {
			a.creds = map[string]*Credential{}
		}
		a.creds[b64.EncodeToString(cred.ID)] = cred
		a.mu.Unlock()
	}
	return out, cred, nil
}

// Get answers an authentication: options is the publicKey options JSON. It
// uses t.Credential, else the first allowed credential it holds, else (a
// discoverable request) any credential it holds for the RP ID. The
// credential's counter advances by CounterStep.
func (a *Authenticator) Get(options []byte, t Tamper) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: parse request options: %w", err)
	}
	challenge, err := b64.DecodeString(o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("passkeytest: challenge: %w", err)
	}
	a.mu.Lock()
	cred := t.Credential
	if cred == nil {
		for _, al := range o.AllowCredentials {
			if c, ok := a.creds[al.ID]; ok {
				cred = c
				break
			}
		}
	}
	if cred == nil && len(o.AllowCredentials) == 0 {
		for _, c := range a.creds {
			if c.RPID == o.RPID {
				cred = c
				break
			}
		}
	}
	if cred == nil {
		a.mu.Unlock()
		return nil, ErrNoCredential
	}
	cred.SignCount += a.CounterStep
	count := cred.SignCount
	a.mu.Unlock()
	if t.SignCount != nil {
		count = *t.SignCount
	}
	clientData, err := a.clientData("webauthn.get", challenge, t)
	if err != nil {
		return nil, err
	}
	rpID := o.RPID
	if t.RPID != "" {
		rpID = t.RPID
	}
	authData := a.authData(rpID, 0, count, t)
	sig, err := sign(cred.Key, authData, clientData, t.CorruptSignature)
	if err != nil {
		return nil, err
	}
	response := map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
	}
	handle := cred.UserHandle
	if t.UserHandle != nil {
		handle = t.UserHandle
	}
	if len(handle) > 0 {
		response["userHandle"] = b64.EncodeToString(handle)
	}
	resp := map[string]any{
		"id":                     b64.EncodeToString(cred.ID),
		"rawId":                  b64.EncodeToString(cred.ID),
		"type":                   "public-key",
		"clientExtensionResults": map[string]any{},
		"response":               response,
	}
	if att := a.attachment(t); att != "" {
		resp["authenticatorAttachment"] = att
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("passkeytest: encode response: %w", err)
	}
	return out, nil
}

// Credentials returns the credentials the authenticator holds.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Credential, 0, len(a.creds))
	for _, c := range a.creds {
		out = append(out, c)
	}
	return out
}

// Add makes the authenticator hold c (e.g. a credential copied from another
// authenticator, as a cloned key would be).
func (a *Authenticator) Add(c *Credential) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.creds == nil {
		a.creds = map[string]*Credential{}
	}
	a.creds[b64.EncodeToString(c.ID)] = c
}

func (a *Authenticator) attachment(t Tamper) string {
	if t.Attachment != "" {
		return t.Attachment
	}
	return a.Attachment
}

// clientData builds clientDataJSON (WebAuthn L3 §5.8.1).
func (a *Authenticator) clientData(typ string, challenge []byte, t Tamper) ([]byte, error) {
	if t.Type != "" {
		typ = t.Type
	}
	if t.Challenge != nil {
		challenge = t.Challenge
	}
	origin := a.Origin
	if t.Origin != "" {
		origin = t.Origin
	}
	b, err := json.Marshal(map[string]any{
		"type": typ, "challenge": b64.EncodeToString(challenge), "origin": origin, "crossOrigin": false,
	})
	if err != nil {
		return nil, fmt.Errorf("passkeytest: encode client data: %w", err)
	}
	return b, nil
}

// authData builds the authenticator data header (WebAuthn L3 §6.1): RP ID
// hash, flags, counter.
func (a *Authenticator) authData(rpID string, extra byte, count uint32, t Tamper) []byte {
	h := sha256.Sum256([]byte(rpID))
	flags := FlagUP | extra
	if a.UserVerified {
		flags |= FlagUV
	}
	if a.BackupEligible {
		flags |= FlagBE
	}
	if a.BackupState {
		flags |= FlagBS
	}
	flags = (flags | t.SetFlags) &^ t.ClearFlags
	out := make([]byte, 0, 37)
	out = append(out, h[:]...)
	out = append(out, flags)
	return binary.BigEndian.AppendUint32(out, count)
}

// sign signs authData || SHA-256(clientData) with ES256 (ASN.1 DER), as
// assertions and packed self attestation do (WebAuthn L3 §6.3.3, §8.2).
func sign(key *ecdsa.PrivateKey, authData, clientData []byte, corrupt bool) ([]byte, error) {
	cdh := sha256.Sum256(clientData)
	msg := append(append([]byte{}, authData...), cdh[:]...)
	digest := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("passkeytest: sign: %w", err)
	}
	if corrupt {
		sig[len(sig)-1] ^= 0x01
	}
	return sig, nil
}

// coseKey encodes a P-256 public key as a COSE_Key (RFC 9053 §7.1.1; WebAuthn
// L3 §6.5.1.1): kty EC2, alg ES256, crv P-256, x, y.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, fmt.Errorf("passkeytest: public key: %w", err)
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, fmt.Errorf("passkeytest: cbor: %w", err)
	}
	b, err := em.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		return nil, fmt.Errorf("passkeytest: encode COSE key: %w", err)
	}
	return b, nil
}
