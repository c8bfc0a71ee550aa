package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/latchkey/latchkey/storage"
)

// Adapter implements fosite's storage interfaces over storage.Store.
//
// Every fosite request is stored as JSON in storage.OAuthToken.Data (see
// storedRequest). Two operations are conditional updates so that of
// concurrent callers exactly one wins: InvalidateAuthorizeCodeSession and
// RotateRefreshToken. The losers get fosite.ErrSerializationFailure
// wrapping storage.ErrConflict, which Provider.Token turns into
// invalid_grant. Reads never write and never open a transaction.
type Adapter struct {
	p     *Provider
	store storage.Store
}

// The fosite interfaces the Adapter implements.
var (
	_ fosite.Storage                     = (*Adapter)(nil)
	_ fosite.ClientManager               = (*Adapter)(nil)
	_ oauth2.CoreStorage                 = (*Adapter)(nil)
	_ oauth2.TokenRevocationStorage      = (*Adapter)(nil)
	_ openid.OpenIDConnectRequestStorage = (*Adapter)(nil)
	_ pkce.PKCERequestStorage            = (*Adapter)(nil)
	_ fositestorage.Transactional        = (*Adapter)(nil)
)

// storedRequest is the JSON form of a fosite request in storage.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"requested_scope,omitempty"`
	GrantedScope      []string        `json:"granted_scope,omitempty"`
	RequestedAudience []string        `json:"requested_audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form,omitempty"`
	Session           json.RawMessage `json:"session,omitempty"`
}

// secretFormKeys never reach storage, whatever fosite's sanitising lets
// through: credentials, verifiers and the tokens themselves.
func secretFormKeys() []string {
	return []string{"client_secret", "client_assertion", "code_verifier", "password", "code",
		"refresh_token", "access_token", "token", "assertion", "id_token_hint", "request"}
}

// encode serialises req for storage.
func encode(req fosite.Requester) ([]byte, error) {
	form := url.Values{}
	for k, v := range req.GetRequestForm() {
		form[k] = v
	}
	for _, k := range secretFormKeys() {
		delete(form, k)
	}
	sr := storedRequest{
		ID:                req.GetID(),
		RequestedAt:       req.GetRequestedAt(),
		RequestedScope:    req.GetRequestedScopes(),
		GrantedScope:      req.GetGrantedScopes(),
		RequestedAudience: req.GetRequestedAudience(),
		GrantedAudience:   req.GetGrantedAudience(),
		Form:              form,
	}
	if c := req.GetClient(); c != nil {
		sr.ClientID = c.GetID()
	}
	if s := req.GetSession(); s != nil {
		b, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("encode session: %w", err)
		}
		sr.Session = b
	}
	b, err := json.Marshal(sr)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// loadedRequest is storedRequest as decoded: the session is parsed in the
// same pass as the rest (no second scan of a json.RawMessage).
type loadedRequest struct {
	storedRequest
	Session *Session `json:"session,omitempty"`
}

// decode rebuilds a fosite request from storage, with a fresh *Session and
// the client from the cache. A deleted client makes the token unusable
// (fosite.ErrNotFound).
func (a *Adapter) decode(ctx context.Context, t storage.OAuthToken) (*fosite.Request, error) {
	var sr loadedRequest
	if err := json.Unmarshal(t.Data, &sr); err != nil {
		return nil, fmt.Errorf("decode %s: %w", t.Kind, err)
	}
	client, err := a.p.clients.get(ctx, sr.ClientID)
	if err != nil {
		return nil, fositeErr(err)
	}
	sess := sr.Session
	if sess == nil {
		sess = &Session{}
	}
	sess.ensure()
	req := fosite.NewRequest()
	req.ID = sr.ID
	req.RequestedAt = sr.RequestedAt
	req.Client = client
	req.RequestedScope = fosite.Arguments(sr.RequestedScope)
	req.GrantedScope = fosite.Arguments(sr.GrantedScope)
	req.RequestedAudience = fosite.Arguments(sr.RequestedAudience)
	req.GrantedAudience = fosite.Arguments(sr.GrantedAudience)
	if sr.Form != nil {
		req.Form = sr.Form
	}
	req.Session = sess
	return req, nil
}

// fositeType is the fosite token type whose expiry a stored kind carries.
func fositeType(kind storage.TokenKind) fosite.TokenType {
	switch kind {
	case storage.TokenAccess:
		return fosite.AccessToken
	case storage.TokenRefresh:
		return fosite.RefreshToken
	default:
		return fosite.AuthorizeCode
	}
}

// create stores req under (kind, signature). Within a deferred rotation
// (see rotationTx) it only records the token for the rotation's statement.
func (a *Adapter) create(ctx context.Context, kind storage.TokenKind, signature, accessSignature string, req fosite.Requester) error {
	rt := openRotation(ctx)
	if rt != nil && (rt.rotation == nil || (kind != storage.TokenAccess && kind != storage.TokenRefresh)) {
		return errOutsideRotation
	}
	var data []byte
	if rt != nil && rt.encodedReq == req {
		// fosite stores one request under the new access and refresh
		// tokens: encode it once.
		data = rt.encoded
	}
	t, err := a.newToken(kind, signature, accessSignature, req, data)
	if err != nil {
		return err
	}
	if rt != nil {
		rt.rotation.Create = append(rt.rotation.Create, t)
		rt.encodedReq, rt.encoded = req, t.Data
		return nil
	}
	if err := a.store.CreateToken(ctx, t); err != nil {
		return fositeErr(fmt.Errorf("create %s: %w", kind, err))
	}
	return nil
}

// newToken builds the stored form of req under (kind, signature); data is
// encode(req) when the caller has it already.
func (a *Adapter) newToken(kind storage.TokenKind, signature, accessSignature string, req fosite.Requester, data []byte) (storage.OAuthToken, error) {
	if data == nil {
		var err error
		if data, err = encode(req); err != nil {
			return storage.OAuthToken{}, err
		}
	}
	t := storage.OAuthToken{
		Kind:            kind,
		Signature:       signature,
		RequestID:       req.GetID(),
		Active:          true,
		AccessSignature: accessSignature,
		RequestedAt:     req.GetRequestedAt(),
		Data:            data,
	}
	if c := req.GetClient(); c != nil {
		t.ClientID = c.GetID()
	}
	if s := req.GetSession(); s != nil {
		t.Subject = s.GetSubject()
		t.ExpiresAt = s.GetExpiresAt(fositeType(kind))
		if ls, ok := s.(*Session); ok {
			t.SessionID = ls.Auth.SessionID
		}
	}
	if t.ExpiresAt.IsZero() {
		t.ExpiresAt = t.RequestedAt.Add(a.lifespan(kind))
	}
	return t, nil
}

func (a *Adapter) lifespan(kind storage.TokenKind) time.Duration {
	switch kind {
	case storage.TokenAccess:
		return a.p.cfg.AccessTokenLifespan
	case storage.TokenRefresh:
		return a.p.cfg.RefreshTokenLifespan
	default:
		return a.p.cfg.AuthorizeCodeLifespan
	}
}

// get loads and decodes (kind, signature); the bool reports Active.
func (a *Adapter) get(ctx context.Context, kind storage.TokenKind, signature string) (*fosite.Request, bool, error) {
	t, err := a.store.GetToken(ctx, kind, signature)
	if err != nil {
		return nil, false, fositeErr(fmt.Errorf("get %s: %w", kind, err))
	}
	req, err := a.decode(ctx, t)
	if err != nil {
		return nil, false, err
	}
	return req, t.Active, nil
}

// fositeErr maps storage sentinels to the errors fosite tests for, keeping
// the cause: ErrNotFound to fosite.ErrNotFound, ErrConflict to
// fosite.ErrSerializationFailure.
func fositeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fosite.ErrNotFound.WithWrap(err).WithDebug(err.Error())
	case errors.Is(err, storage.ErrConflict):
		return fosite.ErrSerializationFailure.WithWrap(err).WithDebug(err.Error())
	default:
		return err
	}
}

// ignoreNotFound treats deleting what is gone as success.
func ignoreNotFound(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return fositeErr(err)
}

// GetClient implements fosite.ClientManager (through the client cache).
func (a *Adapter) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := a.p.clients.get(ctx, id)
	if err != nil {
		return nil, fositeErr(err)
	}
	return c, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager. It accepts every
// JTI: the check-and-record is one atomic step in SetClientAssertionJWT, so
// two concurrent replays cannot both pass.
func (a *Adapter) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT implements fosite.ClientManager: it records the JTI
// until exp, refusing one already recorded. A replayed assertion is an
// invalid client authentication, so the error is invalid_client (RFC 7523
// section 3.2) at every endpoint that authenticates clients.
func (a *Adapter) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	err := a.store.UseJTI(ctx, jti, exp)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fosite.ErrInvalidClient.WithHint("The client assertion's jti was already used; it MUST only be used once.").WithWrap(fosite.ErrJTIKnown.WithWrap(err))
	}
	if err != nil {
		return fosite.ErrServerError.WithWrap(err).WithDebug(err.Error())
	}
	return nil
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (a *Adapter) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	return a.create(ctx, storage.TokenAuthorizeCode, signature, "", req)
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. A used
// code returns its request with fosite.ErrInvalidatedAuthorizeCode, so that
// fosite revokes the tokens issued from it.
//
// fosite reads the code twice in one token request (to validate it, then
// again before redeeming it); within a request from Provider.Token the
// second read reuses the first's row (see codeMemo). That cannot weaken
// single use: redemption is the conditional update in
// InvalidateAuthorizeCodeSession, whatever was read before it.
func (a *Adapter) GetAuthorizeCodeSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	memo, _ := ctx.Value(codeMemoKey{}).(*codeMemo)
	var t storage.OAuthToken
	if memo != nil && memo.signature == signature {
		t = memo.token
	} else {
		var err error
		if t, err = a.store.GetToken(ctx, storage.TokenAuthorizeCode, signature); err != nil {
			return nil, fositeErr(fmt.Errorf("get %s: %w", storage.TokenAuthorizeCode, err))
		}
		if memo != nil && t.Active {
			memo.signature, memo.token = signature, t
		}
	}
	req, err := a.decode(ctx, t)
	if err != nil {
		return nil, err
	}
	if !t.Active {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// codeMemoKey keys a *codeMemo in a token request's context.
type codeMemoKey struct{}

// codeMemo holds the authorization code row read during one token request,
// so that fosite's second read of the same code costs no query. It lives
// only as long as the request's context; only an active code is kept.
type codeMemo struct {
	signature string
	token     storage.OAuthToken
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage
// with a conditional update: of concurrent redemptions exactly one
// succeeds; the others get fosite.ErrSerializationFailure.
func (a *Adapter) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	if openRotation(ctx) != nil {
		return errOutsideRotation
	}
	return lostRace(a.store.DeactivateToken(ctx, storage.TokenAuthorizeCode, signature))
}

// lostRace maps the error of a conditional deactivation. fosite read the
// record as active a moment earlier, so a record now missing (deleted by a
// concurrent reuse detection) is a lost race like an inactive one.
func lostRace(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		err = fmt.Errorf("%w: %w", storage.ErrConflict, err)
	}
	return fositeErr(err)
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (a *Adapter) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	return a.create(ctx, storage.TokenAccess, signature, "", req)
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage. A revoked
// token gives fosite.ErrInactiveToken.
func (a *Adapter) GetAccessTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	req, active, err := a.get(ctx, storage.TokenAccess, signature)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (a *Adapter) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	if openRotation(ctx) != nil {
		return errOutsideRotation
	}
	return ignoreNotFound(a.store.DeleteToken(ctx, storage.TokenAccess, signature))
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (a *Adapter) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	return a.create(ctx, storage.TokenRefresh, signature, accessSignature, req)
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A rotated
// or revoked token returns its request with fosite.ErrInactiveToken: fosite
// then treats the use as reuse and revokes the whole family.
func (a *Adapter) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	req, active, err := a.get(ctx, storage.TokenRefresh, signature)
	if err != nil {
		return nil, err
	}
	if !active {
		return req, fosite.ErrInactiveToken
	}
	return req, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (a *Adapter) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	if openRotation(ctx) != nil {
		return errOutsideRotation
	}
	return ignoreNotFound(a.store.DeleteToken(ctx, storage.TokenRefresh, signature))
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: it deactivates
// the presented refresh token with a conditional update (of concurrent
// refreshes exactly one succeeds; the others get
// fosite.ErrSerializationFailure) and revokes the family's access tokens.
// Within a deferred rotation (see rotationTx) it records the rotation, and
// Commit performs it with the new tokens as one storage.Rotation.
func (a *Adapter) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	if rt := openRotation(ctx); rt != nil {
		if rt.rotation != nil {
			return errOutsideRotation
		}
		rt.rotation = &storage.Rotation{
			Kind: storage.TokenRefresh, Signature: signature,
			RequestID: requestID, RevokeKind: storage.TokenAccess,
		}
		return nil
	}
	if err := a.store.DeactivateToken(ctx, storage.TokenRefresh, signature); err != nil {
		return lostRace(err)
	}
	if _, err := a.store.DeactivateTokensByRequestID(ctx, storage.TokenAccess, requestID); err != nil {
		return fositeErr(err)
	}
	return nil
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage: every refresh
// token of the grant becomes inactive.
func (a *Adapter) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if openRotation(ctx) != nil {
		return errOutsideRotation
	}
	_, err := a.store.DeactivateTokensByRequestID(ctx, storage.TokenRefresh, requestID)
	return fositeErr(err)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage: every access
// token of the grant becomes inactive.
func (a *Adapter) RevokeAccessToken(ctx context.Context, requestID string) error {
	if openRotation(ctx) != nil {
		return errOutsideRotation
	}
	_, err := a.store.DeactivateTokensByRequestID(ctx, storage.TokenAccess, requestID)
	return fositeErr(err)
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
// fosite passes the authorization code itself; only its HMAC signature is
// stored.
func (a *Adapter) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return a.create(ctx, storage.TokenOIDC, a.p.hmac.AuthorizeCodeSignature(ctx, code), "", req)
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (a *Adapter) GetOpenIDConnectSession(ctx context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	req, _, err := a.get(ctx, storage.TokenOIDC, a.p.hmac.AuthorizeCodeSignature(ctx, code))
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage
// and, like DeletePKCERequestSession, keeps the record: fosite calls it
// after the code's transaction has committed, so deleting would be a second
// durable commit per code exchange, and it guards nothing. The code itself
// is single use (InvalidateAuthorizeCodeSession), a reused code never
// reaches the OpenID Connect handler, and the record holds no more than the
// code's own record. It expires with the code and DeleteExpired removes it.
func (a *Adapter) DeleteOpenIDConnectSession(context.Context, string) error { return nil }

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (a *Adapter) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return a.create(ctx, storage.TokenPKCE, signature, "", req)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (a *Adapter) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	req, _, err := a.get(ctx, storage.TokenPKCE, signature)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage and
// deliberately keeps the record: fosite deletes it before the code is
// redeemed, and a request that then failed (a wrong verifier) would leave
// the code redeemable without PKCE by a confidential client. The record
// expires with the code.
func (a *Adapter) DeletePKCERequestSession(context.Context, string) error { return nil }

// rotationKey keys a *rotationTx in a refresh request's context.
type rotationKey struct{}

// rotationTx is a refresh grant's transaction, deferred to its commit.
// fosite's refresh handler opens a transaction, rotates the presented
// refresh token, creates the new access and refresh tokens and commits.
// Provider.Token puts a rotationTx in the context of a refresh_token grant;
// the first BeginTX then opens no database transaction but records the
// rotation and the new tokens, and Commit performs them as one
// storage.Rotation: one statement on PostgreSQL instead of BEGIN, four
// statements and COMMIT. The guarantees are the store's: of concurrent
// rotations exactly one succeeds, the others change nothing and fail with
// fosite.ErrSerializationFailure, now at Commit rather than at
// RotateRefreshToken. Any other write while it is open fails
// (errOutsideRotation) rather than running outside the transaction.
type rotationTx struct {
	state    rotationState
	rotation *storage.Rotation
	// encodedReq was last encoded, as encoded.
	encodedReq fosite.Requester
	encoded    []byte
}

type rotationState int

const (
	rotationIdle rotationState = iota // no BeginTX yet
	rotationOpen                      // BeginTX done, writes recorded
	rotationDone                      // committed or rolled back
)

var errOutsideRotation = fosite.ErrServerError.WithDebug("unexpected write inside a deferred refresh token rotation")

// openRotation returns ctx's deferred rotation while it is open.
func openRotation(ctx context.Context) *rotationTx {
	if rt, _ := ctx.Value(rotationKey{}).(*rotationTx); rt != nil && rt.state == rotationOpen {
		return rt
	}
	return nil
}

// BeginTX implements fosite's storage.Transactional. In a refresh grant's
// context the first call starts a deferred rotation (see rotationTx).
func (a *Adapter) BeginTX(ctx context.Context) (context.Context, error) {
	if rt, _ := ctx.Value(rotationKey{}).(*rotationTx); rt != nil {
		if rt.state == rotationIdle {
			rt.state = rotationOpen
			return ctx, nil
		}
		// A database transaction from here on: hide the rotation.
		ctx = context.WithValue(ctx, rotationKey{}, (*rotationTx)(nil))
	}
	txCtx, err := a.store.BeginTx(ctx)
	if err != nil {
		return ctx, fositeErr(fmt.Errorf("begin transaction: %w", err))
	}
	return txCtx, nil
}

// Commit implements fosite's storage.Transactional. A serialization
// failure at commit is a lost race like any other.
func (a *Adapter) Commit(ctx context.Context) error {
	if rt, _ := ctx.Value(rotationKey{}).(*rotationTx); rt != nil {
		if rt.state != rotationOpen {
			return fosite.ErrServerError.WithDebug("commit: no open transaction")
		}
		rt.state = rotationDone
		if rt.rotation == nil {
			return nil
		}
		if err := a.store.RotateToken(ctx, *rt.rotation); err != nil {
			if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
				return lostRace(err)
			}
			return fositeErr(err)
		}
		return nil
	}
	return fositeErr(a.store.Commit(ctx))
}

// Rollback implements fosite's storage.Transactional. A deferred rotation
// is dropped (nothing was written); after its Commit, Rollback does nothing.
func (a *Adapter) Rollback(ctx context.Context) error {
	if rt, _ := ctx.Value(rotationKey{}).(*rotationTx); rt != nil {
		rt.state, rt.rotation = rotationDone, nil
		return nil
	}
	return fositeErr(a.store.Rollback(ctx))
}
