package conformance

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/storage"
)

// concurrency is how many goroutines race in the single-winner tests.
const concurrency = 20

// Run runs the whole suite. newStore must return a fresh, empty, ready
// store for each subtest; it is called once per subtest, from parallel
// subtests, and should close the store through t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"Ping", testPing},
		{"Users", testUsers},
		{"UserUniqueness", testUserUniqueness},
		{"ListUsers", testListUsers},
		{"UpdateUser", testUpdateUser},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"Credentials", testCredentials},
		{"CredentialExternalIDUniqueAcrossUsers", testCredentialExternalIDUnique},
		{"UpdateCredentialConcurrent", testUpdateCredentialConcurrent},
		{"SetPassword", testSetPassword},
		{"Connections", testConnections},
		{"Clients", testClients},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"AuthRequests", testAuthRequests},
		{"Consents", testConsents},
		{"SigningKeys", testSigningKeys},
		{"SigningKeysConcurrentGeneration", testSigningKeysConcurrent},
		{"Tokens", testTokens},
		{"DeactivateTokenConcurrent", testDeactivateTokenConcurrent},
		{"RotateToken", testRotateToken},
		{"RotateTokenConcurrent", testRotateTokenConcurrent},
		{"UseJTI", testUseJTI},
		{"Challenges", testChallenges},
		{"ConsumeChallengeConcurrent", testConsumeChallengeConcurrent},
		{"Transactions", testTransactions},
		{"NestedTransactions", testNestedTransactions},
		{"UpdateClosureErrors", testUpdateClosureErrors},
		{"DeleteExpired", testDeleteExpired},
		{"DeactivateTokensBySubject", testDeactivateTokensBySubject},
		{"ChallengesByUser", testChallengesByUser},
		{"LoginFailures", testLoginFailures},
		{"LoginFailuresConcurrent", testLoginFailuresConcurrent},
		{"LoginFailuresExpiry", testLoginFailuresExpiry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// errTest is returned by closures to check that their error aborts and
// comes back unchanged.
var errTest = errors.New("conformance: closure error")

// base is a fixed, second-precision instant far from now, so that times
// round-trip through any backend; live is an instant in the future for
// records that must not expire during the test.
func base() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC) }
func live() time.Time { return time.Now().UTC().Add(time.Hour).Truncate(time.Second) }
func past() time.Time { return time.Now().UTC().Add(-time.Hour).Truncate(time.Second) }

// canon normalises v (a struct value) for comparison: times to canonical
// UTC, empty slices to nil.
func canon[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch x := f.Interface().(type) {
		case time.Time:
			if x.IsZero() {
				f.Set(reflect.ValueOf(time.Time{}))
			} else {
				f.Set(reflect.ValueOf(time.Unix(x.Unix(), int64(x.Nanosecond())).UTC()))
			}
		default:
			if f.Kind() == reflect.Slice && f.Len() == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		}
	}
	return v
}

// same fails t when got and want differ after canon.
func same[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if g, w := canon(got), canon(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

// wantErr fails t unless errors.Is(err, target) (target nil: err must be
// nil).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Fatalf("%s: unexpected error: %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func must[T any](t *testing.T, what string) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func mkUser(t *testing.T, s storage.Store, conn, email string) storage.User {
	t.Helper()
	return must[storage.User](t, "create user "+email)(s.CreateUser(context.Background(), storage.User{ConnectionID: conn, Email: email}))
}

func testPing(t *testing.T, s storage.Store) {
	wantErr(t, "Ping", s.Ping(context.Background()), nil)
}

func testUsers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	in := storage.User{
		ID: "user-1", ConnectionID: "conn-1", Email: "Ada@Example.COM ", EmailVerified: true,
		Username: "ada", Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace", Nickname: "al",
		Picture: "https://example.com/a.png", Locale: "en-GB", Blocked: true, Metadata: []byte(`{"k":1}`),
		CreatedAt: base(), UpdatedAt: base().Add(time.Second), LastLoginAt: base().Add(2 * time.Second),
	}
	want := in
	want.Email = "ada@example.com"
	got := must[storage.User](t, "CreateUser")(s.CreateUser(ctx, in))
	same(t, "CreateUser result", got, want)
	same(t, "GetUser", must[storage.User](t, "GetUser")(s.GetUser(ctx, "user-1")), want)
	same(t, "GetUserByEmail", must[storage.User](t, "GetUserByEmail")(s.GetUserByEmail(ctx, "conn-1", " ADA@example.com")), want)
	same(t, "GetUserByUsername", must[storage.User](t, "GetUserByUsername")(s.GetUserByUsername(ctx, "conn-1", "ada")), want)

	// Defaults: ID and timestamps filled in; optional times stay zero.
	d := must[storage.User](t, "CreateUser defaults")(s.CreateUser(ctx, storage.User{ConnectionID: "conn-1", Email: "b@example.com"}))
	if d.ID == "" || d.CreatedAt.IsZero() || d.UpdatedAt.IsZero() || !d.LastLoginAt.IsZero() {
		t.Errorf("CreateUser defaults: %+v", d)
	}
	same(t, "GetUser defaults", must[storage.User](t, "GetUser")(s.GetUser(ctx, d.ID)), d)

	for _, tc := range []struct {
		name string
		err  error
	}{
		{"GetUser missing", func() error { _, err := s.GetUser(ctx, "nope"); return err }()},
		{"GetUserByEmail other connection", func() error { _, err := s.GetUserByEmail(ctx, "conn-2", "ada@example.com"); return err }()},
		{"GetUserByEmail empty", func() error { _, err := s.GetUserByEmail(ctx, "conn-1", ""); return err }()},
		{"GetUserByUsername missing", func() error { _, err := s.GetUserByUsername(ctx, "conn-1", "bob"); return err }()},
		{"GetUserByUsername empty", func() error { _, err := s.GetUserByUsername(ctx, "conn-1", ""); return err }()},
		{"DeleteUser missing", s.DeleteUser(ctx, "nope")},
	} {
		wantErr(t, tc.name, tc.err, storage.ErrNotFound)
	}
}

func testUserUniqueness(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mkUser(t, s, "c1", "a@example.com")
	tests := []struct {
		name string
		have storage.User
		want error
	}{
		{"same email same connection", storage.User{ConnectionID: "c1", Email: "a@example.com"}, storage.ErrAlreadyExists},
		{"same email other case", storage.User{ConnectionID: "c1", Email: " A@Example.com"}, storage.ErrAlreadyExists},
		{"same email other connection", storage.User{ConnectionID: "c2", Email: "a@example.com"}, nil},
		{"username set", storage.User{ConnectionID: "c1", Email: "u1@example.com", Username: "u"}, nil},
		{"same username same connection", storage.User{ConnectionID: "c1", Email: "u2@example.com", Username: "u"}, storage.ErrAlreadyExists},
		{"same username other connection", storage.User{ConnectionID: "c2", Email: "u3@example.com", Username: "u"}, nil},
		{"empty usernames do not collide", storage.User{ConnectionID: "c1", Email: "e1@example.com"}, nil},
		{"empty usernames do not collide again", storage.User{ConnectionID: "c1", Email: "e2@example.com"}, nil},
		{"duplicate ID", storage.User{ID: "dup", ConnectionID: "c3", Email: "d1@example.com"}, nil},
		{"duplicate ID again", storage.User{ID: "dup", ConnectionID: "c3", Email: "d2@example.com"}, storage.ErrAlreadyExists},
	}
	for _, tt := range tests {
		_, err := s.CreateUser(ctx, tt.have)
		wantErr(t, tt.name, err, tt.want)
	}
}

func testListUsers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		u := must[storage.User](t, "CreateUser")(s.CreateUser(ctx, storage.User{
			ConnectionID: "c1", Email: fmt.Sprintf("u%d@example.com", i), CreatedAt: base().Add(time.Duration(i) * time.Second),
		}))
		ids = append(ids, u.ID)
	}
	mkUser(t, s, "c2", "other@example.com")
	tests := []struct {
		name string
		have storage.UserFilter
		want []string
	}{
		{"connection", storage.UserFilter{ConnectionID: "c1"}, ids},
		{"limit", storage.UserFilter{ConnectionID: "c1", Limit: 2}, ids[:2]},
		{"offset", storage.UserFilter{ConnectionID: "c1", Limit: 2, Offset: 3}, ids[3:]},
	}
	for _, tt := range tests {
		users := must[[]storage.User](t, "ListUsers")(s.ListUsers(ctx, tt.have))
		var got []string
		for _, u := range users {
			got = append(got, u.ID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ListUsers %s = %v, want %v", tt.name, got, tt.want)
		}
	}
	if all := must[[]storage.User](t, "ListUsers")(s.ListUsers(ctx, storage.UserFilter{})); len(all) != 6 {
		t.Errorf("ListUsers all = %d users, want 6", len(all))
	}
}

func testUpdateUser(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	mkUser(t, s, "c1", "b@example.com")
	got := must[storage.User](t, "UpdateUser")(s.UpdateUser(ctx, u.ID, func(u *storage.User) error {
		u.ID = "ignored"
		u.Name = "Ada"
		u.Email = "NEW@example.com"
		u.LastLoginAt = base()
		return nil
	}))
	if got.ID != u.ID || got.Name != "Ada" || got.Email != "new@example.com" || !got.LastLoginAt.Equal(base()) {
		t.Errorf("UpdateUser result: %+v", got)
	}
	if got.UpdatedAt.Before(u.UpdatedAt) {
		t.Errorf("UpdateUser: UpdatedAt went back from %v to %v", u.UpdatedAt, got.UpdatedAt)
	}
	same(t, "GetUser after update", must[storage.User](t, "GetUser")(s.GetUser(ctx, u.ID)), got)

	_, err := s.UpdateUser(ctx, u.ID, func(u *storage.User) error { u.Email = "b@example.com"; return nil })
	wantErr(t, "UpdateUser to a taken email", err, storage.ErrAlreadyExists)
	_, err = s.UpdateUser(ctx, "nope", func(*storage.User) error { return nil })
	wantErr(t, "UpdateUser missing", err, storage.ErrNotFound)
	same(t, "GetUser after failed updates", must[storage.User](t, "GetUser")(s.GetUser(ctx, u.ID)), got)
}

func testDeleteUserCascades(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	other := mkUser(t, s, "c1", "b@example.com")
	for _, owner := range []storage.User{u, other} {
		must[storage.Credential](t, "CreateCredential")(s.CreateCredential(ctx, storage.Credential{
			UserID: owner.ID, Kind: storage.CredentialWebAuthn, ExternalID: []byte("cred-" + owner.ID),
		}))
		wantErr(t, "SetPassword", s.SetPassword(ctx, owner.ID, "$argon2id$"+owner.ID, 3), nil)
		must[storage.Session](t, "CreateSession")(s.CreateSession(ctx, storage.Session{
			TokenHash: []byte("hash-" + owner.ID), UserID: owner.ID, ExpiresAt: live(),
		}))
		must[storage.Consent](t, "UpsertConsent")(s.UpsertConsent(ctx, storage.Consent{UserID: owner.ID, ClientID: "app", Scopes: []string{"openid"}}))
	}
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, u.ID), nil)

	_, err := s.GetUser(ctx, u.ID)
	wantErr(t, "GetUser after delete", err, storage.ErrNotFound)
	if creds := must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, u.ID, "")); len(creds) != 0 {
		t.Errorf("credentials left after DeleteUser: %d", len(creds))
	}
	if ss := must[[]storage.Session](t, "ListUserSessions")(s.ListUserSessions(ctx, u.ID)); len(ss) != 0 {
		t.Errorf("sessions left after DeleteUser: %d", len(ss))
	}
	_, err = s.GetSessionByTokenHash(ctx, []byte("hash-"+u.ID))
	wantErr(t, "GetSessionByTokenHash after delete", err, storage.ErrNotFound)
	_, err = s.GetConsent(ctx, u.ID, "app")
	wantErr(t, "GetConsent after delete", err, storage.ErrNotFound)
	// The deleted user's WebAuthn credential ID is free again.
	must[storage.Credential](t, "CreateCredential reusing ID")(s.CreateCredential(ctx, storage.Credential{
		UserID: other.ID, Kind: storage.CredentialWebAuthn, ExternalID: []byte("cred-" + u.ID),
	}))
	// The other user is untouched.
	if creds := must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, other.ID, "")); len(creds) != 3 {
		t.Errorf("other user's credentials = %d, want 3", len(creds))
	}
	must[storage.Consent](t, "GetConsent other")(s.GetConsent(ctx, other.ID, "app"))
	must[storage.Session](t, "GetSessionByTokenHash other")(s.GetSessionByTokenHash(ctx, []byte("hash-"+other.ID)))
}

func testCredentials(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	in := storage.Credential{
		ID: "cred-1", UserID: u.ID, Kind: storage.CredentialWebAuthn, ExternalID: []byte{0, 1, 2, 0xff},
		PublicKey: []byte("cose"), Attributes: []byte(`{"aaguid":"x"}`), Name: "iCloud Keychain",
		SignCount: 7, CreatedAt: base(), UpdatedAt: base(), LastUsedAt: base().Add(time.Minute),
	}
	same(t, "CreateCredential", must[storage.Credential](t, "CreateCredential")(s.CreateCredential(ctx, in)), in)
	same(t, "GetCredential", must[storage.Credential](t, "GetCredential")(s.GetCredential(ctx, "cred-1")), in)
	same(t, "GetCredentialByExternalID", must[storage.Credential](t, "GetCredentialByExternalID")(
		s.GetCredentialByExternalID(ctx, storage.CredentialWebAuthn, []byte{0, 1, 2, 0xff})), in)

	_, err := s.GetCredentialByExternalID(ctx, storage.CredentialPassword, []byte{0, 1, 2, 0xff})
	wantErr(t, "GetCredentialByExternalID other kind", err, storage.ErrNotFound)
	_, err = s.GetCredentialByExternalID(ctx, storage.CredentialWebAuthn, []byte{0, 1, 2})
	wantErr(t, "GetCredentialByExternalID missing", err, storage.ErrNotFound)
	_, err = s.GetCredential(ctx, "nope")
	wantErr(t, "GetCredential missing", err, storage.ErrNotFound)

	// Credentials without an external ID never collide.
	for range 2 {
		must[storage.Credential](t, "CreateCredential without external ID")(s.CreateCredential(ctx, storage.Credential{
			UserID: u.ID, Kind: "totp", Secret: "enc",
		}))
	}
	tests := []struct {
		kind storage.CredentialKind
		want int
	}{{"", 3}, {storage.CredentialWebAuthn, 1}, {"totp", 2}, {storage.CredentialPassword, 0}}
	for _, tt := range tests {
		if got := must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, u.ID, tt.kind)); len(got) != tt.want {
			t.Errorf("ListCredentials(%q) = %d, want %d", tt.kind, len(got), tt.want)
		}
	}
	all := must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, u.ID, ""))
	if all[0].ID != "cred-1" {
		t.Errorf("ListCredentials is not oldest first: %s first", all[0].ID)
	}

	up := must[storage.Credential](t, "UpdateCredential")(s.UpdateCredential(ctx, "cred-1", func(c *storage.Credential) error {
		c.SignCount = 8
		c.Name = "renamed"
		return nil
	}))
	if up.SignCount != 8 || up.Name != "renamed" || up.ID != "cred-1" {
		t.Errorf("UpdateCredential: %+v", up)
	}
	same(t, "GetCredential after update", must[storage.Credential](t, "GetCredential")(s.GetCredential(ctx, "cred-1")), up)
	_, err = s.UpdateCredential(ctx, "nope", func(*storage.Credential) error { return nil })
	wantErr(t, "UpdateCredential missing", err, storage.ErrNotFound)

	wantErr(t, "DeleteCredential", s.DeleteCredential(ctx, "cred-1"), nil)
	wantErr(t, "DeleteCredential again", s.DeleteCredential(ctx, "cred-1"), storage.ErrNotFound)
	_, err = s.GetCredential(ctx, "cred-1")
	wantErr(t, "GetCredential after delete", err, storage.ErrNotFound)
}

func testCredentialExternalIDUnique(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := mkUser(t, s, "c1", "a@example.com")
	b := mkUser(t, s, "c2", "b@example.com")
	id := []byte("credential-id")
	must[storage.Credential](t, "CreateCredential")(s.CreateCredential(ctx, storage.Credential{UserID: a.ID, Kind: storage.CredentialWebAuthn, ExternalID: id}))
	tests := []struct {
		name string
		user string
	}{{"same user", a.ID}, {"other user", b.ID}}
	for _, tt := range tests {
		_, err := s.CreateCredential(ctx, storage.Credential{UserID: tt.user, Kind: storage.CredentialWebAuthn, ExternalID: id})
		wantErr(t, "CreateCredential duplicate external ID, "+tt.name, err, storage.ErrAlreadyExists)
	}
	if got := must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, b.ID, "")); len(got) != 0 {
		t.Errorf("duplicate credential was stored for the other user")
	}
}

func testUpdateCredentialConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	c := must[storage.Credential](t, "CreateCredential")(s.CreateCredential(ctx, storage.Credential{UserID: u.ID, Kind: storage.CredentialWebAuthn, ExternalID: []byte("x")}))
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				_, err := s.UpdateCredential(ctx, c.ID, func(c *storage.Credential) error { c.SignCount++; return nil })
				if errors.Is(err, storage.ErrConflict) {
					continue // a backend may ask the caller to retry
				}
				if err != nil {
					t.Errorf("UpdateCredential: %v", err)
				}
				return
			}
		})
	}
	wg.Wait()
	if got := must[storage.Credential](t, "GetCredential")(s.GetCredential(ctx, c.ID)); got.SignCount != concurrency {
		t.Errorf("SignCount after %d concurrent increments = %d: updates were lost", concurrency, got.SignCount)
	}
}

func testSetPassword(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	secrets := func(kind storage.CredentialKind) []string {
		t.Helper()
		var out []string
		for _, c := range must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, u.ID, kind)) {
			out = append(out, c.Secret)
		}
		return out
	}
	for _, h := range []string{"h1", "h2", "h3", "h4"} {
		wantErr(t, "SetPassword "+h, s.SetPassword(ctx, u.ID, h, 2), nil)
	}
	if got := secrets(storage.CredentialPassword); !reflect.DeepEqual(got, []string{"h4"}) {
		t.Errorf("current password = %v, want [h4]", got)
	}
	if got := secrets(storage.CredentialPasswordHistory); !reflect.DeepEqual(got, []string{"h2", "h3"}) {
		t.Errorf("password history (oldest first) = %v, want [h2 h3]", got)
	}
	wantErr(t, "SetPassword keep 0", s.SetPassword(ctx, u.ID, "h5", 0), nil)
	if got := secrets(""); !reflect.DeepEqual(got, []string{"h5"}) {
		t.Errorf("credentials after keepHistory=0 = %v, want [h5]", got)
	}
	wantErr(t, "SetPassword missing user", s.SetPassword(ctx, "nope", "h", 1), storage.ErrNotFound)

	// Concurrent changes leave exactly one current password.
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			for {
				err := s.SetPassword(ctx, u.ID, fmt.Sprintf("c%d", i), 10)
				if errors.Is(err, storage.ErrConflict) {
					continue
				}
				if err != nil {
					t.Errorf("concurrent SetPassword: %v", err)
				}
				return
			}
		})
	}
	wg.Wait()
	if got := secrets(storage.CredentialPassword); len(got) != 1 {
		t.Errorf("current passwords after concurrent SetPassword = %v, want one", got)
	}
	if got := secrets(storage.CredentialPasswordHistory); len(got) != 5 {
		t.Errorf("history after concurrent SetPassword = %d entries, want 5", len(got))
	}
}

func testConnections(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := must[storage.Connection](t, "UpsertConnection")(s.UpsertConnection(ctx, storage.Connection{
		Name: "database", Type: "database", Settings: []byte(`{"a":1}`),
	}))
	if c.ID == "" || c.CreatedAt.IsZero() {
		t.Fatalf("UpsertConnection defaults: %+v", c)
	}
	same(t, "GetConnection", must[storage.Connection](t, "GetConnection")(s.GetConnection(ctx, c.ID)), c)
	same(t, "GetConnectionByName", must[storage.Connection](t, "GetConnectionByName")(s.GetConnectionByName(ctx, "database")), c)

	up := must[storage.Connection](t, "UpsertConnection update")(s.UpsertConnection(ctx, storage.Connection{
		ID: "ignored", Name: "database", Type: "custom", Settings: []byte(`{"a":2}`),
	}))
	if up.ID != c.ID || up.Type != "custom" || string(up.Settings) != `{"a":2}` || !up.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("UpsertConnection update = %+v, want ID %s kept, new type and settings", up, c.ID)
	}
	same(t, "GetConnection after update", must[storage.Connection](t, "GetConnection")(s.GetConnection(ctx, c.ID)), up)

	must[storage.Connection](t, "UpsertConnection second")(s.UpsertConnection(ctx, storage.Connection{Name: "another", Type: "database"}))
	list := must[[]storage.Connection](t, "ListConnections")(s.ListConnections(ctx))
	if len(list) != 2 {
		t.Errorf("ListConnections = %d, want 2", len(list))
	}
	wantErr(t, "DeleteConnection", s.DeleteConnection(ctx, c.ID), nil)
	wantErr(t, "DeleteConnection again", s.DeleteConnection(ctx, c.ID), storage.ErrNotFound)
	_, err := s.GetConnection(ctx, c.ID)
	wantErr(t, "GetConnection after delete", err, storage.ErrNotFound)
	_, err = s.GetConnectionByName(ctx, "database")
	wantErr(t, "GetConnectionByName after delete", err, storage.ErrNotFound)
}

func testClients(t *testing.T, s storage.Store) {
	ctx := context.Background()
	in := storage.Client{
		ID: "app", Name: "App", SecretHash: "$pbkdf2$x", Public: false, FirstParty: true,
		TokenEndpointAuthMethod: "client_secret_basic",
		RedirectURIs:            []string{"https://app.example.com/cb", "http://127.0.0.1/cb"},
		PostLogoutRedirectURIs:  []string{"https://app.example.com/"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
		Scopes:                  []string{"openid", "profile", "offline_access"},
		Audience:                []string{"https://api.example.com"},
		WebOrigins:              []string{"https://app.example.com"},
		Connections:             []string{"database"},
		IDTokenSigningAlg:       "ES256",
		JWKS:                    []byte(`{"keys":[]}`),
		JWKSURI:                 "https://app.example.com/jwks",
		CreatedAt:               base(),
		UpdatedAt:               base(),
	}
	same(t, "CreateClient", must[storage.Client](t, "CreateClient")(s.CreateClient(ctx, in)), in)
	same(t, "GetClient", must[storage.Client](t, "GetClient")(s.GetClient(ctx, "app")), in)
	_, err := s.CreateClient(ctx, storage.Client{ID: "app"})
	wantErr(t, "CreateClient duplicate", err, storage.ErrAlreadyExists)
	_, err = s.GetClient(ctx, "nope")
	wantErr(t, "GetClient missing", err, storage.ErrNotFound)

	repl := storage.Client{ID: "app", Name: "App 2", Public: true, TokenEndpointAuthMethod: "none", RedirectURIs: []string{"https://x/cb"}}
	got := must[storage.Client](t, "UpsertClient replace")(s.UpsertClient(ctx, repl))
	if !got.CreatedAt.Equal(base()) {
		t.Errorf("UpsertClient replace: CreatedAt = %v, want kept %v", got.CreatedAt, base())
	}
	want := repl
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	same(t, "UpsertClient replace", got, want)
	same(t, "GetClient after upsert", must[storage.Client](t, "GetClient")(s.GetClient(ctx, "app")), want)

	created := must[storage.Client](t, "UpsertClient create")(s.UpsertClient(ctx, storage.Client{ID: "b", Name: "B"}))
	if created.CreatedAt.IsZero() {
		t.Errorf("UpsertClient create: zero CreatedAt")
	}
	if list := must[[]storage.Client](t, "ListClients")(s.ListClients(ctx)); len(list) != 2 {
		t.Errorf("ListClients = %d, want 2", len(list))
	}
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "app"), nil)
	wantErr(t, "DeleteClient again", s.DeleteClient(ctx, "app"), storage.ErrNotFound)
}

func testSessions(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	exp := live()
	in := storage.Session{
		ID: "sid-1", TokenHash: []byte{1, 2, 3}, UserID: u.ID, ConnectionID: "c1", AuthTime: base(),
		AMR: []string{"pwd", "otp"}, ACR: "urn:x", Evidence: []byte(`[{}]`), IP: "192.0.2.1", UserAgent: "UA",
		CreatedAt: base(), LastSeenAt: base(), ExpiresAt: exp,
	}
	same(t, "CreateSession", must[storage.Session](t, "CreateSession")(s.CreateSession(ctx, in)), in)
	same(t, "GetSession", must[storage.Session](t, "GetSession")(s.GetSession(ctx, "sid-1")), in)
	same(t, "GetSessionByTokenHash", must[storage.Session](t, "GetSessionByTokenHash")(s.GetSessionByTokenHash(ctx, []byte{1, 2, 3})), in)
	_, err := s.CreateSession(ctx, storage.Session{TokenHash: []byte{1, 2, 3}, UserID: u.ID, ExpiresAt: exp})
	wantErr(t, "CreateSession duplicate token hash", err, storage.ErrAlreadyExists)
	_, err = s.GetSessionByTokenHash(ctx, []byte{9})
	wantErr(t, "GetSessionByTokenHash missing", err, storage.ErrNotFound)

	second := must[storage.Session](t, "CreateSession defaults")(s.CreateSession(ctx, storage.Session{TokenHash: []byte{4}, UserID: u.ID, ExpiresAt: exp}))
	if second.ID == "" || second.CreatedAt.IsZero() {
		t.Errorf("CreateSession defaults: %+v", second)
	}
	if list := must[[]storage.Session](t, "ListUserSessions")(s.ListUserSessions(ctx, u.ID)); len(list) != 2 || list[0].ID != "sid-1" {
		t.Errorf("ListUserSessions = %+v, want two, oldest first", list)
	}

	seen := base().Add(time.Hour)
	up := must[storage.Session](t, "UpdateSession")(s.UpdateSession(ctx, "sid-1", func(se *storage.Session) error {
		se.ID = "ignored"
		se.LastSeenAt = seen
		se.AMR = append(se.AMR, "hwk")
		return nil
	}))
	if up.ID != "sid-1" || !up.LastSeenAt.Equal(seen) || len(up.AMR) != 3 {
		t.Errorf("UpdateSession: %+v", up)
	}
	same(t, "GetSession after update", must[storage.Session](t, "GetSession")(s.GetSession(ctx, "sid-1")), up)
	_, err = s.UpdateSession(ctx, "nope", func(*storage.Session) error { return nil })
	wantErr(t, "UpdateSession missing", err, storage.ErrNotFound)

	wantErr(t, "DeleteSession", s.DeleteSession(ctx, "sid-1"), nil)
	wantErr(t, "DeleteSession again", s.DeleteSession(ctx, "sid-1"), storage.ErrNotFound)
	wantErr(t, "DeleteUserSessions", s.DeleteUserSessions(ctx, u.ID), nil)
	if list := must[[]storage.Session](t, "ListUserSessions")(s.ListUserSessions(ctx, u.ID)); len(list) != 0 {
		t.Errorf("ListUserSessions after DeleteUserSessions = %d", len(list))
	}
	wantErr(t, "DeleteUserSessions with none", s.DeleteUserSessions(ctx, u.ID), nil)
}

func testSessionExpiry(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	must[storage.Session](t, "CreateSession expired")(s.CreateSession(ctx, storage.Session{ID: "old", TokenHash: []byte("old"), UserID: u.ID, ExpiresAt: past()}))
	must[storage.Session](t, "CreateSession live")(s.CreateSession(ctx, storage.Session{ID: "new", TokenHash: []byte("new"), UserID: u.ID, ExpiresAt: live()}))
	_, err := s.GetSession(ctx, "old")
	wantErr(t, "GetSession expired", err, storage.ErrNotFound)
	_, err = s.GetSessionByTokenHash(ctx, []byte("old"))
	wantErr(t, "GetSessionByTokenHash expired", err, storage.ErrNotFound)
	_, err = s.UpdateSession(ctx, "old", func(*storage.Session) error { return nil })
	wantErr(t, "UpdateSession expired", err, storage.ErrNotFound)
	if list := must[[]storage.Session](t, "ListUserSessions")(s.ListUserSessions(ctx, u.ID)); len(list) != 1 || list[0].ID != "new" {
		t.Errorf("ListUserSessions = %+v, want only the live session", list)
	}
}

func testAuthRequests(t *testing.T, s storage.Store) {
	ctx := context.Background()
	in := storage.AuthRequest{
		ID: "ar-1", ClientID: "app", Form: "client_id=app&response_type=code", ConnectionID: "c1",
		State: []byte(`{"step":"identifier"}`), CreatedAt: base(), ExpiresAt: live(),
	}
	same(t, "CreateAuthRequest", must[storage.AuthRequest](t, "CreateAuthRequest")(s.CreateAuthRequest(ctx, in)), in)
	same(t, "GetAuthRequest", must[storage.AuthRequest](t, "GetAuthRequest")(s.GetAuthRequest(ctx, "ar-1")), in)
	_, err := s.CreateAuthRequest(ctx, in)
	wantErr(t, "CreateAuthRequest duplicate", err, storage.ErrAlreadyExists)

	up := must[storage.AuthRequest](t, "UpdateAuthRequest")(s.UpdateAuthRequest(ctx, "ar-1", func(a *storage.AuthRequest) error {
		a.ID = "ignored"
		a.State = []byte(`{"step":"password"}`)
		return nil
	}))
	if up.ID != "ar-1" || string(up.State) != `{"step":"password"}` {
		t.Errorf("UpdateAuthRequest: %+v", up)
	}
	same(t, "GetAuthRequest after update", must[storage.AuthRequest](t, "GetAuthRequest")(s.GetAuthRequest(ctx, "ar-1")), up)

	d := must[storage.AuthRequest](t, "CreateAuthRequest defaults")(s.CreateAuthRequest(ctx, storage.AuthRequest{ClientID: "app", ExpiresAt: live()}))
	if d.ID == "" || d.CreatedAt.IsZero() {
		t.Errorf("CreateAuthRequest defaults: %+v", d)
	}

	must[storage.AuthRequest](t, "CreateAuthRequest expired")(s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "old", ExpiresAt: past()}))
	_, err = s.GetAuthRequest(ctx, "old")
	wantErr(t, "GetAuthRequest expired", err, storage.ErrNotFound)
	_, err = s.UpdateAuthRequest(ctx, "old", func(*storage.AuthRequest) error { return nil })
	wantErr(t, "UpdateAuthRequest expired", err, storage.ErrNotFound)

	wantErr(t, "DeleteAuthRequest", s.DeleteAuthRequest(ctx, "ar-1"), nil)
	wantErr(t, "DeleteAuthRequest again", s.DeleteAuthRequest(ctx, "ar-1"), storage.ErrNotFound)
	_, err = s.GetAuthRequest(ctx, "ar-1")
	wantErr(t, "GetAuthRequest after delete", err, storage.ErrNotFound)
}

func testConsents(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	_, err := s.GetConsent(ctx, u.ID, "app")
	wantErr(t, "GetConsent missing", err, storage.ErrNotFound)
	c := must[storage.Consent](t, "UpsertConsent")(s.UpsertConsent(ctx, storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid"}, CreatedAt: base()}))
	same(t, "GetConsent", must[storage.Consent](t, "GetConsent")(s.GetConsent(ctx, u.ID, "app")), c)
	up := must[storage.Consent](t, "UpsertConsent again")(s.UpsertConsent(ctx, storage.Consent{UserID: u.ID, ClientID: "app", Scopes: []string{"openid", "email"}}))
	if !reflect.DeepEqual(up.Scopes, []string{"openid", "email"}) || !up.CreatedAt.Equal(base()) {
		t.Errorf("UpsertConsent again = %+v, want new scopes and CreatedAt kept", up)
	}
	same(t, "GetConsent after upsert", must[storage.Consent](t, "GetConsent")(s.GetConsent(ctx, u.ID, "app")), up)
	must[storage.Consent](t, "UpsertConsent other client")(s.UpsertConsent(ctx, storage.Consent{UserID: u.ID, ClientID: "other"}))
	wantErr(t, "DeleteConsent", s.DeleteConsent(ctx, u.ID, "app"), nil)
	wantErr(t, "DeleteConsent again", s.DeleteConsent(ctx, u.ID, "app"), storage.ErrNotFound)
	must[storage.Consent](t, "GetConsent other client")(s.GetConsent(ctx, u.ID, "other"))
}

func keyGen(gen int, algs ...string) []storage.SigningKey {
	var keys []storage.SigningKey
	for _, a := range algs {
		keys = append(keys, storage.SigningKey{
			Generation: gen, Algorithm: a, PublicJWK: []byte(`{"kty":"x"}`), PrivateEncrypted: []byte("sealed"),
		})
	}
	return keys
}

func testSigningKeys(t *testing.T, s storage.Store) {
	ctx := context.Background()
	wantErr(t, "CreateSigningKeys gen 1", s.CreateSigningKeys(ctx, keyGen(1, "RS256", "ES256"), base()), nil)
	keys := must[[]storage.SigningKey](t, "ListSigningKeys")(s.ListSigningKeys(ctx))
	if len(keys) != 2 {
		t.Fatalf("ListSigningKeys = %d keys, want 2", len(keys))
	}
	for _, k := range keys {
		if k.ID == "" || k.CreatedAt.IsZero() || !k.RetiredAt.IsZero() || string(k.PrivateEncrypted) != "sealed" {
			t.Errorf("gen 1 key: %+v", k)
		}
	}

	retire := base().Add(time.Hour)
	wantErr(t, "CreateSigningKeys gen 2", s.CreateSigningKeys(ctx, keyGen(2, "RS256", "ES256"), retire), nil)
	wantErr(t, "CreateSigningKeys gen 2 again", s.CreateSigningKeys(ctx, keyGen(2, "RS256"), base()), storage.ErrAlreadyExists)
	wantErr(t, "CreateSigningKeys gen 1 again", s.CreateSigningKeys(ctx, keyGen(1, "PS256"), base()), storage.ErrAlreadyExists)

	keys = must[[]storage.SigningKey](t, "ListSigningKeys")(s.ListSigningKeys(ctx))
	if len(keys) != 4 {
		t.Fatalf("ListSigningKeys = %d keys, want 4", len(keys))
	}
	for i, k := range keys {
		wantGen := 2
		if i >= 2 {
			wantGen = 1
		}
		if k.Generation != wantGen {
			t.Errorf("ListSigningKeys[%d].Generation = %d, want %d (newest first)", i, k.Generation, wantGen)
		}
		switch {
		case k.Generation == 1 && !k.RetiredAt.Equal(retire):
			t.Errorf("gen 1 key RetiredAt = %v, want %v", k.RetiredAt, retire)
		case k.Generation == 2 && !k.RetiredAt.IsZero():
			t.Errorf("gen 2 key retired: %v", k.RetiredAt)
		}
	}

	// A third generation does not move the retirement of the first.
	wantErr(t, "CreateSigningKeys gen 3", s.CreateSigningKeys(ctx, keyGen(3, "ES256"), retire.Add(time.Hour)), nil)
	n := must[int64](t, "DeleteSigningKeysRetiredBefore")(s.DeleteSigningKeysRetiredBefore(ctx, retire.Add(time.Minute)))
	if n != 2 {
		t.Errorf("DeleteSigningKeysRetiredBefore removed %d, want 2 (generation 1)", n)
	}
	keys = must[[]storage.SigningKey](t, "ListSigningKeys")(s.ListSigningKeys(ctx))
	if len(keys) != 3 || keys[0].Generation != 3 {
		t.Errorf("keys after cleanup: %+v", keys)
	}
}

func testSigningKeysConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	results := make([]error, 10)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = s.CreateSigningKeys(ctx, keyGen(1, "RS256", "ES256"), time.Time{}) })
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, storage.ErrAlreadyExists):
			t.Errorf("concurrent CreateSigningKeys: %v (want nil or ErrAlreadyExists)", err)
		}
	}
	if wins != 1 {
		t.Errorf("concurrent CreateSigningKeys: %d winners, want 1", wins)
	}
	if keys := must[[]storage.SigningKey](t, "ListSigningKeys")(s.ListSigningKeys(ctx)); len(keys) != 2 {
		t.Errorf("keys after concurrent creation = %d, want 2", len(keys))
	}
}

func testTokens(t *testing.T, s storage.Store) {
	ctx := context.Background()
	in := storage.OAuthToken{
		Kind: storage.TokenRefresh, Signature: "sig-r", RequestID: "req-1", ClientID: "app", Subject: "user",
		SessionID: "sid", Active: true, AccessSignature: "sig-a", RequestedAt: base(), ExpiresAt: base().Add(time.Hour),
		Data: []byte(`{"session":{}}`),
	}
	wantErr(t, "CreateToken", s.CreateToken(ctx, in), nil)
	same(t, "GetToken", must[storage.OAuthToken](t, "GetToken")(s.GetToken(ctx, storage.TokenRefresh, "sig-r")), in)
	wantErr(t, "CreateToken duplicate", s.CreateToken(ctx, in), storage.ErrAlreadyExists)
	// The same signature under another kind is a different token.
	other := in
	other.Kind = storage.TokenAccess
	wantErr(t, "CreateToken same signature other kind", s.CreateToken(ctx, other), nil)
	_, err := s.GetToken(ctx, storage.TokenAuthorizeCode, "sig-r")
	wantErr(t, "GetToken other kind", err, storage.ErrNotFound)

	wantErr(t, "DeactivateToken", s.DeactivateToken(ctx, storage.TokenRefresh, "sig-r"), nil)
	if got := must[storage.OAuthToken](t, "GetToken")(s.GetToken(ctx, storage.TokenRefresh, "sig-r")); got.Active {
		t.Errorf("token still active after DeactivateToken")
	}
	wantErr(t, "DeactivateToken again", s.DeactivateToken(ctx, storage.TokenRefresh, "sig-r"), storage.ErrConflict)
	wantErr(t, "DeactivateToken missing", s.DeactivateToken(ctx, storage.TokenRefresh, "nope"), storage.ErrNotFound)
	if got := must[storage.OAuthToken](t, "GetToken")(s.GetToken(ctx, storage.TokenAccess, "sig-r")); !got.Active {
		t.Errorf("DeactivateToken changed a token of another kind")
	}

	// Families.
	for i := range 3 {
		wantErr(t, "CreateToken family", s.CreateToken(ctx, storage.OAuthToken{
			Kind: storage.TokenAccess, Signature: fmt.Sprintf("fam-%d", i), RequestID: "req-2", Active: i != 2,
		}), nil)
	}
	if n := must[int64](t, "DeactivateTokensByRequestID")(s.DeactivateTokensByRequestID(ctx, storage.TokenAccess, "req-2")); n != 2 {
		t.Errorf("DeactivateTokensByRequestID = %d, want 2 (one was inactive)", n)
	}
	if n := must[int64](t, "DeactivateTokensByRequestID other kind")(s.DeactivateTokensByRequestID(ctx, storage.TokenRefresh, "req-2")); n != 0 {
		t.Errorf("DeactivateTokensByRequestID other kind = %d, want 0", n)
	}
	if n := must[int64](t, "DeleteTokensByRequestID")(s.DeleteTokensByRequestID(ctx, storage.TokenAccess, "req-2")); n != 3 {
		t.Errorf("DeleteTokensByRequestID = %d, want 3", n)
	}
	_, err = s.GetToken(ctx, storage.TokenAccess, "fam-0")
	wantErr(t, "GetToken after DeleteTokensByRequestID", err, storage.ErrNotFound)
	must[storage.OAuthToken](t, "GetToken other family member kind")(s.GetToken(ctx, storage.TokenRefresh, "sig-r"))

	wantErr(t, "DeleteToken", s.DeleteToken(ctx, storage.TokenRefresh, "sig-r"), nil)
	wantErr(t, "DeleteToken again", s.DeleteToken(ctx, storage.TokenRefresh, "sig-r"), storage.ErrNotFound)
	// An expired token is still returned; callers decide.
	wantErr(t, "CreateToken expired", s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "exp", Active: true, ExpiresAt: past()}), nil)
	must[storage.OAuthToken](t, "GetToken expired")(s.GetToken(ctx, storage.TokenAccess, "exp"))
}

// race runs fn from concurrency goroutines started together and returns
// their errors.
func race(fn func() error) []error {
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one error is nil and every other is one of
// allowed.
func oneWinner(t *testing.T, what string, errs []error, allowed ...error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || errors.Is(err, a)
		}
		if !ok {
			t.Errorf("%s: unexpected error %v", what, err)
		}
	}
	if wins != 1 {
		t.Errorf("%s: %d winners, want exactly 1", what, wins)
	}
}

func testDeactivateTokenConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for round := range 3 {
		sig := fmt.Sprintf("code-%d", round)
		wantErr(t, "CreateToken", s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAuthorizeCode, Signature: sig, Active: true, ExpiresAt: live()}), nil)
		errs := race(func() error { return s.DeactivateToken(ctx, storage.TokenAuthorizeCode, sig) })
		oneWinner(t, "concurrent DeactivateToken", errs, storage.ErrConflict, storage.ErrNotFound)
	}
}

// rotation is a refresh of family req: sig is presented; the new access and
// refresh tokens carry the suffix n.
func rotation(req, sig, n string) storage.Rotation {
	return storage.Rotation{
		Kind: storage.TokenRefresh, Signature: sig, RequestID: req, RevokeKind: storage.TokenAccess,
		Create: []storage.OAuthToken{
			{Kind: storage.TokenAccess, Signature: "a" + n, RequestID: req, ClientID: "app", Subject: "user",
				SessionID: "sid", Active: true, RequestedAt: base(), ExpiresAt: live(), Data: []byte(`{"a":1}`)},
			{Kind: storage.TokenRefresh, Signature: "r" + n, RequestID: req, ClientID: "app", Subject: "user",
				Active: true, AccessSignature: "a" + n, RequestedAt: base()},
		},
	}
}

func testRotateToken(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, tok := range []storage.OAuthToken{
		{Kind: storage.TokenRefresh, Signature: "r0", RequestID: "req", Active: true},
		{Kind: storage.TokenAccess, Signature: "a0", RequestID: "req", Active: true},
		{Kind: storage.TokenAccess, Signature: "other-a", RequestID: "other", Active: true},
		{Kind: storage.TokenRefresh, Signature: "r-sibling", RequestID: "req", Active: true},
	} {
		wantErr(t, "CreateToken", s.CreateToken(ctx, tok), nil)
	}
	r := rotation("req", "r0", "1")
	wantErr(t, "RotateToken", s.RotateToken(ctx, r), nil)
	active := func(kind storage.TokenKind, sig string) bool {
		t.Helper()
		return must[storage.OAuthToken](t, "GetToken "+sig)(s.GetToken(ctx, kind, sig)).Active
	}
	if active(storage.TokenRefresh, "r0") || active(storage.TokenAccess, "a0") {
		t.Errorf("the presented refresh token or the family's old access token is still active")
	}
	if !active(storage.TokenAccess, "other-a") || !active(storage.TokenRefresh, "r-sibling") {
		t.Errorf("RotateToken deactivated a token of another family or of another kind")
	}
	for _, want := range r.Create {
		same(t, "created "+want.Signature, must[storage.OAuthToken](t, "GetToken")(s.GetToken(ctx, want.Kind, want.Signature)), want)
	}

	// Reusing the rotated token changes nothing.
	wantErr(t, "RotateToken reuse", s.RotateToken(ctx, rotation("req", "r0", "2")), storage.ErrConflict)
	if !active(storage.TokenAccess, "a1") {
		t.Errorf("a failed rotation revoked the family's access token")
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "a2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed rotation created its tokens: %v", err)
	}
	wantErr(t, "RotateToken missing", s.RotateToken(ctx, rotation("req", "nope", "3")), storage.ErrNotFound)

	// A collision on a created token changes nothing.
	clash := rotation("req", "r1", "1")
	wantErr(t, "RotateToken collision", s.RotateToken(ctx, clash), storage.ErrAlreadyExists)
	if !active(storage.TokenRefresh, "r1") || !active(storage.TokenAccess, "a1") {
		t.Errorf("a failed rotation (collision) deactivated tokens")
	}

	// Inside a transaction it joins it.
	txCtx, err := s.BeginTx(ctx)
	wantErr(t, "BeginTx", err, nil)
	wantErr(t, "RotateToken in tx", s.RotateToken(txCtx, rotation("req", "r1", "4")), nil)
	wantErr(t, "Rollback", s.Rollback(txCtx), nil)
	if !active(storage.TokenRefresh, "r1") {
		t.Errorf("a rolled-back rotation deactivated the token")
	}
	if _, err := s.GetToken(ctx, storage.TokenAccess, "a4"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a rolled-back rotation created its tokens: %v", err)
	}
}

func testRotateTokenConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for round := range 3 {
		req, sig := fmt.Sprintf("req-%d", round), fmt.Sprintf("r-%d", round)
		wantErr(t, "CreateToken", s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenRefresh, Signature: sig, RequestID: req, Active: true}), nil)
		var n atomic.Int64
		errs := race(func() error {
			return s.RotateToken(ctx, rotation(req, sig, fmt.Sprintf("-%d-%d", round, n.Add(1))))
		})
		oneWinner(t, "concurrent RotateToken", errs, storage.ErrConflict)
		var created int
		for i := range concurrency {
			if _, err := s.GetToken(ctx, storage.TokenRefresh, fmt.Sprintf("r-%d-%d", round, i+1)); err == nil {
				created++
			}
		}
		if created != 1 {
			t.Errorf("round %d: %d rotations created tokens, want 1", round, created)
		}
	}
}

func testUseJTI(t *testing.T, s storage.Store) {
	ctx := context.Background()
	wantErr(t, "UseJTI", s.UseJTI(ctx, "jti-1", live()), nil)
	wantErr(t, "UseJTI replay", s.UseJTI(ctx, "jti-1", live()), storage.ErrAlreadyExists)
	wantErr(t, "UseJTI expired entry", s.UseJTI(ctx, "jti-2", past()), nil)
	wantErr(t, "UseJTI reuse after expiry", s.UseJTI(ctx, "jti-2", live()), nil)
	wantErr(t, "UseJTI replay after reuse", s.UseJTI(ctx, "jti-2", live()), storage.ErrAlreadyExists)
	errs := race(func() error { return s.UseJTI(ctx, "jti-3", live()) })
	oneWinner(t, "concurrent UseJTI", errs, storage.ErrAlreadyExists, storage.ErrConflict)
}

func testChallenges(t *testing.T, s storage.Store) {
	ctx := context.Background()
	in := storage.Challenge{ID: "ch-1", Kind: "webauthn.login", UserID: "u", Data: []byte("session-data"), CreatedAt: base(), ExpiresAt: live()}
	same(t, "CreateChallenge", must[storage.Challenge](t, "CreateChallenge")(s.CreateChallenge(ctx, in)), in)
	_, err := s.CreateChallenge(ctx, in)
	wantErr(t, "CreateChallenge duplicate", err, storage.ErrAlreadyExists)
	_, err = s.ConsumeChallenge(ctx, "email.link", "ch-1")
	wantErr(t, "ConsumeChallenge other kind", err, storage.ErrNotFound)
	same(t, "ConsumeChallenge", must[storage.Challenge](t, "ConsumeChallenge")(s.ConsumeChallenge(ctx, "webauthn.login", "ch-1")), in)
	_, err = s.ConsumeChallenge(ctx, "webauthn.login", "ch-1")
	wantErr(t, "ConsumeChallenge twice", err, storage.ErrNotFound)
	_, err = s.ConsumeChallenge(ctx, "webauthn.login", "nope")
	wantErr(t, "ConsumeChallenge unknown", err, storage.ErrNotFound)

	must[storage.Challenge](t, "CreateChallenge expired")(s.CreateChallenge(ctx, storage.Challenge{ID: "old", Kind: "k", ExpiresAt: past()}))
	_, err = s.ConsumeChallenge(ctx, "k", "old")
	wantErr(t, "ConsumeChallenge expired", err, storage.ErrNotFound)

	d := must[storage.Challenge](t, "CreateChallenge defaults")(s.CreateChallenge(ctx, storage.Challenge{Kind: "k", ExpiresAt: live()}))
	if d.ID == "" || d.CreatedAt.IsZero() {
		t.Errorf("CreateChallenge defaults: %+v", d)
	}
}

func testConsumeChallengeConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for round := range 3 {
		id := fmt.Sprintf("ch-%d", round)
		must[storage.Challenge](t, "CreateChallenge")(s.CreateChallenge(ctx, storage.Challenge{ID: id, Kind: "k", Data: []byte("x"), ExpiresAt: live()}))
		var mu sync.Mutex
		var got []storage.Challenge
		errs := race(func() error {
			c, err := s.ConsumeChallenge(ctx, "k", id)
			if err == nil {
				mu.Lock()
				got = append(got, c)
				mu.Unlock()
			}
			return err
		})
		oneWinner(t, "concurrent ConsumeChallenge", errs, storage.ErrNotFound)
		if len(got) == 1 && (got[0].ID != id || string(got[0].Data) != "x") {
			t.Errorf("ConsumeChallenge winner got %+v", got[0])
		}
	}
}

func testTransactions(t *testing.T, s storage.Store) {
	ctx := context.Background()

	t.Run("rollback leaves nothing", func(t *testing.T) {
		txCtx, err := s.BeginTx(ctx)
		wantErr(t, "BeginTx", err, nil)
		u := must[storage.User](t, "CreateUser in tx")(s.CreateUser(txCtx, storage.User{ConnectionID: "c", Email: "rb@example.com"}))
		// Reads in the transaction see its writes.
		must[storage.User](t, "GetUser in tx")(s.GetUser(txCtx, u.ID))
		wantErr(t, "CreateToken in tx", s.CreateToken(txCtx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "rb", Active: true}), nil)
		wantErr(t, "Rollback", s.Rollback(txCtx), nil)
		_, err = s.GetUser(ctx, u.ID)
		wantErr(t, "GetUser after rollback", err, storage.ErrNotFound)
		_, err = s.GetToken(ctx, storage.TokenAccess, "rb")
		wantErr(t, "GetToken after rollback", err, storage.ErrNotFound)
	})

	t.Run("commit keeps", func(t *testing.T) {
		txCtx, err := s.BeginTx(ctx)
		wantErr(t, "BeginTx", err, nil)
		u := must[storage.User](t, "CreateUser in tx")(s.CreateUser(txCtx, storage.User{ConnectionID: "c", Email: "c@example.com"}))
		wantErr(t, "DeactivateToken in tx", s.DeactivateToken(txCtx, storage.TokenAccess, "none"), storage.ErrNotFound)
		wantErr(t, "Commit", s.Commit(txCtx), nil)
		// Rollback after Commit is harmless (the deferred-rollback pattern).
		wantErr(t, "Rollback after Commit", s.Rollback(txCtx), nil)
		must[storage.User](t, "GetUser after commit")(s.GetUser(ctx, u.ID))
	})

	t.Run("InTx commits on nil", func(t *testing.T) {
		var id string
		err := s.InTx(ctx, func(ctx context.Context) error {
			u, err := s.CreateUser(ctx, storage.User{ConnectionID: "c", Email: "intx@example.com"})
			id = u.ID
			if err != nil {
				return err
			}
			return s.SetPassword(ctx, u.ID, "hash", 1)
		})
		wantErr(t, "InTx", err, nil)
		must[storage.User](t, "GetUser after InTx")(s.GetUser(ctx, id))
		if creds := must[[]storage.Credential](t, "ListCredentials")(s.ListCredentials(ctx, id, storage.CredentialPassword)); len(creds) != 1 {
			t.Errorf("password after InTx = %d, want 1", len(creds))
		}
	})

	t.Run("InTx rolls back on error", func(t *testing.T) {
		var id string
		err := s.InTx(ctx, func(ctx context.Context) error {
			u, err := s.CreateUser(ctx, storage.User{ConnectionID: "c", Email: "fail@example.com"})
			if err != nil {
				return err
			}
			id = u.ID
			if err := s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "fail", Active: true}); err != nil {
				return err
			}
			return errTest
		})
		wantErr(t, "InTx", err, errTest)
		_, err = s.GetUser(ctx, id)
		wantErr(t, "GetUser after failed InTx", err, storage.ErrNotFound)
		_, err = s.GetToken(ctx, storage.TokenAccess, "fail")
		wantErr(t, "GetToken after failed InTx", err, storage.ErrNotFound)
		// The email is free again.
		mkUser(t, s, "c", "fail@example.com")
	})

	t.Run("InTx rolls back on panic", func(t *testing.T) {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("InTx swallowed a panic")
				}
			}()
			_ = s.InTx(ctx, func(ctx context.Context) error {
				if _, err := s.CreateUser(ctx, storage.User{ConnectionID: "c", Email: "panic@example.com"}); err != nil {
					t.Errorf("CreateUser in tx: %v", err)
				}
				panic("boom")
			})
		}()
		_, err := s.GetUserByEmail(ctx, "c", "panic@example.com")
		wantErr(t, "GetUserByEmail after panic", err, storage.ErrNotFound)
	})

	t.Run("multi-row writes in a failed transaction", func(t *testing.T) {
		u := mkUser(t, s, "c", "multi@example.com")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.DeleteUser(ctx, u.ID); err != nil {
				return err
			}
			if err := s.CreateSigningKeys(ctx, keyGen(7, "RS256"), time.Time{}); err != nil {
				return err
			}
			return errTest
		})
		wantErr(t, "InTx", err, errTest)
		must[storage.User](t, "GetUser after rolled back DeleteUser")(s.GetUser(ctx, u.ID))
		if keys := must[[]storage.SigningKey](t, "ListSigningKeys")(s.ListSigningKeys(ctx)); len(keys) != 0 {
			t.Errorf("signing keys after rollback = %d", len(keys))
		}
	})
}

func testNestedTransactions(t *testing.T, s storage.Store) {
	ctx := context.Background()

	t.Run("inner InTx joins the outer", func(t *testing.T) {
		var inner string
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.InTx(ctx, func(ctx context.Context) error {
				u, err := s.CreateUser(ctx, storage.User{ConnectionID: "c", Email: "inner@example.com"})
				inner = u.ID
				return err
			}); err != nil {
				return err
			}
			return errTest
		})
		wantErr(t, "outer InTx", err, errTest)
		_, err = s.GetUser(ctx, inner)
		wantErr(t, "GetUser after outer rollback", err, storage.ErrNotFound)
	})

	t.Run("nested BeginTx commits with the owner", func(t *testing.T) {
		outer, err := s.BeginTx(ctx)
		wantErr(t, "BeginTx outer", err, nil)
		defer func() { _ = s.Rollback(outer) }()
		innerCtx, err := s.BeginTx(outer)
		wantErr(t, "BeginTx inner", err, nil)
		u := must[storage.User](t, "CreateUser inner")(s.CreateUser(innerCtx, storage.User{ConnectionID: "c", Email: "nested@example.com"}))
		wantErr(t, "Commit inner", s.Commit(innerCtx), nil)
		// Still visible inside the outer transaction, which has not ended.
		must[storage.User](t, "GetUser in outer")(s.GetUser(outer, u.ID))
		wantErr(t, "Commit outer", s.Commit(outer), nil)
		must[storage.User](t, "GetUser after outer commit")(s.GetUser(ctx, u.ID))
	})

	t.Run("inner Rollback dooms the outer", func(t *testing.T) {
		outer, err := s.BeginTx(ctx)
		wantErr(t, "BeginTx outer", err, nil)
		innerCtx, err := s.BeginTx(outer)
		wantErr(t, "BeginTx inner", err, nil)
		u := must[storage.User](t, "CreateUser inner")(s.CreateUser(innerCtx, storage.User{ConnectionID: "c", Email: "doomed@example.com"}))
		wantErr(t, "Rollback inner", s.Rollback(innerCtx), nil)
		if err := s.Commit(outer); err == nil {
			t.Errorf("Commit of an outer transaction after an inner Rollback succeeded")
		}
		_, err = s.GetUser(ctx, u.ID)
		wantErr(t, "GetUser after doomed commit", err, storage.ErrNotFound)
	})
}

func testUpdateClosureErrors(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	c := must[storage.Credential](t, "CreateCredential")(s.CreateCredential(ctx, storage.Credential{UserID: u.ID, Kind: storage.CredentialWebAuthn, ExternalID: []byte("x"), SignCount: 1}))
	se := must[storage.Session](t, "CreateSession")(s.CreateSession(ctx, storage.Session{TokenHash: []byte("h"), UserID: u.ID, ExpiresAt: live()}))
	ar := must[storage.AuthRequest](t, "CreateAuthRequest")(s.CreateAuthRequest(ctx, storage.AuthRequest{ClientID: "app", Form: "a=b", ExpiresAt: live()}))

	tests := []struct {
		name  string
		run   func() error
		check func(t *testing.T)
	}{
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, u.ID, func(x *storage.User) error { x.Name = "changed"; return errTest })
			return err
		}, func(t *testing.T) {
			same(t, "user", must[storage.User](t, "GetUser")(s.GetUser(ctx, u.ID)), u)
		}},
		{"UpdateCredential", func() error {
			_, err := s.UpdateCredential(ctx, c.ID, func(x *storage.Credential) error { x.SignCount = 99; return errTest })
			return err
		}, func(t *testing.T) {
			same(t, "credential", must[storage.Credential](t, "GetCredential")(s.GetCredential(ctx, c.ID)), c)
		}},
		{"UpdateSession", func() error {
			_, err := s.UpdateSession(ctx, se.ID, func(x *storage.Session) error { x.ACR = "changed"; return errTest })
			return err
		}, func(t *testing.T) {
			same(t, "session", must[storage.Session](t, "GetSession")(s.GetSession(ctx, se.ID)), se)
		}},
		{"UpdateAuthRequest", func() error {
			_, err := s.UpdateAuthRequest(ctx, ar.ID, func(x *storage.AuthRequest) error { x.Form = "changed"; return errTest })
			return err
		}, func(t *testing.T) {
			same(t, "auth request", must[storage.AuthRequest](t, "GetAuthRequest")(s.GetAuthRequest(ctx, ar.ID)), ar)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, tt.run(), errTest)
			tt.check(t)
		})
	}
}

func testDeleteExpired(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := mkUser(t, s, "c1", "a@example.com")
	for i, exp := range []time.Time{past(), live(), {}} {
		sfx := fmt.Sprint(i)
		wantErr(t, "CreateToken", s.CreateToken(ctx, storage.OAuthToken{Kind: storage.TokenAccess, Signature: "t" + sfx, Active: true, ExpiresAt: exp}), nil)
		must[storage.AuthRequest](t, "CreateAuthRequest")(s.CreateAuthRequest(ctx, storage.AuthRequest{ID: "ar" + sfx, ExpiresAt: exp}))
		must[storage.Session](t, "CreateSession")(s.CreateSession(ctx, storage.Session{ID: "s" + sfx, TokenHash: []byte("h" + sfx), UserID: u.ID, ExpiresAt: exp}))
		must[storage.Challenge](t, "CreateChallenge")(s.CreateChallenge(ctx, storage.Challenge{ID: "c" + sfx, Kind: "k", ExpiresAt: exp}))
		if !exp.IsZero() {
			wantErr(t, "UseJTI", s.UseJTI(ctx, "j"+sfx, exp), nil)
		}
	}
	n := must[int64](t, "DeleteExpired")(s.DeleteExpired(ctx, time.Now()))
	if n != 5 {
		t.Errorf("DeleteExpired removed %d rows, want 5 (one per table)", n)
	}
	if n := must[int64](t, "DeleteExpired again")(s.DeleteExpired(ctx, time.Now())); n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
	// Unexpired and non-expiring records stay.
	for _, sfx := range []string{"1", "2"} {
		must[storage.OAuthToken](t, "GetToken")(s.GetToken(ctx, storage.TokenAccess, "t"+sfx))
		must[storage.AuthRequest](t, "GetAuthRequest")(s.GetAuthRequest(ctx, "ar"+sfx))
		must[storage.Session](t, "GetSession")(s.GetSession(ctx, "s"+sfx))
	}
	_, err := s.GetToken(ctx, storage.TokenAccess, "t0")
	wantErr(t, "GetToken deleted", err, storage.ErrNotFound)
	wantErr(t, "UseJTI live entry still recorded", s.UseJTI(ctx, "j1", live()), storage.ErrAlreadyExists)
	wantErr(t, "UseJTI deleted entry", s.UseJTI(ctx, "j0", live()), nil)
	// A later "now" sweeps what has expired by then.
	// (j0 was recorded again above.)
	if n := must[int64](t, "DeleteExpired future")(s.DeleteExpired(ctx, time.Now().Add(2*time.Hour))); n != 6 {
		t.Errorf("DeleteExpired two hours ahead removed %d rows, want 6", n)
	}
}

func testDeactivateTokensBySubject(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i, tok := range []storage.OAuthToken{
		{Kind: storage.TokenRefresh, Signature: "r1", Subject: "alice", Active: true},
		{Kind: storage.TokenRefresh, Signature: "r2", Subject: "alice", Active: true},
		{Kind: storage.TokenRefresh, Signature: "r3", Subject: "alice", Active: false},
		{Kind: storage.TokenAccess, Signature: "a1", Subject: "alice", Active: true},
		{Kind: storage.TokenRefresh, Signature: "r4", Subject: "bob", Active: true},
	} {
		wantErr(t, fmt.Sprintf("CreateToken %d", i), s.CreateToken(ctx, tok), nil)
	}
	if n := must[int64](t, "DeactivateTokensBySubject")(s.DeactivateTokensBySubject(ctx, storage.TokenRefresh, "alice")); n != 2 {
		t.Errorf("DeactivateTokensBySubject = %d, want 2 (one was already inactive)", n)
	}
	for _, c := range []struct {
		kind   storage.TokenKind
		sig    string
		active bool
	}{
		{storage.TokenRefresh, "r1", false},
		{storage.TokenRefresh, "r2", false},
		{storage.TokenAccess, "a1", true},
		{storage.TokenRefresh, "r4", true},
	} {
		got := must[storage.OAuthToken](t, "GetToken "+c.sig)(s.GetToken(ctx, c.kind, c.sig))
		if got.Active != c.active {
			t.Errorf("token %s active = %v, want %v", c.sig, got.Active, c.active)
		}
	}
	if n := must[int64](t, "DeactivateTokensBySubject again")(s.DeactivateTokensBySubject(ctx, storage.TokenRefresh, "alice")); n != 0 {
		t.Errorf("second DeactivateTokensBySubject = %d, want 0", n)
	}
	if n := must[int64](t, "DeactivateTokensBySubject unknown")(s.DeactivateTokensBySubject(ctx, storage.TokenRefresh, "nobody")); n != 0 {
		t.Errorf("DeactivateTokensBySubject unknown subject = %d, want 0", n)
	}
}

func testChallengesByUser(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, c := range []storage.Challenge{
		{ID: "a1", Kind: "email.reset", UserID: "alice", ExpiresAt: live()},
		{ID: "a2", Kind: "email.reset", UserID: "alice", ExpiresAt: live()},
		{ID: "a3", Kind: "email.verify", UserID: "alice", ExpiresAt: live()},
		{ID: "b1", Kind: "email.reset", UserID: "bob", ExpiresAt: live()},
		{ID: "old", Kind: "email.reset", UserID: "bob", ExpiresAt: past()},
	} {
		must[storage.Challenge](t, "CreateChallenge "+c.ID)(s.CreateChallenge(ctx, c))
	}
	got := must[storage.Challenge](t, "GetChallenge")(s.GetChallenge(ctx, "email.reset", "a1"))
	if got.UserID != "alice" {
		t.Errorf("GetChallenge = %+v", got)
	}
	// Getting does not consume.
	must[storage.Challenge](t, "GetChallenge again")(s.GetChallenge(ctx, "email.reset", "a1"))
	_, err := s.GetChallenge(ctx, "email.verify", "a1")
	wantErr(t, "GetChallenge other kind", err, storage.ErrNotFound)
	_, err = s.GetChallenge(ctx, "email.reset", "old")
	wantErr(t, "GetChallenge expired", err, storage.ErrNotFound)
	_, err = s.GetChallenge(ctx, "email.reset", "nope")
	wantErr(t, "GetChallenge unknown", err, storage.ErrNotFound)

	if n := must[int64](t, "DeleteUserChallenges")(s.DeleteUserChallenges(ctx, "email.reset", "alice")); n != 2 {
		t.Errorf("DeleteUserChallenges = %d, want 2", n)
	}
	_, err = s.ConsumeChallenge(ctx, "email.reset", "a2")
	wantErr(t, "ConsumeChallenge deleted", err, storage.ErrNotFound)
	must[storage.Challenge](t, "other kind kept")(s.ConsumeChallenge(ctx, "email.verify", "a3"))
	must[storage.Challenge](t, "other user kept")(s.ConsumeChallenge(ctx, "email.reset", "b1"))
	if n := must[int64](t, "DeleteUserChallenges none")(s.DeleteUserChallenges(ctx, "email.reset", "alice")); n != 0 {
		t.Errorf("DeleteUserChallenges with none left = %d, want 0", n)
	}
}

func testLoginFailures(t *testing.T, s storage.Store) {
	ctx := context.Background()
	_, err := s.GetLoginFailure(ctx, "c1", "ada@example.com", "192.0.2.1")
	wantErr(t, "GetLoginFailure none", err, storage.ErrNotFound)

	at := base()
	record := func(ip string, i int) storage.LoginFailure {
		t.Helper()
		return must[storage.LoginFailure](t, "RecordLoginFailure")(s.RecordLoginFailure(ctx, storage.FailedLogin{
			ConnectionID: "c1", Identifier: "ada@example.com", IP: ip, At: at.Add(time.Duration(i) * time.Second), Threshold: 3,
		}))
	}
	f := record("192.0.2.1", 0)
	same(t, "first failure", f, storage.LoginFailure{
		ConnectionID: "c1", Identifier: "ada@example.com", IP: "192.0.2.1", Count: 1, FirstAt: at, LastAt: at,
	})
	if f.Blocked() {
		t.Error("blocked after one failure with threshold 3")
	}
	record("192.0.2.1", 1)
	f = record("192.0.2.1", 2)
	if f.Count != 3 || !f.BlockedAt.Equal(at.Add(2*time.Second)) || !f.FirstAt.Equal(at) {
		t.Errorf("third failure = %+v; want count 3, blocked at the third", f)
	}
	f = record("192.0.2.1", 3)
	if f.Count != 4 || !f.BlockedAt.Equal(at.Add(2*time.Second)) || !f.LastAt.Equal(at.Add(3*time.Second)) {
		t.Errorf("fourth failure = %+v; want count 4, BlockedAt kept", f)
	}
	same(t, "GetLoginFailure", must[storage.LoginFailure](t, "GetLoginFailure")(s.GetLoginFailure(ctx, "c1", "ada@example.com", "192.0.2.1")), f)

	// Other IPs, identifiers and connections count apart.
	if g := record("198.51.100.7", 0); g.Count != 1 || g.Blocked() {
		t.Errorf("other IP = %+v", g)
	}
	record(storage.AnyIP, 0)
	o := must[storage.LoginFailure](t, "RecordLoginFailure other connection")(s.RecordLoginFailure(ctx, storage.FailedLogin{
		ConnectionID: "c2", Identifier: "ada@example.com", IP: "192.0.2.1", At: at, Threshold: 1,
	}))
	if o.Count != 1 || !o.BlockedAt.Equal(at) {
		t.Errorf("threshold 1 = %+v; want blocked at the first failure", o)
	}
	n := must[storage.LoginFailure](t, "RecordLoginFailure no threshold")(s.RecordLoginFailure(ctx, storage.FailedLogin{
		ConnectionID: "c1", Identifier: "bob", IP: "192.0.2.1", At: at,
	}))
	if n.Blocked() {
		t.Errorf("threshold 0 blocked: %+v", n)
	}
	_, err = s.RecordLoginFailure(ctx, storage.FailedLogin{ConnectionID: "c1", Identifier: "", IP: "192.0.2.1"})
	if err == nil {
		t.Error("RecordLoginFailure without identifier succeeded")
	}

	list := must[[]storage.LoginFailure](t, "ListLoginFailures")(s.ListLoginFailures(ctx, "c1", "ada@example.com"))
	var ips []string
	for _, l := range list {
		ips = append(ips, l.IP)
	}
	if want := []string{storage.AnyIP, "192.0.2.1", "198.51.100.7"}; !reflect.DeepEqual(ips, want) {
		t.Errorf("ListLoginFailures IPs = %v, want %v", ips, want)
	}

	if n := must[int64](t, "ResetLoginFailures one IP")(s.ResetLoginFailures(ctx, "c1", "ada@example.com", "192.0.2.1")); n != 1 {
		t.Errorf("ResetLoginFailures one IP = %d, want 1", n)
	}
	_, err = s.GetLoginFailure(ctx, "c1", "ada@example.com", "192.0.2.1")
	wantErr(t, "GetLoginFailure after reset", err, storage.ErrNotFound)
	if f := record("192.0.2.1", 10); f.Count != 1 || f.Blocked() {
		t.Errorf("failure after reset = %+v; want a fresh counter", f)
	}
	if n := must[int64](t, "ResetLoginFailures all")(s.ResetLoginFailures(ctx, "c1", "ada@example.com", "")); n != 3 {
		t.Errorf("ResetLoginFailures all = %d, want 3", n)
	}
	if n := must[int64](t, "ResetLoginFailures nothing")(s.ResetLoginFailures(ctx, "c1", "ada@example.com", "")); n != 0 {
		t.Errorf("ResetLoginFailures with nothing left = %d, want 0", n)
	}
	must[storage.LoginFailure](t, "other connection kept")(s.GetLoginFailure(ctx, "c2", "ada@example.com", "192.0.2.1"))
}

// testLoginFailuresConcurrent checks that concurrent failures (replicas,
// parallel requests) never lose a count and block exactly once.
func testLoginFailuresConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Second)
	var mu sync.Mutex
	blockedAt := map[time.Time]int{}
	var counts []int
	errs := race(func() error {
		f, err := s.RecordLoginFailure(ctx, storage.FailedLogin{
			ConnectionID: "c1", Identifier: "ada@example.com", IP: "192.0.2.1", At: at, Threshold: 10,
		})
		if err == nil {
			mu.Lock()
			counts = append(counts, f.Count)
			if f.Blocked() {
				blockedAt[f.BlockedAt]++
			}
			mu.Unlock()
		}
		return err
	})
	for _, err := range errs {
		wantErr(t, "concurrent RecordLoginFailure", err, nil)
	}
	f := must[storage.LoginFailure](t, "GetLoginFailure")(s.GetLoginFailure(ctx, "c1", "ada@example.com", "192.0.2.1"))
	if f.Count != concurrency || !f.Blocked() {
		t.Errorf("after %d concurrent failures: %+v", concurrency, f)
	}
	seen := map[int]bool{}
	for _, c := range counts {
		if seen[c] {
			t.Errorf("two failures both saw count %d", c)
		}
		seen[c] = true
	}
	if len(blockedAt) != 1 {
		t.Errorf("BlockedAt values seen = %v, want one", blockedAt)
	}
}

func testLoginFailuresExpiry(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	rec := func(at, exp time.Time) storage.LoginFailure {
		t.Helper()
		return must[storage.LoginFailure](t, "RecordLoginFailure")(s.RecordLoginFailure(ctx, storage.FailedLogin{
			ConnectionID: "c1", Identifier: "ada", IP: "192.0.2.1", At: at, Threshold: 2, ExpiresAt: exp,
		}))
	}
	// Two failures an hour and a half ago, forgotten an hour after the last.
	rec(now.Add(-91*time.Minute), now.Add(-31*time.Minute))
	f := rec(now.Add(-90*time.Minute), now.Add(-30*time.Minute))
	if !f.Blocked() || !f.ExpiresAt.Equal(now.Add(-30*time.Minute)) {
		t.Fatalf("second failure = %+v; want blocked, expiry moved", f)
	}
	_, err := s.GetLoginFailure(ctx, "c1", "ada", "192.0.2.1")
	wantErr(t, "GetLoginFailure expired", err, storage.ErrNotFound)
	if l := must[[]storage.LoginFailure](t, "ListLoginFailures")(s.ListLoginFailures(ctx, "c1", "ada")); len(l) != 0 {
		t.Errorf("ListLoginFailures returned expired counters: %+v", l)
	}
	// A failure after the expiry starts again.
	f = rec(now, now.Add(time.Hour))
	if f.Count != 1 || f.Blocked() || !f.FirstAt.Equal(now) {
		t.Errorf("failure after expiry = %+v; want a fresh counter", f)
	}
	// DeleteExpired sweeps expired counters and keeps the others.
	must[storage.LoginFailure](t, "RecordLoginFailure other")(s.RecordLoginFailure(ctx, storage.FailedLogin{
		ConnectionID: "c1", Identifier: "bob", IP: "192.0.2.1", At: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour),
	}))
	must[storage.LoginFailure](t, "RecordLoginFailure no expiry")(s.RecordLoginFailure(ctx, storage.FailedLogin{
		ConnectionID: "c1", Identifier: "cy", IP: "192.0.2.1", At: now,
	}))
	if n := must[int64](t, "DeleteExpired")(s.DeleteExpired(ctx, now)); n != 1 {
		t.Errorf("DeleteExpired removed %d, want 1 (bob's counter)", n)
	}
	must[storage.LoginFailure](t, "unexpired kept")(s.GetLoginFailure(ctx, "c1", "ada", "192.0.2.1"))
	must[storage.LoginFailure](t, "never-expiring kept")(s.GetLoginFailure(ctx, "c1", "cy", "192.0.2.1"))
}
