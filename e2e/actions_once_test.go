package e2e

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/actions"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestActionsOncePerFlow: post-login actions run once per authorization
// flow, also when a consent page comes between the single sign-on and the
// code (the outcome waits in the flow state), and their claims still reach
// the token.
func TestActionsOncePerFlow(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		var runs atomic.Int64
		e := newMFAEnv(t, s, func(cfg *latchkey.Config) {
			cfg.Actions.Hooks = []actions.Action{{Name: "count", Hook: actions.HookFunc(func(_ context.Context, _ *actions.Event, api *actions.API) error {
				runs.Add(1)
				return api.SetIDTokenClaim("https://example.com/run", "yes")
			})}}
		})
		b := e.newBrowser(t)
		a := e.authz(t, webClient, "openid")
		e.codeOf(t, a, e.passwordSignup(t, b, a, "actions-once@example.com"))
		if n := runs.Load(); n != 1 {
			t.Fatalf("the sign-up ran the actions %d times, want 1", n)
		}

		// Single sign-on to a third-party client: actions, then consent, then
		// the code — the actions run once.
		a = e.authz(t, thirdPartyClient, "openid")
		p := b.get(t, a.String())
		if p.path() != "/u/consent" {
			t.Fatalf("want the consent page, got %s (status %d)", p.URL, p.Status)
		}
		_, _, c := e.mustExchange(t, a, e.codeOf(t, a, b.submit(t, p, fields{press("action", "accept"): ""})))
		if n := runs.Load(); n != 2 {
			t.Errorf("single sign-on with consent ran the actions %d times in all, want 2 (once per flow)", n)
		}
		if c.All["https://example.com/run"] != "yes" {
			t.Errorf("the action's claim is missing from the ID token: %v", c.All)
		}
	})
}
