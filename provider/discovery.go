package provider

import (
	"encoding/json"
	"fmt"
)

// discoveryDocument is the OpenID Provider Metadata (OpenID Connect
// Discovery 1.0, RFC 8414) of what this package composes.
type discoveryDocument struct {
	Issuer                                     string   `json:"issuer"`
	AuthorizationEndpoint                      string   `json:"authorization_endpoint"`
	TokenEndpoint                              string   `json:"token_endpoint"`
	UserinfoEndpoint                           string   `json:"userinfo_endpoint"`
	JWKSURI                                    string   `json:"jwks_uri"`
	RevocationEndpoint                         string   `json:"revocation_endpoint"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint"`
	EndSessionEndpoint                         string   `json:"end_session_endpoint"`
	ScopesSupported                            []string `json:"scopes_supported"`
	ResponseTypesSupported                     []string `json:"response_types_supported"`
	ResponseModesSupported                     []string `json:"response_modes_supported"`
	GrantTypesSupported                        []string `json:"grant_types_supported"`
	SubjectTypesSupported                      []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported           []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgValuesSupported []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                            []string `json:"claims_supported"`
	ClaimTypesSupported                        []string `json:"claim_types_supported"`
	PromptValuesSupported                      []string `json:"prompt_values_supported"`
	ACRValuesSupported                         []string `json:"acr_values_supported"`
	DisplayValuesSupported                     []string `json:"display_values_supported"`
	ClaimsParameterSupported                   bool     `json:"claims_parameter_supported"`
	RequestParameterSupported                  bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported               bool     `json:"request_uri_parameter_supported"`
	AuthorizationResponseISSParameterSupported bool     `json:"authorization_response_iss_parameter_supported"`
	FrontchannelLogoutSupported                bool     `json:"frontchannel_logout_supported"`
	BackchannelLogoutSupported                 bool     `json:"backchannel_logout_supported"`
}

// assertionAlgs are the client assertion algorithms fosite verifies for
// private_key_jwt.
func assertionAlgs() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
}

// buildDiscovery renders the metadata once; it changes only with Config.
func (p *Provider) buildDiscovery() ([]byte, error) {
	iss := p.cfg.Issuer
	doc := discoveryDocument{
		Issuer:                           iss,
		AuthorizationEndpoint:            iss + PathAuthorize,
		TokenEndpoint:                    iss + PathToken,
		UserinfoEndpoint:                 iss + PathUserinfo,
		JWKSURI:                          iss + PathJWKS,
		RevocationEndpoint:               iss + PathRevoke,
		IntrospectionEndpoint:            iss + PathIntrospect,
		EndSessionEndpoint:               iss + PathEndSession,
		ScopesSupported:                  p.cfg.ScopesSupported,
		ResponseTypesSupported:           []string{"code"},
		ResponseModesSupported:           []string{"query", "form_post"},
		GrantTypesSupported:              []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: signingAlgs(),
		TokenEndpointAuthMethodsSupported: []string{
			AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodPrivateKeyJWT, AuthMethodNone,
		},
		TokenEndpointAuthSigningAlgValuesSupported: assertionAlgs(),
		RevocationEndpointAuthMethodsSupported: []string{
			AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodPrivateKeyJWT, AuthMethodNone,
		},
		IntrospectionEndpointAuthMethodsSupported: []string{
			AuthMethodClientSecretBasic, AuthMethodClientSecretPost, AuthMethodPrivateKeyJWT,
		},
		CodeChallengeMethodsSupported: []string{"S256"},
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "at_hash",
			"email", "email_verified",
			"name", "given_name", "family_name", "nickname", "preferred_username", "picture", "locale", "updated_at",
		},
		ClaimTypesSupported:                        []string{"normal"},
		PromptValuesSupported:                      []string{"none", "login", "consent", "create"},
		ACRValuesSupported:                         []string{ACRPhishingResistant, ACRPhishingResistantHardware, ACRMultiFactor},
		DisplayValuesSupported:                     []string{"page"},
		ClaimsParameterSupported:                   true,
		RequestParameterSupported:                  false,
		RequestURIParameterSupported:               false,
		AuthorizationResponseISSParameterSupported: true,
		FrontchannelLogoutSupported:                false,
		BackchannelLogoutSupported:                 false,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode discovery document: %w", err)
	}
	return b, nil
}
