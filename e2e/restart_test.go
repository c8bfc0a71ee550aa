package e2e

import (
	"net/http/httptest"
	"testing"
)

// testRestart: a login started on server A is finished on server B, a new
// latchkey.New over the same database and secret after A stopped. Nothing
// of a pending login may live only in A's memory: the stored request, the
// browser's cookies and the form's CSRF token must all work on B.
func testRestart(t *testing.T, e *env) {
	srvA := httptest.NewUnstartedServer(nil)
	addr := srvA.Listener.Addr().String()
	issuer := "http://" + addr
	a1 := startLatchkey(t, issuer, e.store)
	srvA.Config.Handler = a1
	srvA.Start()
	stoppedA := false
	t.Cleanup(func() {
		if !stoppedA {
			srvA.Close()
			_ = a1.Close()
		}
	})

	re := &env{store: e.store, issuer: issuer, alice: e.alice}
	re.discover(t)
	// b0 logs in on A; b starts a login on A and finishes it on B.
	b0 := re.newBrowser(t)
	re.code(t, b0, re.authz(t, webClient, "openid"), e.alice.Email, userPassword)
	b := re.newBrowser(t)
	a := re.authz(t, webClient, "openid email")
	p := b.get(t, a.String())
	if p.path() != "/u/login" {
		t.Fatalf("want the login page, got %s (status %d)", p.URL, p.Status)
	}
	p = b.submit(t, p, fields{"username": e.alice.Email})
	if p.path() != "/u/login/password" {
		t.Fatalf("want the password page, got %s (status %d): %s", p.URL, p.Status, excerpt(p.Body))
	}

	// Stop A; start B on the same address, store and secret.
	srvA.Close()
	if err := a1.Close(); err != nil {
		t.Errorf("close server A: %v", err)
	}
	stoppedA = true
	b1 := startLatchkey(t, issuer, e.store)
	srvB := httptest.NewUnstartedServer(b1)
	srvB.Listener.Close()
	srvB.Listener = listenSame(t, addr)
	srvB.Start()
	t.Cleanup(func() {
		srvB.Close()
		_ = b1.Close()
	})

	p = b.submit(t, p, fields{"password": userPassword})
	cb := p.callback(t, webRedirect)
	re.checkResponse(t, a, cb)
	if cb.Code == "" {
		t.Fatalf("finishing the login on B: error %q (%s)", cb.Error, cb.ErrorDescription)
	}
	_, _, c := re.mustExchange(t, a, cb.Code)
	if c.Sub != e.alice.ID || c.Email != e.alice.Email {
		t.Errorf("sub %q email %q, want Alice", c.Sub, c.Email)
	}
	// Browser sessions made on A and on B both work on B.
	for name, br := range map[string]*browser{"session from A": b0, "session from B": b} {
		a = re.authz(t, webClient, "openid").set("prompt", "none")
		cb := br.get(t, a.String()).callback(t, webRedirect)
		re.checkResponse(t, a, cb)
		if cb.Code == "" {
			t.Errorf("%s: prompt=none on B: error %q, want a code", name, cb.Error)
		}
	}
}
