package provider_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/ory/fosite"

	"github.com/latchkey/latchkey/provider"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// rounds is how many times each race is run: the interleavings differ
// from round to round.
const rounds = 5

// concurrently runs fn n times at once and returns the results.
func concurrently(n int, fn func() tokenResult) []tokenResult {
	results := make([]tokenResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return results
}

// tally checks that exactly one request succeeded and all others got
// invalid_grant, and returns the winner.
func tally(t *testing.T, results []tokenResult) tokenResult {
	t.Helper()
	var winners []tokenResult
	for _, r := range results {
		switch {
		case r.status == http.StatusOK:
			winners = append(winners, r)
		case r.status >= 500:
			t.Errorf("server error: %d %v", r.status, r.body)
		case r.status != http.StatusBadRequest || r.str("error") != "invalid_grant":
			t.Errorf("loser got %d %v, want 400 invalid_grant", r.status, r.body)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d requests succeeded, want exactly 1", len(winners))
	}
	return winners[0]
}

func TestConcurrentCodeRedemption(t *testing.T) {
	const n = 20
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		for range rounds {
			code := f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"})
			winner := tally(t, concurrently(n, func() tokenResult { return f.exchange(webClientID, code, "") }))
			if f.active(winner.str("access_token"), fosite.AccessToken) {
				t.Error("the winner's access token is still active")
			}
			if f.active(winner.str("refresh_token"), fosite.RefreshToken) {
				t.Error("the winner's refresh token is still active")
			}
		}
	})
}

func TestConcurrentRefresh(t *testing.T) {
	const n = 20
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		f := newFixture(t, s)
		for range rounds {
			first := f.exchange(webClientID, f.code(authorizeOpts{clientID: webClientID, scope: "openid offline_access"}), "")
			if first.status != http.StatusOK {
				t.Fatalf("exchange: %d %v", first.status, first.body)
			}
			rt := first.str("refresh_token")
			winner := tally(t, concurrently(n, func() tokenResult { return f.refresh(webClientID, rt) }))
			// The refresh token was presented more than once: the grant is
			// revoked, as for sequential reuse.
			if f.active(winner.str("access_token"), fosite.AccessToken) || f.active(winner.str("refresh_token"), fosite.RefreshToken) {
				t.Error("tokens of a concurrently reused refresh token are still active")
			}
		}
	})
}

func TestConcurrentNewCreatesOneKeyGeneration(t *testing.T) {
	const n = 6
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		providers := make([]*provider.Provider, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				providers[i], errs[i] = provider.New(context.Background(), provider.Config{Issuer: testIssuer, Secret: testSecret()}, s)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("new: %v", err)
			}
		}
		keys, err := s.ListSigningKeys(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 2 {
			t.Fatalf("%d keys stored, want one generation of 2", len(keys))
		}
		for _, p := range providers[1:] {
			if string(p.JWKSJSON()) != string(providers[0].JWKSJSON()) {
				t.Fatal("providers publish different keys")
			}
		}
	})
}
