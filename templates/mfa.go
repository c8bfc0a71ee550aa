package templates

import (
	"html/template"
	"io"
)

// Template files of the MFA step, the account page's MFA section and the
// page of a login that a post-login action stopped.
const (
	mfaChallengeFile = "mfa_challenge.html"
	mfaEnrollFile    = "mfa_enroll.html"
	mfaCodesFile     = "mfa_recovery_codes.html"
	mfaAccountFile   = "mfa_account.html"
	actionDenied     = "action_denied.html"
)

// mfaPages lists the MFA pages with zero-value data (see pages).
func mfaPages() map[string]any {
	return map[string]any{
		mfaChallengeFile: MFAChallengeData{},
		mfaEnrollFile:    MFAEnrollData{},
		mfaCodesFile:     MFARecoveryCodesData{},
		mfaAccountFile:   MFAAccountData{},
		actionDenied:     ActionDeniedData{},
	}
}

// SecurityKeyUI is what a page tells mfa.js (security keys as a second
// factor) through data attributes. An empty API offers no security key.
type SecurityKeyUI struct {
	// API is the URL path of the page's security-key JSON endpoints
	// (API + "/begin", API + "/finish").
	API string
	// State is the login flow's ID, sent with every call ("" on the account
	// page, which uses the session).
	State string
}

// MFAChallengeData is the second-factor page of a login: a code from an
// authenticator app, a recovery code or a security key.
type MFAChallengeData struct {
	Page
	// Action is where the code form posts (fields "code", "kind").
	Action string
	// Kind is the code the form asks for: "otp" or "recovery-code".
	Kind string
	// Email names the person logging in.
	Email string
	// Error is shown under the code field.
	Error string
	// OTPURL, RecoveryURL switch the page to the other kind of code (empty:
	// the person has no such factor, or it is the current one).
	OTPURL      string
	RecoveryURL string
	// SecurityKey offers "Use a security key" (mfa.js).
	SecurityKey SecurityKeyUI
	// StartOverURL, when set, replaces the form (the challenge is spent).
	StartOverURL string
}

// MFAEnrollData is the page where a person without a second factor sets
// one up: an authenticator app (QR code and secret, confirmed with a code)
// or a security key.
type MFAEnrollData struct {
	Page
	// Action is where the confirmation form posts (fields "enrollment",
	// "code").
	Action string
	// EnrollmentID names the pending authenticator (empty: no TOTP offered).
	EnrollmentID string
	// Secret is the base32 TOTP secret, for typing in.
	Secret string
	// QRCode is the otpauth URI as a PNG image in a data: URL.
	QRCode template.URL
	// Error is shown under the code field.
	Error string
	// SecurityKey offers "Use a security key instead" (mfa.js).
	SecurityKey SecurityKeyUI
	// Account marks the account page's variant (no "to continue").
	Account bool
}

// MFARecoveryCodesData shows new recovery codes, once.
type MFARecoveryCodesData struct {
	Page
	Codes []string
	// ContinueURL is where "Continue" leads.
	ContinueURL string
}

// MFAFactor is one second factor on the account page.
type MFAFactor struct {
	ID   string
	Kind string
	Name string
	// Remaining counts unused recovery codes.
	Remaining int
	Created   string
	LastUsed  string
}

// MFAAccountData is the account page's MFA section: the person's second
// factors, with enrolment and removal.
type MFAAccountData struct {
	Page
	Email   string
	Factors []MFAFactor
	// Policy says in words when a second factor is asked.
	Policy string
	// EnrollOTPURL starts enrolling an authenticator app ("" when disabled).
	EnrollOTPURL string
	// RecoveryAction regenerates recovery codes ("" when disabled).
	RecoveryAction string
	// RemoveAction removes a factor (fields "id", "csrf").
	RemoveAction string
	// SecurityKey offers "Add a security key" (mfa.js).
	SecurityKey SecurityKeyUI
	// BackURL leads to the account page.
	BackURL string
	Notice  string
	Error   string
}

// ActionDeniedData is the page of a login stopped by a post-login action:
// the action's reason (or a generic message when the action failed).
type ActionDeniedData struct {
	Page
	Title   string
	Message string
	// ReturnURL, when set, sends the browser back to the application with
	// the error.
	ReturnURL string
}

// MFAChallenge renders the second-factor page.
func (t *Templates) MFAChallenge(w io.Writer, d MFAChallengeData) error {
	d.Page = d.defaults()
	return t.execute(w, mfaChallengeFile, d)
}

// MFAEnroll renders the enrolment page.
func (t *Templates) MFAEnroll(w io.Writer, d MFAEnrollData) error {
	d.Page = d.defaults()
	return t.execute(w, mfaEnrollFile, d)
}

// MFARecoveryCodes renders the page showing new recovery codes.
func (t *Templates) MFARecoveryCodes(w io.Writer, d MFARecoveryCodesData) error {
	d.Page = d.defaults()
	return t.execute(w, mfaCodesFile, d)
}

// MFAAccount renders the account page's MFA section.
func (t *Templates) MFAAccount(w io.Writer, d MFAAccountData) error {
	d.Page = d.defaults()
	return t.execute(w, mfaAccountFile, d)
}

// ActionDenied renders the page of a login stopped by an action.
func (t *Templates) ActionDenied(w io.Writer, d ActionDeniedData) error {
	d.Page = d.defaults()
	return t.execute(w, actionDenied, d)
}
