package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// countingStore wraps a Store and records its write transactions: every
// top-level transaction (BeginTx…Commit or InTx) that committed with at
// least one write method inside it, and every write method called outside a
// transaction (its own autocommit transaction). Each is recorded as the
// list of write methods it ran, e.g. "ConsumeChallenge+UpdateCredential".
type countingStore struct {
	storage.Store
	mu    sync.Mutex
	txs   []string
	reads []string
}

// read records a read method's call (for the log: where the round trips go).
func (c *countingStore) read(method string) {
	c.mu.Lock()
	c.reads = append(c.reads, method)
	c.mu.Unlock()
}

// takeReads returns the reads recorded since the last call and forgets them.
func (c *countingStore) takeReads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.reads
	c.reads = nil
	return out
}

type countTxKey struct{}

// countTx is the wrapper's view of one top-level transaction.
type countTx struct {
	mu     sync.Mutex
	writes []string
}

func (c *countingStore) record(s string) {
	c.mu.Lock()
	c.txs = append(c.txs, s)
	c.mu.Unlock()
}

// take returns the transactions recorded since the last call and forgets them.
func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.txs
	c.txs = nil
	return out
}

func (c *countingStore) wrote(ctx context.Context, method string) {
	if tx, ok := ctx.Value(countTxKey{}).(*countTx); ok {
		tx.mu.Lock()
		tx.writes = append(tx.writes, method)
		tx.mu.Unlock()
		return
	}
	c.record(method)
}

func (c *countingStore) BeginTx(ctx context.Context) (context.Context, error) {
	_, joined := ctx.Value(countTxKey{}).(*countTx)
	tctx, err := c.Store.BeginTx(ctx)
	if err != nil || joined {
		return tctx, err
	}
	return context.WithValue(tctx, countTxKey{}, &countTx{}), nil
}

func (c *countingStore) Commit(ctx context.Context) error {
	err := c.Store.Commit(ctx)
	if tx, ok := ctx.Value(countTxKey{}).(*countTx); ok && err == nil {
		c.committed(tx)
	}
	return err
}

func (c *countingStore) committed(tx *countTx) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if len(tx.writes) > 0 && !strings.HasPrefix(tx.writes[0], "#") {
		c.record(strings.Join(tx.writes, "+"))
		tx.writes = []string{"#committed"}
	}
}

func (c *countingStore) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, joined := ctx.Value(countTxKey{}).(*countTx); joined {
		return c.Store.InTx(ctx, fn)
	}
	tx := &countTx{}
	err := c.Store.InTx(ctx, func(ctx context.Context) error {
		return fn(context.WithValue(ctx, countTxKey{}, tx))
	})
	if err == nil {
		c.committed(tx)
	}
	return err
}

// TestPasskeyLoginWriteTransactions counts the write transactions of one
// whole passkey login (issue #3: at most 5) and pins them per step, so
// that an extra commit on the login path is a test failure.
func TestPasskeyLoginWriteTransactions(t *testing.T) {
	want := map[string][]string{
		"authorize": {"CreateAuthRequest"},
		"begin":     {"CreateChallenge"},
		"finish":    {"ConsumeChallenge+UpdateCredential+UpdateUser+CreateSession"},
		"resume":    {"DeleteAuthRequest+CreateToken+CreateToken"}, // code + OpenID Connect request
		"token":     {"DeactivateToken+CreateToken"},
	}
	for _, backend := range sqltest.Backends(t) {
		t.Run(backend, func(t *testing.T) {
			cs := &countingStore{Store: sqltest.Open(t, backend)}
			e := newPasskeyEnv(t, cs, 1)
			auth := passkeytest.New(e.issuer)
			e.passkeyUser(t, auth, "", "pk-writes@example.com")
			for i := range 3 {
				got := passkeyLoginWrites(t, e.env, cs, auth)
				total := 0
				for _, step := range []string{"authorize", "begin", "finish", "resume", "token"} {
					total += len(got[step])
					t.Logf("login %d: %-9s %d %v", i, step, len(got[step]), got[step])
				}
				if total > 5 {
					t.Errorf("login %d: %d write transactions, want at most 5", i, total)
				}
				for step, w := range want {
					if fmt.Sprint(got[step]) != fmt.Sprint(w) {
						t.Errorf("login %d: %s wrote %v, want %v", i, step, got[step], w)
					}
				}
			}
		})
	}
}

// passkeyLoginWrites runs one passkey login by a new browser and returns
// the write transactions of each step.
func passkeyLoginWrites(t *testing.T, e *env, cs *countingStore, auth *passkeytest.Authenticator) map[string][]string {
	got := map[string][]string{}
	take := func(step string) {
		got[step] = cs.take()
		t.Logf("%s reads: %v", step, cs.takeReads())
	}
	br := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email")
	// Background work (key rotation, expiry sweeps) is not the login's.
	time.Sleep(10 * time.Millisecond)
	cs.take()
	cs.takeReads()
	p := br.get(t, a.String())
	state := p.URL.Query().Get("state")
	if p.path() != "/u/login" || state == "" {
		t.Fatalf("authorize: got %s", p.URL)
	}
	take("authorize")
	c := e.mustBegin(t, br, pathLoginBegin, map[string]any{"state": state})
	take("begin")
	resp, err := auth.Get(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		t.Fatal(err)
	}
	fin := e.apiPost(t, br, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
	next := e.redirectOf(t, fin)
	take("finish")
	cb := br.get(t, next).callback(t, webRedirect)
	if cb.Code == "" {
		t.Fatalf("resume: error %q", cb.Error)
	}
	take("resume")
	r := e.token(t, webClient, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {webRedirect}})
	if r.Status != http.StatusOK || r.str("id_token") == "" {
		t.Fatalf("token: %d %s", r.Status, r.Raw)
	}
	take("token")
	return got
}
func (w *countingStore) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	w.wrote(ctx, "DeleteExpired")
	return w.Store.DeleteExpired(ctx, now)
}

func (w *countingStore) CreateUser(ctx context.Context, u storage.User) (storage.User, error) {
	w.wrote(ctx, "CreateUser")
	return w.Store.CreateUser(ctx, u)
}

func (w *countingStore) UpdateUser(ctx context.Context, id string, fn func(*storage.User) error) (storage.User, error) {
	w.wrote(ctx, "UpdateUser")
	return w.Store.UpdateUser(ctx, id, fn)
}

func (w *countingStore) DeleteUser(ctx context.Context, id string) error {
	w.wrote(ctx, "DeleteUser")
	return w.Store.DeleteUser(ctx, id)
}

func (w *countingStore) CreateCredential(ctx context.Context, c storage.Credential) (storage.Credential, error) {
	w.wrote(ctx, "CreateCredential")
	return w.Store.CreateCredential(ctx, c)
}

func (w *countingStore) UpdateCredential(ctx context.Context, id string, fn func(*storage.Credential) error) (storage.Credential, error) {
	w.wrote(ctx, "UpdateCredential")
	return w.Store.UpdateCredential(ctx, id, fn)
}

func (w *countingStore) DeleteCredential(ctx context.Context, id string) error {
	w.wrote(ctx, "DeleteCredential")
	return w.Store.DeleteCredential(ctx, id)
}

func (w *countingStore) SetPassword(ctx context.Context, userID, hash string, keepHistory int) error {
	w.wrote(ctx, "SetPassword")
	return w.Store.SetPassword(ctx, userID, hash, keepHistory)
}

func (w *countingStore) UpsertConnection(ctx context.Context, c storage.Connection) (storage.Connection, error) {
	w.wrote(ctx, "UpsertConnection")
	return w.Store.UpsertConnection(ctx, c)
}

func (w *countingStore) DeleteConnection(ctx context.Context, id string) error {
	w.wrote(ctx, "DeleteConnection")
	return w.Store.DeleteConnection(ctx, id)
}

func (w *countingStore) CreateClient(ctx context.Context, c storage.Client) (storage.Client, error) {
	w.wrote(ctx, "CreateClient")
	return w.Store.CreateClient(ctx, c)
}

func (w *countingStore) UpsertClient(ctx context.Context, c storage.Client) (storage.Client, error) {
	w.wrote(ctx, "UpsertClient")
	return w.Store.UpsertClient(ctx, c)
}

func (w *countingStore) DeleteClient(ctx context.Context, id string) error {
	w.wrote(ctx, "DeleteClient")
	return w.Store.DeleteClient(ctx, id)
}

func (w *countingStore) CreateSession(ctx context.Context, s storage.Session) (storage.Session, error) {
	w.wrote(ctx, "CreateSession")
	return w.Store.CreateSession(ctx, s)
}

func (w *countingStore) UpdateSession(ctx context.Context, id string, fn func(*storage.Session) error) (storage.Session, error) {
	w.wrote(ctx, "UpdateSession")
	return w.Store.UpdateSession(ctx, id, fn)
}

func (w *countingStore) DeleteSession(ctx context.Context, id string) error {
	w.wrote(ctx, "DeleteSession")
	return w.Store.DeleteSession(ctx, id)
}

func (w *countingStore) DeleteUserSessions(ctx context.Context, userID string) error {
	w.wrote(ctx, "DeleteUserSessions")
	return w.Store.DeleteUserSessions(ctx, userID)
}

func (w *countingStore) CreateAuthRequest(ctx context.Context, r storage.AuthRequest) (storage.AuthRequest, error) {
	w.wrote(ctx, "CreateAuthRequest")
	return w.Store.CreateAuthRequest(ctx, r)
}

func (w *countingStore) UpdateAuthRequest(ctx context.Context, id string, fn func(*storage.AuthRequest) error) (storage.AuthRequest, error) {
	w.wrote(ctx, "UpdateAuthRequest")
	return w.Store.UpdateAuthRequest(ctx, id, fn)
}

func (w *countingStore) DeleteAuthRequest(ctx context.Context, id string) error {
	w.wrote(ctx, "DeleteAuthRequest")
	return w.Store.DeleteAuthRequest(ctx, id)
}

func (w *countingStore) UpsertConsent(ctx context.Context, c storage.Consent) (storage.Consent, error) {
	w.wrote(ctx, "UpsertConsent")
	return w.Store.UpsertConsent(ctx, c)
}

func (w *countingStore) DeleteConsent(ctx context.Context, userID, clientID string) error {
	w.wrote(ctx, "DeleteConsent")
	return w.Store.DeleteConsent(ctx, userID, clientID)
}

func (w *countingStore) CreateSigningKeys(ctx context.Context, keys []storage.SigningKey, retiredAt time.Time) error {
	w.wrote(ctx, "CreateSigningKeys")
	return w.Store.CreateSigningKeys(ctx, keys, retiredAt)
}

func (w *countingStore) DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) (int64, error) {
	w.wrote(ctx, "DeleteSigningKeysRetiredBefore")
	return w.Store.DeleteSigningKeysRetiredBefore(ctx, t)
}

func (w *countingStore) CreateToken(ctx context.Context, t storage.OAuthToken) error {
	w.wrote(ctx, "CreateToken")
	return w.Store.CreateToken(ctx, t)
}

func (w *countingStore) DeleteToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	w.wrote(ctx, "DeleteToken")
	return w.Store.DeleteToken(ctx, kind, signature)
}

func (w *countingStore) DeactivateToken(ctx context.Context, kind storage.TokenKind, signature string) error {
	w.wrote(ctx, "DeactivateToken")
	return w.Store.DeactivateToken(ctx, kind, signature)
}

func (w *countingStore) DeactivateTokensByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	w.wrote(ctx, "DeactivateTokensByRequestID")
	return w.Store.DeactivateTokensByRequestID(ctx, kind, requestID)
}

func (w *countingStore) DeleteTokensByRequestID(ctx context.Context, kind storage.TokenKind, requestID string) (int64, error) {
	w.wrote(ctx, "DeleteTokensByRequestID")
	return w.Store.DeleteTokensByRequestID(ctx, kind, requestID)
}

func (w *countingStore) DeactivateTokensBySubject(ctx context.Context, kind storage.TokenKind, subject string) (int64, error) {
	w.wrote(ctx, "DeactivateTokensBySubject")
	return w.Store.DeactivateTokensBySubject(ctx, kind, subject)
}

func (w *countingStore) UseJTI(ctx context.Context, jti string, expiresAt time.Time) error {
	w.wrote(ctx, "UseJTI")
	return w.Store.UseJTI(ctx, jti, expiresAt)
}

func (w *countingStore) CreateChallenge(ctx context.Context, c storage.Challenge) (storage.Challenge, error) {
	w.wrote(ctx, "CreateChallenge")
	return w.Store.CreateChallenge(ctx, c)
}

func (w *countingStore) ConsumeChallenge(ctx context.Context, kind, id string) (storage.Challenge, error) {
	w.wrote(ctx, "ConsumeChallenge")
	return w.Store.ConsumeChallenge(ctx, kind, id)
}

func (w *countingStore) DeleteUserChallenges(ctx context.Context, kind, userID string) (int64, error) {
	w.wrote(ctx, "DeleteUserChallenges")
	return w.Store.DeleteUserChallenges(ctx, kind, userID)
}

func (w *countingStore) RecordLoginFailure(ctx context.Context, f storage.FailedLogin) (storage.LoginFailure, error) {
	w.wrote(ctx, "RecordLoginFailure")
	return w.Store.RecordLoginFailure(ctx, f)
}

func (w *countingStore) ResetLoginFailures(ctx context.Context, connectionID, identifier, ip string) (int64, error) {
	w.wrote(ctx, "ResetLoginFailures")
	return w.Store.ResetLoginFailures(ctx, connectionID, identifier, ip)
}

func (w *countingStore) GetUser(ctx context.Context, id string) (storage.User, error) {
	w.read("GetUser")
	return w.Store.GetUser(ctx, id)
}

func (w *countingStore) GetUserByEmail(ctx context.Context, connectionID, email string) (storage.User, error) {
	w.read("GetUserByEmail")
	return w.Store.GetUserByEmail(ctx, connectionID, email)
}

func (w *countingStore) GetUserByUsername(ctx context.Context, connectionID, username string) (storage.User, error) {
	w.read("GetUserByUsername")
	return w.Store.GetUserByUsername(ctx, connectionID, username)
}

func (w *countingStore) ListUsers(ctx context.Context, f storage.UserFilter) ([]storage.User, error) {
	w.read("ListUsers")
	return w.Store.ListUsers(ctx, f)
}

func (w *countingStore) GetCredential(ctx context.Context, id string) (storage.Credential, error) {
	w.read("GetCredential")
	return w.Store.GetCredential(ctx, id)
}

func (w *countingStore) GetCredentialByExternalID(ctx context.Context, kind storage.CredentialKind, externalID []byte) (storage.Credential, error) {
	w.read("GetCredentialByExternalID")
	return w.Store.GetCredentialByExternalID(ctx, kind, externalID)
}

func (w *countingStore) ListCredentials(ctx context.Context, userID string, kind storage.CredentialKind) ([]storage.Credential, error) {
	w.read("ListCredentials")
	return w.Store.ListCredentials(ctx, userID, kind)
}

func (w *countingStore) GetConnection(ctx context.Context, id string) (storage.Connection, error) {
	w.read("GetConnection")
	return w.Store.GetConnection(ctx, id)
}

func (w *countingStore) GetConnectionByName(ctx context.Context, name string) (storage.Connection, error) {
	w.read("GetConnectionByName")
	return w.Store.GetConnectionByName(ctx, name)
}

func (w *countingStore) ListConnections(ctx context.Context) ([]storage.Connection, error) {
	w.read("ListConnections")
	return w.Store.ListConnections(ctx)
}

func (w *countingStore) GetClient(ctx context.Context, id string) (storage.Client, error) {
	w.read("GetClient")
	return w.Store.GetClient(ctx, id)
}

func (w *countingStore) ListClients(ctx context.Context) ([]storage.Client, error) {
	w.read("ListClients")
	return w.Store.ListClients(ctx)
}

func (w *countingStore) GetSession(ctx context.Context, id string) (storage.Session, error) {
	w.read("GetSession")
	return w.Store.GetSession(ctx, id)
}

func (w *countingStore) GetSessionByTokenHash(ctx context.Context, tokenHash []byte) (storage.Session, error) {
	w.read("GetSessionByTokenHash")
	return w.Store.GetSessionByTokenHash(ctx, tokenHash)
}

func (w *countingStore) ListUserSessions(ctx context.Context, userID string) ([]storage.Session, error) {
	w.read("ListUserSessions")
	return w.Store.ListUserSessions(ctx, userID)
}

func (w *countingStore) GetAuthRequest(ctx context.Context, id string) (storage.AuthRequest, error) {
	w.read("GetAuthRequest")
	return w.Store.GetAuthRequest(ctx, id)
}

func (w *countingStore) GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error) {
	w.read("GetConsent")
	return w.Store.GetConsent(ctx, userID, clientID)
}

func (w *countingStore) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	w.read("ListSigningKeys")
	return w.Store.ListSigningKeys(ctx)
}

func (w *countingStore) GetToken(ctx context.Context, kind storage.TokenKind, signature string) (storage.OAuthToken, error) {
	w.read("GetToken")
	return w.Store.GetToken(ctx, kind, signature)
}

func (w *countingStore) GetChallenge(ctx context.Context, kind, id string) (storage.Challenge, error) {
	w.read("GetChallenge")
	return w.Store.GetChallenge(ctx, kind, id)
}

func (w *countingStore) GetLoginFailure(ctx context.Context, connectionID, identifier, ip string) (storage.LoginFailure, error) {
	w.read("GetLoginFailure")
	return w.Store.GetLoginFailure(ctx, connectionID, identifier, ip)
}

func (w *countingStore) ListLoginFailures(ctx context.Context, connectionID, identifier string) ([]storage.LoginFailure, error) {
	w.read("ListLoginFailures")
	return w.Store.ListLoginFailures(ctx, connectionID, identifier)
}
