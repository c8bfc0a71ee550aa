package mfa

// FactorEnabled reports whether people of the connection can use and enrol
// factor kind k: the policy enables it and, for security keys, a
// security-key relying party is configured. Pages use it to offer only
// what works.
func (s *Service) FactorEnabled(k FactorKind) bool {
	if !s.policy.Enabled(k) {
		return false
	}
	return k != FactorWebAuthnRoaming || s.sk != nil
}
