// Package provider is Latchkey's OAuth 2.0 / OpenID Connect engine: it
// composes fosite, adapts fosite's storage interfaces to storage.Store,
// keeps the token-signing keys (and publishes them as a JWKS), precomputes
// the discovery document, and maps login evidence to the amr and acr claims.
//
// What it composes, explicitly (never compose.ComposeAllEnabled): the
// authorization code grant with PKCE (S256 only, required for public
// clients), refresh tokens with rotation and family revocation on reuse,
// client credentials, the OpenID Connect explicit flow and ID tokens on
// refresh, token revocation (RFC 7009) and introspection (RFC 7662). There is
// no implicit, hybrid or password grant. Access and refresh tokens are
// opaque HMAC tokens whose key is derived from Config.Secret, so every
// replica given the same secret accepts the others' tokens.
//
// Concurrency (fosite issue #778): fosite leaves the atomicity of "redeem
// this code" and "rotate this refresh token" to the storage. The Adapter
// turns both into conditional updates (storage.TokenStore.DeactivateToken),
// and Provider.Token turns a lost race into invalid_grant (never a 5xx) and
// revokes the whole grant family once the failed transaction is rolled back:
// a code or refresh token presented twice, concurrently or not, leaves no
// token of its grant active.
//
// Imports: storage (domain types and the Store interface), connector (types
// only: login evidence), fosite, go-jose (v3 where fosite's interfaces ask
// for it, v4 for our own JWKS and ID token verification) and
// golang.org/x/crypto. It never imports GORM, HTTP handlers or templates;
// the only net/http it touches is what fosite's request and response
// methods take.
package provider
