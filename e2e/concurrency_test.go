package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
)

// testCodeReuseSequential: a code works once; the second redemption is
// invalid_grant and revokes what the first one issued.
func testCodeReuseSequential(t *testing.T, e *env) {
	b := e.newBrowser(t)
	a := e.authz(t, webClient, "openid offline_access")
	cb := e.code(t, b, a, e.alice.Email, userPassword)
	tok, _, _ := e.mustExchange(t, a, cb.Code)
	if !e.active(t, tok.AccessToken) {
		t.Fatalf("fresh access token inactive")
	}

	r := e.token(t, webClient, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {webRedirect}})
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("second redemption: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}
	if e.active(t, tok.AccessToken) {
		t.Errorf("after code reuse, the first redemption's access token is still active")
	}
	if tok.RefreshToken != "" {
		if r := e.token(t, webClient, refreshForm(tok.RefreshToken)); r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
			t.Errorf("after code reuse, refresh: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
		}
	}

	// A code is bound to its client and redirect URI.
	a = e.authz(t, webClient, "openid")
	cb = e.code(t, b, a, "", "")
	r = e.token(t, thirdPartyClient, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {webRedirect}})
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("code redeemed by another client: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}
	a = e.authz(t, webClient, "openid")
	cb = e.code(t, b, a, "", "")
	r = e.token(t, webClient, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {webRedirect + "/other"}})
	if r.Status != http.StatusBadRequest || r.str("error") != "invalid_grant" {
		t.Errorf("code redeemed with another redirect_uri: status %d %s, want 400 invalid_grant", r.Status, r.Raw)
	}
}

// race sends n copies of one token request at once and tallies the
// answers.
func (e *env) race(t *testing.T, n int, endpoint string, form url.Values, user, pass string) (ok []jsonResponse, tally map[string]int) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	tally = map[string]int{}
	for range n {
		wg.Go(func() {
			<-start
			r, err := e.tryPost(endpoint, form, user, pass, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				tally["transport error: "+err.Error()]++
			case r.Status == http.StatusOK:
				ok = append(ok, r)
				tally["200"]++
			default:
				k := fmt.Sprintf("%d %s", r.Status, r.str("error"))
				if tally[k] == 0 && r.str("error") != "invalid_grant" {
					t.Logf("example of %s: %s", k, r.Raw)
				}
				tally[k]++
			}
		})
	}
	close(start)
	wg.Wait()
	return ok, tally
}

func fmtTally(m map[string]int) string {
	var ks []string
	for k, v := range m {
		ks = append(ks, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// check5xx fails the test for any 5xx or transport error in a tally.
func check5xx(t *testing.T, tally map[string]int) {
	t.Helper()
	for k := range tally {
		if strings.HasPrefix(k, "5") || strings.HasPrefix(k, "transport") {
			t.Errorf("got %s", k)
		}
	}
}

// testCodeReuseConcurrent: of 20 simultaneous redemptions of one code
// exactly one succeeds, the rest get invalid_grant, none a 5xx, and the
// winner's tokens end up revoked.
func testCodeReuseConcurrent(t *testing.T, e *env) {
	const n = 20
	b := e.newBrowser(t)
	e.code(t, b, e.authz(t, webClient, "openid"), e.alice.Email, userPassword)
	// A few rounds, because a race shows only sometimes.
	for round := range raceRounds {
		a := e.authz(t, webClient, "openid offline_access")
		cb := e.code(t, b, a, "", "")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {cb.Code}, "redirect_uri": {webRedirect}}
		ok, tally := e.race(t, n, e.endpoint(t, "token_endpoint"), form, webClient, secrets.web)
		t.Logf("round %d, %d concurrent redemptions: %s", round, n, fmtTally(tally))
		check5xx(t, tally)
		if len(ok) != 1 {
			t.Fatalf("%d redemptions succeeded, want exactly 1", len(ok))
		}
		if tally["400 invalid_grant"] != n-1 {
			t.Errorf("%d invalid_grant, want %d", tally["400 invalid_grant"], n-1)
		}
		if e.active(t, ok[0].str("access_token")) {
			t.Errorf("the winner's access token is still active after the code was reused")
		}
		if rt := ok[0].str("refresh_token"); rt != "" {
			if r := e.token(t, webClient, refreshForm(rt)); r.Status != http.StatusBadRequest {
				t.Errorf("the winner's refresh token still works: status %d", r.Status)
			}
		}
	}
}

// raceRounds is how many times each race runs.
const raceRounds = 3

// testRefreshConcurrent: of 20 simultaneous refreshes with one refresh
// token exactly one succeeds, the rest get invalid_grant, none a 5xx.
func testRefreshConcurrent(t *testing.T, e *env) {
	const n = 20
	for round := range raceRounds {
		tok, _ := e.loginTokens(t, "openid offline_access")
		ok, tally := e.race(t, n, e.endpoint(t, "token_endpoint"), refreshForm(tok.RefreshToken), webClient, secrets.web)
		t.Logf("round %d, %d concurrent refreshes: %s", round, n, fmtTally(tally))
		check5xx(t, tally)
		if len(ok) != 1 {
			t.Fatalf("%d refreshes succeeded, want exactly 1", len(ok))
		}
		if tally["400 invalid_grant"] != n-1 {
			t.Errorf("%d invalid_grant, want %d", tally["400 invalid_grant"], n-1)
		}
	}
}
