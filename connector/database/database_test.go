package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// testParams keeps hashing cheap in tests.
func testParams() password.Params {
	return password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

func newHasher(t testing.TB, p password.Params) *password.Hasher {
	t.Helper()
	h, err := password.NewHasher(p, 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var connSeq atomic.Int64

// openConn stores a fresh database connection with settings and opens it
// with a fixed clock.
func openConn(t *testing.T, store storage.Store, h *password.Hasher, settings string) *Connection {
	t.Helper()
	ctx := context.Background()
	stored, err := store.UpsertConnection(ctx, storage.Connection{
		Name:     fmt.Sprintf("db-%d", connSeq.Add(1)),
		Type:     Type,
		Settings: []byte(settings),
	})
	if err != nil {
		t.Fatalf("store connection: %v", err)
	}
	c, err := Open(stored, store, h, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	c.now = func() time.Time { return testNow }
	return c
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const goodPassword = "Correct-Horse-9"

func mustSignup(t *testing.T, c *Connection, p connector.Profile, pw string) storage.User {
	t.Helper()
	u, _, err := c.Signup(context.Background(), p, pw)
	if err != nil {
		t.Fatalf("Signup(%q): %v", p.Email, err)
	}
	return u
}

func TestOpen(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	h := newHasher(t, testParams())
	good := storage.Connection{ID: "c1", Name: "db", Type: Type, Settings: []byte(`{}`)}
	tests := []struct {
		name   string
		conn   storage.Connection
		store  storage.Store
		hasher *password.Hasher
		ok     bool
	}{
		{"database type", good, s, h, true},
		{"empty type", storage.Connection{ID: "c1", Name: "db"}, s, h, true},
		{"other type", storage.Connection{ID: "c1", Name: "db", Type: "ldap"}, s, h, false},
		{"no ID", storage.Connection{Name: "db", Type: Type}, s, h, false},
		{"bad settings", storage.Connection{ID: "c1", Name: "db", Settings: []byte(`{"password_policy":{"strength":"meh"}}`)}, s, h, false},
		{"no store", good, nil, h, false},
		{"no hasher", good, s, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(tt.conn, tt.store, tt.hasher, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("Open: %v, want ok %v", err, tt.ok)
			}
			if err == nil && c.Connection().ID != tt.conn.ID {
				t.Fatalf("Connection() = %+v", c.Connection())
			}
		})
	}
}

func TestConnectionAccessors(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	h := newHasher(t, testParams())
	c := openConn(t, s, h, `{"disable_signup": true, "password_policy": {"strength": "fair", "history": 3}}`)
	if c.SignupAllowed() {
		t.Error("SignupAllowed() = true with disable_signup")
	}
	if got := c.Settings().PasswordPolicy.History; got != 3 {
		t.Errorf("Settings().PasswordPolicy.History = %d", got)
	}
	want := []string{
		"At least 8 characters",
		"A lower-case letter (a-z), an upper-case letter (A-Z) and a number (0-9)",
		"Not a commonly used password",
		"Not containing your name, username or email address",
		"Different from your last 3 passwords",
	}
	if got := c.PasswordRules(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("PasswordRules() = %q", got)
	}
	if !openConn(t, s, h, `{}`).SignupAllowed() {
		t.Error("SignupAllowed() = false by default")
	}
}

func TestSignup(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())

		t.Run("creates user and password", func(t *testing.T) {
			c := openConn(t, s, h, `{}`)
			u, m, err := c.Signup(ctx, connector.Profile{Email: "  Ann.Lee@Example.COM ", Name: " Ann Lee ", GivenName: "Ann", Locale: "en"}, goodPassword)
			if err != nil {
				t.Fatalf("Signup: %v", err)
			}
			if u.ID == "" || u.Email != "ann.lee@example.com" || u.ConnectionID != c.Connection().ID || u.Name != "Ann Lee" || u.Locale != "en" {
				t.Fatalf("user = %+v", u)
			}
			if u.EmailVerified || u.Blocked {
				t.Fatalf("new user verified or blocked: %+v", u)
			}
			if !u.LastLoginAt.Equal(testNow) {
				t.Fatalf("LastLoginAt = %v, want the sign-up time", u.LastLoginAt)
			}
			if m.Kind != connector.MethodPassword || !m.Time.Equal(testNow) || m.CredentialID == "" {
				t.Fatalf("method = %+v", m)
			}
			creds, err := s.ListCredentials(ctx, u.ID, "")
			if err != nil || len(creds) != 1 {
				t.Fatalf("credentials = %+v, %v", creds, err)
			}
			cred := creds[0]
			if cred.ID != m.CredentialID || cred.Kind != storage.CredentialPassword || !strings.HasPrefix(cred.Secret, "$argon2id$v=19$") {
				t.Fatalf("credential = %+v", cred)
			}
			if ok, err := h.Verify(ctx, cred.Secret, goodPassword); err != nil || !ok {
				t.Fatalf("stored hash does not verify: %v, %v", ok, err)
			}
			if _, _, err := c.Login(ctx, "ann.lee@example.com", goodPassword); err != nil {
				t.Fatalf("Login after sign-up: %v", err)
			}
		})

		t.Run("with username", func(t *testing.T) {
			c := openConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "bo@example.com", Username: " Bo_77 "}, goodPassword)
			if u.Username != "bo_77" {
				t.Fatalf("Username = %q", u.Username)
			}
		})

		t.Run("disabled", func(t *testing.T) {
			c := openConn(t, s, h, `{"disable_signup": true}`)
			_, _, err := c.Signup(ctx, connector.Profile{Email: "cy@example.com"}, goodPassword)
			if !errors.Is(err, connector.ErrSignupDisabled) {
				t.Fatalf("Signup = %v, want ErrSignupDisabled", err)
			}
			if _, err := s.GetUserByEmail(ctx, c.Connection().ID, "cy@example.com"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("user created anyway: %v", err)
			}
		})

		t.Run("rejections", func(t *testing.T) {
			c := openConn(t, s, h, `{}`)
			mustSignup(t, c, connector.Profile{Email: "dee@example.com", Username: "dee"}, goodPassword)
			tests := []struct {
				name    string
				profile connector.Profile
				pw      string
				field   string // FieldError field
				rule    string // PolicyError rule
				exists  bool
			}{
				{"same email", connector.Profile{Email: "dee@example.com"}, goodPassword, "", "", true},
				{"same email other case", connector.Profile{Email: " DEE@Example.com"}, goodPassword, "", "", true},
				{"same username", connector.Profile{Email: "dee2@example.com", Username: "DEE"}, goodPassword, "", "", true},
				{"existing account before a weak password", connector.Profile{Email: "dee@example.com"}, "x", "", "", true},
				{"invalid email", connector.Profile{Email: "dee@localhost"}, goodPassword, "email", "", false},
				{"missing email", connector.Profile{}, goodPassword, "email", "", false},
				{"username in email format", connector.Profile{Email: "eve@example.com", Username: "eve@home.example"}, goodPassword, "username", "", false},
				{"long name", connector.Profile{Email: "eve@example.com", Name: strings.Repeat("é", 256)}, goodPassword, "name", "", false},
				{"long locale", connector.Profile{Email: "eve@example.com", Locale: strings.Repeat("x", 36)}, goodPassword, "locale", "", false},
				{"empty password", connector.Profile{Email: "eve@example.com"}, "", "", password.RuleMinLength, false},
				{"short password", connector.Profile{Email: "eve@example.com"}, "Ab1!", "", password.RuleMinLength, false},
				{"two character types", connector.Profile{Email: "eve@example.com"}, "abcdefgh1", "", password.RuleCharacterTypes, false},
				{"common password", connector.Profile{Email: "eve@example.com"}, "Password1", "", password.RuleDictionary, false},
				{"email in password", connector.Profile{Email: "eve.smith@example.com"}, "Eve.Smith-2024", "", password.RulePersonalInfo, false},
				{"name in password", connector.Profile{Email: "eve@example.com", FamilyName: "Kowalski"}, "KOWALSKI-rules-1", "", password.RulePersonalInfo, false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					_, _, err := c.Signup(ctx, tt.profile, tt.pw)
					var fe *connector.FieldError
					var pe *connector.PolicyError
					switch {
					case tt.exists:
						if !errors.Is(err, connector.ErrUserExists) {
							t.Fatalf("Signup = %v, want ErrUserExists", err)
						}
					case tt.field != "":
						if !errors.As(err, &fe) || fe.Field != tt.field {
							t.Fatalf("Signup = %v, want FieldError %s", err, tt.field)
						}
					default:
						if !errors.As(err, &pe) || pe.Rule != tt.rule {
							t.Fatalf("Signup = %v, want PolicyError %s", err, tt.rule)
						}
					}
					if tt.exists {
						return
					}
					users, err := s.ListUsers(ctx, storage.UserFilter{ConnectionID: c.Connection().ID})
					if err != nil || len(users) != 1 {
						t.Fatalf("users after a rejected sign-up: %d, %v", len(users), err)
					}
				})
			}
		})

		t.Run("connections are separate", func(t *testing.T) {
			a, b := openConn(t, s, h, `{}`), openConn(t, s, h, `{}`)
			mustSignup(t, a, connector.Profile{Email: "fay@example.com"}, goodPassword)
			mustSignup(t, b, connector.Profile{Email: "fay@example.com"}, "Other-Horse-8")
			if _, _, err := a.Login(ctx, "fay@example.com", "Other-Horse-8"); !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Fatalf("password of the other connection: %v", err)
			}
		})

		t.Run("user and password in one transaction", func(t *testing.T) {
			failing := &failingStore{Store: s, failCredential: errors.New("disk full")}
			c := openConn(t, s, h, `{}`)
			c.store = failing
			_, _, err := c.Signup(ctx, connector.Profile{Email: "gil@example.com"}, goodPassword)
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Signup = %v, want the credential error", err)
			}
			if _, err := s.GetUserByEmail(ctx, c.Connection().ID, "gil@example.com"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("user left without a password: %v", err)
			}
			c.store = s
			mustSignup(t, c, connector.Profile{Email: "gil@example.com"}, goodPassword)
		})

		t.Run("concurrent sign-ups of one email", func(t *testing.T) {
			c := openConn(t, s, h, `{}`)
			const n = 4
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					_, _, errs[i] = c.Signup(ctx, connector.Profile{Email: "hal@example.com"}, goodPassword)
				})
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, connector.ErrUserExists):
				default:
					t.Errorf("Signup: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d sign-ups succeeded, want 1", won)
			}
		})
	})
}

func TestLogin(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		c := openConn(t, s, h, `{}`)
		ivy := mustSignup(t, c, connector.Profile{Email: "ivy@example.com", Username: "ivy"}, goodPassword)
		jon := mustSignup(t, c, connector.Profile{Email: "jon@example.com"}, goodPassword)
		if _, err := s.UpdateUser(ctx, jon.ID, func(u *storage.User) error { u.Blocked = true; return nil }); err != nil {
			t.Fatal(err)
		}
		noPassword, err := c.CreateUser(ctx, connector.Profile{Email: "kim@example.com"}, "")
		if err != nil {
			t.Fatal(err)
		}
		other := openConn(t, s, h, `{}`)
		mustSignup(t, other, connector.Profile{Email: "lou@example.com"}, goodPassword)

		tests := []struct {
			name       string
			identifier string
			pw         string
			expected   error
			user       string
		}{
			{"email", "ivy@example.com", goodPassword, nil, ivy.ID},
			{"email with case and spaces", "  IVY@Example.com ", goodPassword, nil, ivy.ID},
			{"username", "Ivy", goodPassword, nil, ivy.ID},
			{"wrong password", "ivy@example.com", "Correct-Horse-8", connector.ErrInvalidCredentials, ""},
			{"password case matters", "ivy@example.com", strings.ToLower(goodPassword), connector.ErrInvalidCredentials, ""},
			{"empty password", "ivy@example.com", "", connector.ErrInvalidCredentials, ""},
			{"huge password", "ivy@example.com", strings.Repeat("x", 1<<20), connector.ErrInvalidCredentials, ""},
			{"unknown email", "nobody@example.com", goodPassword, connector.ErrInvalidCredentials, ""},
			{"unknown username", "nobody", goodPassword, connector.ErrInvalidCredentials, ""},
			{"empty identifier", "", goodPassword, connector.ErrInvalidCredentials, ""},
			{"blocked, right password", "jon@example.com", goodPassword, connector.ErrUserBlocked, ""},
			{"blocked, wrong password", "jon@example.com", "nope", connector.ErrInvalidCredentials, ""},
			{"user without password", "kim@example.com", goodPassword, connector.ErrInvalidCredentials, ""},
			{"user of another connection", "lou@example.com", goodPassword, connector.ErrInvalidCredentials, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				u, m, err := c.Login(ctx, tt.identifier, tt.pw)
				if tt.expected != nil {
					if !errors.Is(err, tt.expected) {
						t.Fatalf("Login = %v, want %v", err, tt.expected)
					}
					if u.ID != "" || m.Kind != "" {
						t.Fatalf("failed Login returned %+v, %+v", u, m)
					}
					return
				}
				if err != nil {
					t.Fatalf("Login: %v", err)
				}
				if u.ID != tt.user {
					t.Fatalf("Login user = %s, want %s", u.ID, tt.user)
				}
				if m.Kind != connector.MethodPassword || !m.Time.Equal(testNow) || m.CredentialID == "" {
					t.Fatalf("method = %+v", m)
				}
			})
		}
		if noPassword.ID == "" {
			t.Fatal("CreateUser without password gave no user")
		}

		t.Run("records login and use", func(t *testing.T) {
			later := testNow.Add(time.Hour)
			c.now = func() time.Time { return later }
			defer func() { c.now = func() time.Time { return testNow } }()
			u, m, err := c.Login(ctx, "ivy@example.com", goodPassword)
			if err != nil {
				t.Fatal(err)
			}
			if !u.LastLoginAt.Equal(later) {
				t.Fatalf("returned LastLoginAt = %v", u.LastLoginAt)
			}
			stored, err := s.GetUser(ctx, ivy.ID)
			if err != nil || !stored.LastLoginAt.Equal(later) {
				t.Fatalf("stored LastLoginAt = %v, %v", stored.LastLoginAt, err)
			}
			cred, err := s.GetCredential(ctx, m.CredentialID)
			if err != nil || !cred.LastUsedAt.Equal(later) {
				t.Fatalf("credential LastUsedAt = %v, %v", cred.LastUsedAt, err)
			}
		})

		t.Run("lookup", func(t *testing.T) {
			if u, err := c.LookupUser(ctx, " IVY@example.com"); err != nil || u.ID != ivy.ID {
				t.Fatalf("LookupUser(email) = %v, %v", u.ID, err)
			}
			if u, err := c.LookupUser(ctx, "ivy"); err != nil || u.ID != ivy.ID {
				t.Fatalf("LookupUser(username) = %v, %v", u.ID, err)
			}
			for _, id := range []string{"", "nobody@example.com", "nobody", "lou@example.com"} {
				if _, err := c.LookupUser(ctx, id); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("LookupUser(%q) = %v, want ErrNotFound", id, err)
				}
			}
		})
	})
}

// Unknown users, users without a password and wrong passwords all cost a
// hash: with the context ended right after the lookup, every one of them
// fails with the context's error from the hasher instead of answering at
// once.
func TestLoginAlwaysHashes(t *testing.T) {
	s := sqltest.Open(t, sqlstore.DriverSQLite)
	h := newHasher(t, testParams())
	c := openConn(t, s, h, `{}`)
	mustSignup(t, c, connector.Profile{Email: "max@example.com"}, goodPassword)
	if _, err := c.CreateUser(context.Background(), connector.Profile{Email: "kim@example.com"}, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		identifier string
		lastRead   string // the store read after which only hashing is left
	}{
		{"nobody@example.com", "GetUserByEmail"},
		{"nobody", "GetUserByUsername"},
		{"kim@example.com", "ListCredentials"},
		{"max@example.com", "ListCredentials"},
	}
	for _, tt := range tests {
		t.Run(tt.identifier, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.store = &failingStore{Store: s, afterRead: func(method string) {
				if method == tt.lastRead {
					cancel()
				}
			}}
			defer func() { c.store = s }()
			_, _, err := c.Login(ctx, tt.identifier, "Wrong-Horse-1")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Login = %v, want the hasher's context.Canceled", err)
			}
		})
	}
}

func TestLoginUpgradesHash(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		oldParams := testParams()
		newParams := oldParams
		newParams.Time = 2
		oldHasher, newHasher := newHasher(t, oldParams), newHasher(t, newParams)

		stored := openConn(t, s, oldHasher, `{}`).Connection()
		old, err := Open(stored, s, oldHasher, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := mustSignup(t, old, connector.Profile{Email: "ned@example.com"}, goodPassword)

		// An imported bcrypt user of the same connection.
		bc, err := bcrypt.GenerateFromPassword([]byte("Imported-Pass-1"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		imported, err := old.CreateUser(ctx, connector.Profile{Email: "ola@example.com"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateCredential(ctx, storage.Credential{UserID: imported.ID, Kind: storage.CredentialPassword, Secret: string(bc)}); err != nil {
			t.Fatal(err)
		}

		c, err := Open(stored, s, newHasher, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct{ email, pw, userID string }{
			{"ned@example.com", goodPassword, u.ID},
			{"ola@example.com", "Imported-Pass-1", imported.ID},
		} {
			t.Run(tt.email, func(t *testing.T) {
				_, m, err := c.Login(ctx, tt.email, tt.pw)
				if err != nil {
					t.Fatalf("Login: %v", err)
				}
				cred, err := s.GetCredential(ctx, m.CredentialID)
				if err != nil {
					t.Fatal(err)
				}
				if newHasher.NeedsRehash(cred.Secret) {
					t.Fatalf("hash not upgraded: %s", cred.Secret)
				}
				if !strings.Contains(cred.Secret, "t=2") {
					t.Fatalf("hash %s lacks the new parameters", cred.Secret)
				}
				if _, _, err := c.Login(ctx, tt.email, tt.pw); err != nil {
					t.Fatalf("Login with upgraded hash: %v", err)
				}
				creds, err := s.ListCredentials(ctx, tt.userID, "")
				if err != nil || len(creds) != 1 {
					t.Fatalf("upgrade changed the credentials: %d, %v", len(creds), err)
				}
			})
		}
	})
}

func TestCreateUser(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		c := openConn(t, s, h, `{"disable_signup": true}`)

		u, err := c.CreateUser(ctx, connector.Profile{Email: "Pam@Example.com", Name: "Pam"}, goodPassword)
		if err != nil {
			t.Fatalf("CreateUser with sign-up disabled: %v", err)
		}
		if u.Email != "pam@example.com" || !u.LastLoginAt.IsZero() {
			t.Fatalf("user = %+v; want normalised email and no login", u)
		}
		if _, _, err := c.Login(ctx, "pam@example.com", goodPassword); err != nil {
			t.Fatalf("Login: %v", err)
		}

		quinn, err := c.CreateUser(ctx, connector.Profile{Email: "quinn@example.com"}, "")
		if err != nil {
			t.Fatalf("CreateUser without password: %v", err)
		}
		if creds, err := s.ListCredentials(ctx, quinn.ID, ""); err != nil || len(creds) != 0 {
			t.Fatalf("credentials of a password-less user: %+v, %v", creds, err)
		}

		var pe *connector.PolicyError
		if _, err := c.CreateUser(ctx, connector.Profile{Email: "rae@example.com"}, "password"); !errors.As(err, &pe) {
			t.Fatalf("CreateUser with a weak password = %v, want PolicyError", err)
		}
		if _, err := c.CreateUser(ctx, connector.Profile{Email: "pam@example.com"}, ""); !errors.Is(err, connector.ErrUserExists) {
			t.Fatalf("CreateUser duplicate = %v, want ErrUserExists", err)
		}
		var fe *connector.FieldError
		if _, err := c.CreateUser(ctx, connector.Profile{Email: "not-an-email"}, ""); !errors.As(err, &fe) {
			t.Fatalf("CreateUser invalid email = %v, want FieldError", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		h := newHasher(t, testParams())
		pws := []string{"First-Horse-1", "Second-Horse-2", "Third-Horse-3", "Fourth-Horse-4"}

		t.Run("history", func(t *testing.T) {
			c := openConn(t, s, h, `{"password_policy": {"history": 3}}`)
			u := mustSignup(t, c, connector.Profile{Email: "sam@example.com"}, pws[0])
			for _, pw := range pws[1:3] {
				if err := c.ChangePassword(ctx, u.ID, pw); err != nil {
					t.Fatalf("ChangePassword(%s): %v", pw, err)
				}
			}
			// The last three: pws[2] (current), pws[1], pws[0].
			for _, pw := range pws[:3] {
				var pe *connector.PolicyError
				if err := c.ChangePassword(ctx, u.ID, pw); !errors.As(err, &pe) || pe.Rule != password.RuleHistory {
					t.Fatalf("ChangePassword(%s) = %v, want the history rule", pw, err)
				}
			}
			if err := c.ChangePassword(ctx, u.ID, pws[3]); err != nil {
				t.Fatalf("ChangePassword(new): %v", err)
			}
			// pws[0] has left the last three.
			if err := c.ChangePassword(ctx, u.ID, pws[0]); err != nil {
				t.Fatalf("ChangePassword(fourth-last): %v", err)
			}
			if _, _, err := c.Login(ctx, "sam@example.com", pws[0]); err != nil {
				t.Fatalf("Login with the new password: %v", err)
			}
			if _, _, err := c.Login(ctx, "sam@example.com", pws[3]); !errors.Is(err, connector.ErrInvalidCredentials) {
				t.Fatalf("Login with the old password = %v", err)
			}
			hist, err := s.ListCredentials(ctx, u.ID, storage.CredentialPasswordHistory)
			if err != nil || len(hist) != 2 {
				t.Fatalf("kept %d history hashes (%v), want 2", len(hist), err)
			}
		})

		t.Run("no history", func(t *testing.T) {
			c := openConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "tia@example.com"}, pws[0])
			if err := c.ChangePassword(ctx, u.ID, pws[0]); err != nil {
				t.Fatalf("ChangePassword(same) without history: %v", err)
			}
			if hist, _ := s.ListCredentials(ctx, u.ID, storage.CredentialPasswordHistory); len(hist) != 0 {
				t.Fatalf("kept %d history hashes without history", len(hist))
			}
		})

		t.Run("policy", func(t *testing.T) {
			c := openConn(t, s, h, `{}`)
			u := mustSignup(t, c, connector.Profile{Email: "uma.rossi@example.com"}, pws[0])
			for _, pw := range []string{"", "short", "Password1", "Uma.Rossi-99"} {
				var pe *connector.PolicyError
				if err := c.ChangePassword(ctx, u.ID, pw); !errors.As(err, &pe) {
					t.Errorf("ChangePassword(%q) = %v, want PolicyError", pw, err)
				}
			}
			if _, _, err := c.Login(ctx, "uma.rossi@example.com", pws[0]); err != nil {
				t.Fatalf("a rejected change replaced the password: %v", err)
			}
		})

		t.Run("sets a first password", func(t *testing.T) {
			c := openConn(t, s, h, `{"password_policy": {"history": 2}}`)
			u, err := c.CreateUser(ctx, connector.Profile{Email: "val@example.com"}, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.ChangePassword(ctx, u.ID, pws[0]); err != nil {
				t.Fatalf("ChangePassword: %v", err)
			}
			if _, _, err := c.Login(ctx, "val@example.com", pws[0]); err != nil {
				t.Fatalf("Login: %v", err)
			}
		})

		t.Run("unknown or foreign user", func(t *testing.T) {
			c, other := openConn(t, s, h, `{}`), openConn(t, s, h, `{}`)
			w := mustSignup(t, other, connector.Profile{Email: "wes@example.com"}, pws[0])
			for _, id := range []string{"no-such-user", w.ID} {
				if err := c.ChangePassword(ctx, id, pws[1]); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("ChangePassword(%s) = %v, want ErrNotFound", id, err)
				}
			}
		})
	})
}

// failingStore wraps a store to inject failures and observe reads.
type failingStore struct {
	storage.Store
	// failCredential, when set, is CreateCredential's error.
	failCredential error
	// afterRead, when set, runs after each user or credential read with the
	// method's name.
	afterRead func(method string)
}

func (f *failingStore) CreateCredential(ctx context.Context, c storage.Credential) (storage.Credential, error) {
	if f.failCredential != nil {
		return storage.Credential{}, f.failCredential
	}
	return f.Store.CreateCredential(ctx, c)
}

func (f *failingStore) read(method string) {
	if f.afterRead != nil {
		f.afterRead(method)
	}
}

func (f *failingStore) GetUserByEmail(ctx context.Context, connectionID, email string) (storage.User, error) {
	defer f.read("GetUserByEmail")
	return f.Store.GetUserByEmail(ctx, connectionID, email)
}

func (f *failingStore) GetUserByUsername(ctx context.Context, connectionID, username string) (storage.User, error) {
	defer f.read("GetUserByUsername")
	return f.Store.GetUserByUsername(ctx, connectionID, username)
}

func (f *failingStore) ListCredentials(ctx context.Context, userID string, kind storage.CredentialKind) ([]storage.Credential, error) {
	defer f.read("ListCredentials")
	return f.Store.ListCredentials(ctx, userID, kind)
}
