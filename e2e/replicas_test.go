package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
)

// roundRobin sends each request to the next replica, like a load balancer
// without sticky sessions.
type roundRobin struct {
	next     atomic.Uint64
	replicas []http.Handler
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := rr.next.Add(1)
	rr.replicas[int(n)%len(rr.replicas)].ServeHTTP(w, r)
}

// testReplicas: two replicas (two latchkey.New over one database and
// secret) behind a round-robin balancer. Every step of a login, and every
// token endpoint call, may land on either: nothing may live in one
// replica's memory, and both sign with the same keys.
func testReplicas(t *testing.T, e *env) {
	srv := httptest.NewUnstartedServer(nil)
	issuer := "http://" + srv.Listener.Addr().String()
	r1 := startLatchkey(t, issuer, e.store)
	r2 := startLatchkey(t, issuer, e.store)
	srv.Config.Handler = &roundRobin{replicas: []http.Handler{r1, r2}}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		_ = r1.Close()
		_ = r2.Close()
	})

	re := &env{store: e.store, issuer: issuer, alice: e.alice}
	re.discover(t)
	for i := range 3 {
		b := re.newBrowser(t)
		a := re.authz(t, webClient, "openid email offline_access")
		cb := re.code(t, b, a, e.alice.Email, userPassword)
		tok, _, c := re.mustExchange(t, a, cb.Code)
		if c.Sub != e.alice.ID {
			t.Errorf("round %d: sub %q", i, c.Sub)
		}
		for range 2 {
			if !re.active(t, tok.AccessToken) {
				t.Errorf("round %d: access token inactive on a replica", i)
			}
		}
		r := re.token(t, webClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if r.Status != http.StatusOK {
			t.Fatalf("round %d: refresh: %d %s", i, r.Status, r.Raw)
		}
		a = re.authz(t, webClient, "openid").set("prompt", "none")
		if cb := b.get(t, a.String()).callback(t, webRedirect); cb.Code == "" {
			t.Errorf("round %d: prompt=none across replicas: error %q", i, cb.Error)
		}
	}
}
