package e2e

import (
	"testing"

	"github.com/latchkey/latchkey/connector/password"
	"github.com/latchkey/latchkey/storage"
)

// testConnections: connection= picks the connection; accounts and browser
// sessions of one connection do not count in another; a connection without
// sign-up creates no account.
func testConnections(t *testing.T, e *env) {
	conn, err := e.store.GetConnectionByName(bg(), inviteOnlyConnection)
	if err != nil {
		t.Fatalf("get connection %s: %v", inviteOnlyConnection, err)
	}
	// Bob exists only in the invite-only connection, made through the store
	// with the connector's own hasher.
	hasher, err := password.NewHasher(password.DefaultParams(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := hasher.Hash(bg(), userPassword)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.store.CreateUser(bg(), storage.User{ConnectionID: conn.ID, Email: "bob@example.com", EmailVerified: true})
	if err != nil {
		t.Fatalf("create Bob: %v", err)
	}
	if err := e.store.SetPassword(bg(), bob.ID, hash, 0); err != nil {
		t.Fatalf("set Bob's password: %v", err)
	}

	// Bob logs in through connection=.
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid email").set("connection", inviteOnlyConnection)
	cb := e.code(t, b, a, "bob@example.com", userPassword)
	_, _, c := e.mustExchange(t, a, cb.Code)
	if c.Sub != bob.ID || !slices0(c.AMR, "pwd") {
		t.Errorf("Bob via connection=: sub %q amr %v, want %q [pwd]", c.Sub, c.AMR, bob.ID)
	}

	// Bob's session is for the invite-only connection: the default one
	// asks for a login, and Bob has no account there.
	a = e.authz(t, webClient, "openid").set("prompt", "none")
	cb = b.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "login_required" {
		t.Errorf("session of another connection with prompt=none: error %q code %q, want login_required", cb.Error, cb.Code)
	}
	p := b.get(t, e.authz(t, webClient, "openid").String())
	if p.path() != "/u/login" {
		t.Fatalf("session of another connection: got %s, want the login page", p.URL)
	}
	// Identifier-first: an unknown email leads to sign-up here.
	p = b.submit(t, p, fields{"username": "bob@example.com"})
	if p.path() == "/u/login/password" {
		p = b.submit(t, p, fields{"password": userPassword})
	}
	if p.Location != nil {
		t.Errorf("Bob logged in to the default connection, where he has no account: %s", p.Location)
	}

	// Alice (default connection) cannot log in to the invite-only one.
	b2 := e.newBrowser(t)
	p = b2.get(t, e.authz(t, webClient, "openid").set("connection", inviteOnlyConnection).String())
	if p.path() == "/u/login" {
		p = b2.submit(t, p, fields{"username": e.alice.Email})
		if p.path() == "/u/login/password" {
			p = b2.submit(t, p, fields{"password": userPassword})
		}
	}
	if p.Location != nil {
		t.Errorf("Alice logged in to a connection where she has no account: %s", p.Location)
	}

	// No sign-up on the invite-only connection, not even with prompt=create.
	b3 := e.newBrowser(t)
	a = e.authz(t, webClient, "openid").set("connection", inviteOnlyConnection).set("prompt", "create")
	p = b3.get(t, a.String())
	if p.Status >= 500 {
		t.Fatalf("prompt=create on a connection without sign-up: status %d", p.Status)
	}
	if p.path() == "/u/signup" {
		p = b3.submit(t, p, fields{"email": "mallory@example.com", "password": userPassword})
		if p.Location != nil && p.Location.Query().Get("code") != "" {
			t.Errorf("sign-up on a connection without sign-up issued a code")
		}
	}
	if _, err := e.store.GetUserByEmail(bg(), conn.ID, "mallory@example.com"); err == nil {
		t.Errorf("sign-up on a connection without sign-up created an account")
	}

	// An unknown connection, or one the client may not use, is an error
	// for the client.
	a = e.authz(t, webClient, "openid").set("connection", "no-such-connection")
	cb = b3.get(t, a.String()).callback(t, webRedirect)
	e.checkResponse(t, a, cb)
	if cb.Error != "invalid_request" {
		t.Errorf("unknown connection: error %q, want invalid_request", cb.Error)
	}
}

func slices0(l []string, v string) bool { return len(l) == 1 && l[0] == v }
