package e2e

import (
	"testing"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/sqlstore"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

// TestEndToEnd runs every case on each backend. A backend gets one fresh
// database and one provider, shared by the cases (each case uses its own
// browser, so cookies never leak between cases); Alice signs up once.
//
// Run one case with e.g. go test ./e2e -run 'TestEndToEnd/.*/code_flow'.
func TestEndToEnd(t *testing.T) {
	sqltest.ForEach(t, func(t *testing.T, s *sqlstore.Store) {
		e := newEnv(t, s)
		var err error
		e.alice, err = s.UpdateUser(bg(), e.alice.ID, func(u *storage.User) error {
			u.EmailVerified = true
			u.Name = "Alice Liddell"
			u.GivenName = "Alice"
			u.FamilyName = "Liddell"
			u.Nickname = "alice"
			return nil
		})
		if err != nil {
			t.Fatalf("update Alice: %v", err)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { c.fn(t, e) })
		}
		// Cases that wait for the clock (auth_time has one-second
		// resolution) run in parallel with each other.
		t.Run("clock", func(t *testing.T) {
			for _, c := range clockCases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, e)
				})
			}
		})
	})
}

type testCase struct {
	name string
	fn   func(t *testing.T, e *env)
}

var cases = []testCase{
	{"health", testHealth},
	{"discovery", testDiscovery},
	{"code_flow_confidential", testCodeFlowConfidential},
	{"code_flow_scopes", testCodeFlowScopes},
	{"code_flow_client_secret_post", testCodeFlowClientSecretPost},
	{"code_flow_pkce_public", testCodeFlowPKCEPublic},
	{"pkce", testPKCE},
	{"unknown_parameters_ignored", testUnknownParameters},
	{"claims_parameter", testClaimsParameter},
	{"acr_password", testACRPassword},
	{"unknown_scopes_ignored", testUnknownScopesIgnored},
	{"auth_style_autodetect", testAuthStyleAutoDetect},
	{"refresh_rotation_and_reuse", testRefreshRotationAndReuse},
	{"userinfo", testUserinfo},
	{"revocation", testRevocation},
	{"introspection_client_auth", testIntrospectionClientAuth},
	{"client_credentials", testClientCredentials},
	{"private_key_jwt", testPrivateKeyJWT},
	{"es256_client", testES256Client},
	{"login_pages", testLoginPages},
	{"login_csrf", testLoginCSRF},
	{"logout", testLogout},
	{"logout_confirm", testLogoutConfirm},
	{"prompt_none", testPromptNone},
	{"prompt_create", testPromptCreate},
	{"consent", testConsent},
	{"connections", testConnections},
	{"redirect_uri_mutations", testRedirectURIMutations},
	{"authorization_errors_iss", testAuthorizationErrorsIss},
	{"cors", testCORS},
	{"code_reuse_sequential", testCodeReuseSequential},
	{"code_reuse_concurrent", testCodeReuseConcurrent},
	{"refresh_concurrent", testRefreshConcurrent},
	{"resume_unknown_state", testResumeUnknownState},
	{"resume_other_browser", testResumeOtherBrowser},
	{"restart", testRestart},
	{"replicas", testReplicas},
}

var clockCases = []testCase{
	{"prompt_login", testPromptLogin},
	{"max_age", testMaxAge},
}
