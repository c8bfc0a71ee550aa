package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// BenchmarkPasskeyLogin is a whole passkey login by a new browser over
// HTTP, with the software authenticator: authorize (to the login page),
// login/begin, the authenticator's signature, login/finish, the resume
// redirect with the code, and the code exchange at the token endpoint.
// Each step's mean cost is reported in ms (authenticator-ms is the
// client's ES256 signature, not the server's work); "serial" is one
// browser at a time, "parallel8" eight at once (throughput, logins/s).
//
//	LATCHKEY_TEST_POSTGRES_DSN=... go test -run '^$' -bench PasskeyLogin -benchtime 3s ./e2e/
func BenchmarkPasskeyLogin(b *testing.B) {
	for _, backend := range sqltest.Backends(b) {
		e := newPasskeyEnv(b, sqltest.Open(b, backend), 1)
		// 32 users with a passkey each, taken in turn, so that parallel
		// logins do not queue on one credential's row lock (the counter's
		// compare-and-set) as no real traffic would.
		auths := make([]*passkeytest.Authenticator, 32)
		for i := range auths {
			auths[i] = passkeytest.New(e.issuer)
			e.passkeyUser(b, auths[i], "", fmt.Sprintf("pk-bench-%d@example.com", i))
		}
		var next atomic.Uint64
		auth := func() *passkeytest.Authenticator { return auths[next.Add(1)%uint64(len(auths))] }
		b.Run(backend, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) {
				var st passkeySteps
				for b.Loop() {
					st.login(b, e.env, auth())
				}
				st.report(b)
			})
			b.Run("parallel8", func(b *testing.B) {
				var st passkeySteps
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						st.login(b, e.env, auth())
					}
				})
				st.report(b)
			})
		})
	}
}

// passkeySteps accumulates the time spent in each step, in ns.
type passkeySteps struct {
	authorize, begin, authenticator, finish, resume, token atomic.Int64
}

func (st *passkeySteps) login(b *testing.B, e *env, auth *passkeytest.Authenticator) {
	br := e.newBrowser(b)
	a := e.authz(b, webClient, "openid email")
	lap := func(into *atomic.Int64, start time.Time) time.Time {
		now := time.Now()
		into.Add(int64(now.Sub(start)))
		return now
	}
	t0 := time.Now()
	p := br.get(b, a.String())
	state := p.URL.Query().Get("state")
	if p.path() != "/u/login" || state == "" {
		b.Fatalf("authorize: got %s", p.URL)
	}
	t0 = lap(&st.authorize, t0)
	c := e.mustBegin(b, br, pathLoginBegin, map[string]any{"state": state})
	t0 = lap(&st.begin, t0)
	resp, err := auth.Get(c.PublicKey, passkeytest.Tamper{})
	if err != nil {
		b.Fatal(err)
	}
	t0 = lap(&st.authenticator, t0)
	fin := e.apiPost(b, br, pathLoginFinish, map[string]any{"state": state, "ceremony": c.ID, "credential": json.RawMessage(resp)}, nil)
	next := e.redirectOf(b, fin)
	t0 = lap(&st.finish, t0)
	cb := br.get(b, next).callback(b, webRedirect)
	if cb.Code == "" {
		b.Fatalf("resume: error %q", cb.Error)
	}
	t0 = lap(&st.resume, t0)
	r := e.token(b, webClient, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {webRedirect}})
	if r.Status != http.StatusOK || r.str("id_token") == "" {
		b.Fatalf("token: %d %s", r.Status, r.Raw)
	}
	lap(&st.token, t0)
}

func (st *passkeySteps) report(b *testing.B) {
	n := float64(b.N)
	ms := func(v *atomic.Int64) float64 { return float64(v.Load()) / n / 1e6 }
	b.ReportMetric(ms(&st.authorize), "authorize-ms")
	b.ReportMetric(ms(&st.begin), "begin-ms")
	b.ReportMetric(ms(&st.authenticator), "authenticator-ms")
	b.ReportMetric(ms(&st.finish), "finish-ms")
	b.ReportMetric(ms(&st.resume), "resume-ms")
	b.ReportMetric(ms(&st.token), "token-ms")
	b.ReportMetric(n/b.Elapsed().Seconds(), "logins/s")
}
