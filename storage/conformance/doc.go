// Package conformance is the test suite every storage.Store backend runs,
// so that all backends keep the same contract: CRUD of every entity, the
// ErrNotFound / ErrAlreadyExists / ErrConflict semantics, expiry,
// transactions (and that failing closures change nothing), and the
// single-winner guarantees under concurrency that the OAuth 2.0 and
// WebAuthn layers rely on (DeactivateToken, ConsumeChallenge, UseJTI,
// CreateSigningKeys).
//
// A backend's test calls Run with a constructor for fresh, empty stores:
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, func(t *testing.T) storage.Store { return newEmptyStore(t) })
//	}
//
// This package may import only the standard library (testing included) and
// storage.
package conformance
