package provider

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/latchkey/latchkey/storage"
)

// Signing algorithms. A generation holds one key of each.
const (
	algRS256 = "RS256"
	algES256 = "ES256"

	// keyRetentionMargin is added to the longest token lifespan to decide
	// how long a retired key stays in the JWKS (clock skew, caches).
	keyRetentionMargin = 10 * time.Minute
	// sealVersion prefixes an encrypted private key.
	sealVersion = 1
)

// signingAlgs lists the algorithms of a generation, in a stable order.
func signingAlgs() []string { return []string{algRS256, algES256} }

// signingKey is one key pair in memory.
type signingKey struct {
	id         string
	alg        string
	generation int
	created    time.Time
	retired    time.Time
	private    crypto.Signer // nil for a retired key that could not be decrypted
	public     crypto.PublicKey
	jwk        jose.JSONWebKey // public
}

// keySet is an immutable snapshot of the keys, swapped atomically.
type keySet struct {
	keys []*signingKey // newest generation first
	byID map[string]*signingKey
	jwks []byte
}

// KeyInfo describes a signing key for operators.
type KeyInfo struct {
	KID        string
	Algorithm  string
	Generation int
	CreatedAt  time.Time
	// RetiredAt is zero for keys of the newest generation. It may lie in the
	// future when Config.KeyActivationDelay is set.
	RetiredAt time.Time
	// Active is true for the key that signs new tokens of its algorithm.
	Active bool
	// Published is true while the key is in the JWKS.
	Published bool
}

// IDTokenHint is what VerifyIDTokenHint returns from a verified ID token.
type IDTokenHint struct {
	Subject   string
	Audience  []string
	SessionID string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// keyRetention is how long a retired key keeps verifying.
func (p *Provider) keyRetention() time.Duration {
	return max(p.cfg.IDTokenLifespan, p.cfg.AccessTokenLifespan) + keyRetentionMargin
}

// published reports whether k is still in its verification window at now.
func (p *Provider) published(k *signingKey, now time.Time) bool {
	return k.retired.IsZero() || now.Before(k.retired.Add(p.keyRetention()))
}

// initKeys loads the keys, creating generation 1 when there are none.
func (p *Provider) initKeys(ctx context.Context) error {
	stored, err := p.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	if len(stored) == 0 {
		var privs map[string]crypto.Signer
		if p.cfg.InitialKeys != nil {
			if privs, err = p.cfg.InitialKeys.wait(ctx); err != nil {
				return err
			}
		}
		keys, err := p.generateKeys(1, privs)
		if err != nil {
			return err
		}
		err = p.store.CreateSigningKeys(ctx, keys, time.Time{})
		switch {
		case errors.Is(err, storage.ErrAlreadyExists):
			p.log.InfoContext(ctx, "signing keys were created by another replica")
		case err != nil:
			return fmt.Errorf("create signing keys: %w", err)
		default:
			p.log.InfoContext(ctx, "created signing keys", "generation", 1)
		}
	}
	return p.ReloadKeys(ctx)
}

// ReloadKeys re-reads the keys from the store, so that replicas pick up a
// rotation, and rebuilds the JWKS. Keys retired past their verification
// window are dropped from the store. Call it periodically.
func (p *Provider) ReloadKeys(ctx context.Context) error {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	return p.reloadKeysLocked(ctx)
}

func (p *Provider) reloadKeysLocked(ctx context.Context) error {
	stored, err := p.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reload signing keys: %w", err)
	}
	now := time.Now()
	set := &keySet{byID: map[string]*signingKey{}}
	prune := false
	for _, sk := range stored {
		k, err := p.loadKey(sk)
		if err != nil {
			return fmt.Errorf("reload signing keys: %w", err)
		}
		if !p.published(k, now) {
			prune = true
			continue
		}
		set.keys = append(set.keys, k)
		set.byID[k.id] = k
	}
	for _, alg := range signingAlgs() {
		if set.signingKey(alg, now, p.cfg.KeyActivationDelay) == nil {
			return fmt.Errorf("reload signing keys: no usable %s key", alg)
		}
	}
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(set.keys))}
	for _, k := range set.keys {
		jwks.Keys = append(jwks.Keys, k.jwk)
	}
	if set.jwks, err = json.Marshal(jwks); err != nil {
		return fmt.Errorf("reload signing keys: encode jwks: %w", err)
	}
	p.keys.Store(set)
	if prune {
		n, err := p.store.DeleteSigningKeysRetiredBefore(ctx, now.Add(-p.keyRetention()))
		if err != nil {
			p.log.WarnContext(ctx, "prune retired signing keys", "error", err)
		} else if n > 0 {
			p.log.InfoContext(ctx, "pruned retired signing keys", "count", n)
		}
	}
	return nil
}

// RotateKeys creates a new key generation. The previous generation retires
// (after Config.KeyActivationDelay) and stays in the JWKS until
// max(IDTokenLifespan, AccessTokenLifespan) plus a margin after retirement.
// If another replica rotated at the same moment, its generation wins and
// RotateKeys just reloads.
func (p *Provider) RotateKeys(ctx context.Context) error {
	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	stored, err := p.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	gen := 0
	for _, k := range stored {
		gen = max(gen, k.Generation)
	}
	keys, err := p.generateKeys(gen+1, nil)
	if err != nil {
		return fmt.Errorf("rotate signing keys: %w", err)
	}
	retiredAt := time.Now().Add(p.cfg.KeyActivationDelay)
	err = p.store.CreateSigningKeys(ctx, keys, retiredAt)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		p.log.InfoContext(ctx, "signing keys were rotated by another replica", "generation", gen+1)
	case err != nil:
		return fmt.Errorf("rotate signing keys: %w", err)
	default:
		p.log.InfoContext(ctx, "rotated signing keys", "generation", gen+1)
	}
	return p.reloadKeysLocked(ctx)
}

// ListKeys describes the stored keys, newest generation first.
func (p *Provider) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	stored, err := p.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	now := time.Now()
	set := p.keys.Load()
	active := map[string]bool{}
	for _, alg := range signingAlgs() {
		if k := set.signingKey(alg, now, p.cfg.KeyActivationDelay); k != nil {
			active[k.id] = true
		}
	}
	out := make([]KeyInfo, 0, len(stored))
	for _, k := range stored {
		out = append(out, KeyInfo{
			KID:        k.ID,
			Algorithm:  k.Algorithm,
			Generation: k.Generation,
			CreatedAt:  k.CreatedAt,
			RetiredAt:  k.RetiredAt,
			Active:     active[k.ID],
			Published:  k.RetiredAt.IsZero() || now.Before(k.RetiredAt.Add(p.keyRetention())),
		})
	}
	return out, nil
}

// signingKey returns the key that signs new tokens of alg at now: the newest
// generation whose activation delay has passed, or the oldest one present.
func (s *keySet) signingKey(alg string, now time.Time, delay time.Duration) *signingKey {
	var cands []*signingKey
	for _, k := range s.keys {
		if k.alg == alg && k.private != nil {
			cands = append(cands, k)
		}
	}
	for i, k := range cands {
		if i == len(cands)-1 || !now.Before(k.created.Add(delay)) {
			return k
		}
	}
	return nil
}

// currentKey returns this replica's signing key for alg.
func (p *Provider) currentKey(alg string) (*signingKey, error) {
	k := p.keys.Load().signingKey(alg, time.Now(), p.cfg.KeyActivationDelay)
	if k == nil {
		return nil, fmt.Errorf("no signing key for %s", alg)
	}
	return k, nil
}

// verificationKey returns the published key with that kid.
func (p *Provider) verificationKey(kid string) (*signingKey, error) {
	k, ok := p.keys.Load().byID[kid]
	if !ok || !p.published(k, time.Now()) {
		return nil, fmt.Errorf("unknown signing key %q", kid)
	}
	return k, nil
}

// KeyGeneration is one generation of private signing keys being generated
// in the background; see StartKeyGeneration.
type KeyGeneration struct {
	done chan struct{}
	keys map[string]crypto.Signer // by algorithm
	err  error
}

// StartKeyGeneration starts generating the private keys of one generation
// (RSA-2048 and P-256, concurrently) and returns at once. RSA-2048
// generation takes 50–650 ms on a 2-core machine, most of a fresh install's
// start-up: start it before opening and migrating an empty database and pass
// it as Config.InitialKeys, so the two overlap. New uses the keys only when
// the store holds none; otherwise they are dropped.
func StartKeyGeneration() *KeyGeneration {
	g := &KeyGeneration{done: make(chan struct{})}
	go func() {
		defer close(g.done)
		g.keys, g.err = newPrivateKeys()
	}()
	return g
}

// wait returns the keys once generated, or ctx's error.
func (g *KeyGeneration) wait(ctx context.Context) (map[string]crypto.Signer, error) {
	select {
	case <-g.done:
		return g.keys, g.err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for key generation: %w", ctx.Err())
	}
}

// newPrivateKeys generates one private key per signing algorithm, the slow
// RSA key concurrently with the others.
func newPrivateKeys() (map[string]crypto.Signer, error) {
	type result struct {
		key *rsa.PrivateKey
		err error
	}
	rsaDone := make(chan result, 1)
	go func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		rsaDone <- result{k, err}
	}()
	ec, ecErr := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := <-rsaDone
	if r.err != nil {
		return nil, fmt.Errorf("generate %s key: %w", algRS256, r.err)
	}
	if ecErr != nil {
		return nil, fmt.Errorf("generate %s key: %w", algES256, ecErr)
	}
	return map[string]crypto.Signer{algRS256: r.key, algES256: ec}, nil
}

// generateKeys creates one generation of keys, sealed for storage, from
// privs (one per signing algorithm) or, when privs is nil, new keys.
func (p *Provider) generateKeys(gen int, privs map[string]crypto.Signer) ([]storage.SigningKey, error) {
	if privs == nil {
		var err error
		if privs, err = newPrivateKeys(); err != nil {
			return nil, err
		}
	}
	now := time.Now().UTC()
	out := make([]storage.SigningKey, 0, 2)
	for _, alg := range signingAlgs() {
		priv := privs[alg]
		if priv == nil {
			return nil, fmt.Errorf("generate keys: no %s key", alg)
		}
		jwk := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
		tp, err := jwk.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("thumbprint %s key: %w", alg, err)
		}
		jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
		pub, err := json.Marshal(jwk)
		if err != nil {
			return nil, fmt.Errorf("encode %s key: %w", alg, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("encode %s private key: %w", alg, err)
		}
		sealed, err := p.seal(jwk.KeyID, der)
		if err != nil {
			return nil, err
		}
		out = append(out, storage.SigningKey{
			ID: jwk.KeyID, Generation: gen, Algorithm: alg,
			PublicJWK: pub, PrivateEncrypted: sealed, CreatedAt: now,
		})
	}
	return out, nil
}

// loadKey decodes a stored key. A key still able to sign must decrypt; a
// retired one that does not (another secret) only verifies.
func (p *Provider) loadKey(sk storage.SigningKey) (*signingKey, error) {
	k := &signingKey{id: sk.ID, alg: sk.Algorithm, generation: sk.Generation, created: sk.CreatedAt, retired: sk.RetiredAt}
	if err := k.jwk.UnmarshalJSON(sk.PublicJWK); err != nil {
		return nil, fmt.Errorf("decode public key %s: %w", sk.ID, err)
	}
	if !k.jwk.IsPublic() || k.jwk.KeyID != sk.ID || k.jwk.Algorithm != sk.Algorithm {
		return nil, fmt.Errorf("decode public key %s: kid, algorithm or key type mismatch", sk.ID)
	}
	k.public = k.jwk.Key
	if err := checkKeyType(sk.Algorithm, k.public); err != nil {
		return nil, fmt.Errorf("decode public key %s: %w", sk.ID, err)
	}
	priv, err := p.openPrivate(sk, k.public)
	if err != nil {
		if !sk.RetiredAt.IsZero() {
			p.log.Warn("retired signing key cannot be decrypted; it only verifies", "kid", sk.ID, "error", err)
			return k, nil
		}
		return nil, err
	}
	k.private = priv
	return k, nil
}

func (p *Provider) openPrivate(sk storage.SigningKey, public crypto.PublicKey) (crypto.Signer, error) {
	der, err := p.open(sk.ID, sk.PrivateEncrypted)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("decode private key %s: %w", sk.ID, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("decode private key %s: not a signer", sk.ID)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(public) {
		return nil, fmt.Errorf("decode private key %s: does not match the public key", sk.ID)
	}
	return signer, nil
}

// checkKeyType tells whether pub suits alg.
func checkKeyType(alg string, pub crypto.PublicKey) error {
	switch alg {
	case algRS256:
		if k, ok := pub.(*rsa.PublicKey); ok && k.N.BitLen() >= 2048 {
			return nil
		}
	case algES256:
		if k, ok := pub.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P256() {
			return nil
		}
	}
	return fmt.Errorf("key type does not suit %s", alg)
}

// seal encrypts a private key with AES-256-GCM under the key-encryption key,
// bound to its kid: version byte, nonce, ciphertext.
func (p *Provider) seal(kid string, plain []byte) ([]byte, error) {
	aead, err := p.aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("seal private key: %w", err)
	}
	return aead.Seal(out, out[1:], plain, []byte(kid)), nil
}

// open reverses seal.
func (p *Provider) open(kid string, sealed []byte) ([]byte, error) {
	aead, err := p.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion {
		return nil, fmt.Errorf("decrypt private key %s: malformed", kid)
	}
	nonce := sealed[1 : 1+aead.NonceSize()]
	plain, err := aead.Open(nil, nonce, sealed[1+aead.NonceSize():], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("decrypt private key %s (is the secret the one it was created with?): %w", kid, err)
	}
	return plain, nil
}

func (p *Provider) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(p.kek)
	if err != nil {
		return nil, fmt.Errorf("key encryption: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("key encryption: %w", err)
	}
	return aead, nil
}

// VerifyIDTokenHint verifies an ID token this provider issued, for
// id_token_hint at the authorization and logout endpoints: the signature
// against our current or retired keys and the issuer. Expiry is not
// required (an expired ID token is a valid hint).
func (p *Provider) VerifyIDTokenHint(_ context.Context, raw string) (IDTokenHint, error) {
	tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		return IDTokenHint{}, fmt.Errorf("verify id token hint: %w", err)
	}
	if len(tok.Headers) != 1 {
		return IDTokenHint{}, errors.New("verify id token hint: exactly one signature expected")
	}
	h := tok.Headers[0]
	k, err := p.verificationKey(h.KeyID)
	if err != nil {
		return IDTokenHint{}, fmt.Errorf("verify id token hint: %w", err)
	}
	if h.Algorithm != k.alg {
		return IDTokenHint{}, fmt.Errorf("verify id token hint: algorithm %s does not match key %s", h.Algorithm, k.id)
	}
	var c struct {
		josejwt.Claims
		SID string `json:"sid"`
	}
	if err := tok.Claims(k.public, &c); err != nil {
		return IDTokenHint{}, fmt.Errorf("verify id token hint: %w", err)
	}
	if c.Issuer != p.cfg.Issuer {
		return IDTokenHint{}, errors.New("verify id token hint: issuer mismatch")
	}
	if c.Subject == "" {
		return IDTokenHint{}, errors.New("verify id token hint: no subject")
	}
	out := IDTokenHint{Subject: c.Subject, Audience: []string(c.Audience), SessionID: c.SID}
	if c.IssuedAt != nil {
		out.IssuedAt = c.IssuedAt.Time()
	}
	if c.Expiry != nil {
		out.ExpiresAt = c.Expiry.Time()
	}
	return out, nil
}

// jwtSigner is fosite's jwt.Signer over our keys: Generate signs with this
// replica's current key of alg and sets the kid header; Decode and Validate
// verify with whichever published key the token's kid names.
type jwtSigner struct {
	p   *Provider
	alg string
}

var _ fjwt.Signer = (*jwtSigner)(nil)

// Generate implements jwt.Signer.
func (s *jwtSigner) Generate(_ context.Context, claims fjwt.MapClaims, header fjwt.Mapper) (string, string, error) {
	if claims == nil {
		return "", "", errors.New("sign jwt: nil claims")
	}
	k, err := s.p.currentKey(s.alg)
	if err != nil {
		return "", "", fmt.Errorf("sign jwt: %w", err)
	}
	tok := fjwt.NewWithClaims(josev3.SignatureAlgorithm(k.alg), claims)
	if header != nil {
		for name, v := range header.ToMap() {
			tok.Header[name] = v
		}
	}
	tok.Header["kid"] = k.id
	raw, err := tok.SignedString(k.private)
	if err != nil {
		return "", "", fmt.Errorf("sign jwt: %w", err)
	}
	return raw, raw[strings.LastIndexByte(raw, '.')+1:], nil
}

// Validate implements jwt.Signer.
func (s *jwtSigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Decode implements jwt.Signer. Like fosite's, it returns the token with a
// *jwt.ValidationError when only the claims (such as exp) fail.
func (s *jwtSigner) Decode(_ context.Context, token string) (*fjwt.Token, error) {
	return fjwt.ParseWithClaims(token, fjwt.MapClaims{}, func(t *fjwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, err := s.p.verificationKey(kid)
		if err != nil {
			return nil, err
		}
		if string(t.Method) != k.alg {
			return nil, fmt.Errorf("algorithm %s does not match key %s", t.Method, k.id)
		}
		return k.public, nil
	})
}

// GetSignature implements jwt.Signer.
func (s *jwtSigner) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("header, body and signature must all be set")
	}
	return parts[2], nil
}

// Hash implements jwt.Signer.
func (s *jwtSigner) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSigningMethodLength implements jwt.Signer.
func (s *jwtSigner) GetSigningMethodLength(context.Context) int { return sha256.Size }

// idTokenStrategy signs each ID token with the key of the client's
// IDTokenSigningAlg (RS256 by default), around fosite's own claim logic.
type idTokenStrategy struct {
	p *Provider
}

var _ openid.OpenIDConnectTokenStrategy = (*idTokenStrategy)(nil)

// GenerateIDToken implements openid.OpenIDConnectTokenStrategy.
func (s *idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, requester fosite.Requester) (string, error) {
	alg := algRS256
	if c, ok := requester.GetClient().(*Client); ok {
		alg = c.idTokenAlg
	}
	signer, ok := s.p.signers[alg]
	if !ok {
		return "", fosite.ErrServerError.WithDebugf("unsupported id token signing algorithm %q", alg)
	}
	inner := openid.DefaultStrategy{Signer: signer, Config: s.p.fcfg}
	return inner.GenerateIDToken(ctx, lifespan, requester)
}
