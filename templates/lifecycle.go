package templates

import "io"

// Template files of the account lifecycle: emailed links (verification,
// password reset, passkey recovery, unblock), the account page's profile,
// password, sessions and deletion, and the development outbox.
const (
	emailFormFile     = "email_form.html"
	messageFile       = "message.html"
	confirmLinkFile   = "confirm_link.html"
	resetPasswordFile = "reset_password.html"
	recoverFile       = "recover_passkey.html"
	profileFile       = "profile.html"
	deleteFile        = "delete_account.html"
	outboxFile        = "outbox.html"
)

// EmailFormData is the page that asks for an email address before sending
// a link: "Forgot password?" (Variant "reset") and "Can't use your
// passkey?" (Variant "recovery").
type EmailFormData struct {
	Page
	// Variant is "reset" or "recovery".
	Variant string
	// Action is the URL the form posts to (field "email").
	Action string
	// Email prefills the field.
	Email string
	// Error is shown under the field.
	Error string
	// BackURL leads back to the login.
	BackURL string
}

// MessageData is a page that only says something: "Check your email",
// "Password changed", "Email verified", "Your account has been unblocked".
type MessageData struct {
	Page
	Title   string
	Message string
	// LinkURL and LinkText, when set, show one link ("Back to login").
	LinkURL  string
	LinkText string
}

// ConfirmLinkData is the page an emailed link opens when using the link
// changes something: one button posts the token, so that mail scanners
// that fetch links do not use them up.
type ConfirmLinkData struct {
	Page
	Title   string
	Message string
	// Action is where the form posts (fields "token" and "csrf").
	Action string
	Token  string
	// Button is the submit button's text.
	Button string
}

// ResetPasswordData is the password-reset link's page: a new password.
type ResetPasswordData struct {
	Page
	// Action is where the form posts (fields "token", "password",
	// "password_confirm").
	Action string
	Token  string
	// Email names the account.
	Email string
	// Error is shown under the password field (the rule it broke).
	Error string
	// PasswordRules are the connection's password rules in words.
	PasswordRules []string
}

// RecoverPasskeyData is the passkey-recovery link's page after the link
// was used: it creates a new passkey (passkey.js, "Create a passkey").
type RecoverPasskeyData struct {
	Page
	// Email names the account.
	Email string
	// Passkeys configures passkey.js: API is the recovery ceremony's path
	// and State the recovery grant.
	Passkeys PasskeyUI
}

// ProfileSession is one signed-in session on the account page.
type ProfileSession struct {
	ID string
	// Device describes the browser (from its User-Agent).
	Device string
	IP     string
	// Started and LastSeen are formatted times.
	Started  string
	LastSeen string
	// Current marks the session of this browser.
	Current bool
}

// ProfileData is the account page's profile, email, password and sessions
// sections.
type ProfileData struct {
	Page
	Email         string
	EmailVerified bool
	Username      string
	Name          string
	GivenName     string
	FamilyName    string
	// Notice reports the last change; Error a refusal of the profile form.
	Notice string
	Error  string
	// ProfileAction is where the name fields post (name, given_name,
	// family_name).
	ProfileAction string
	// VerifyAction posts a verification code (field "code"); ResendAction
	// sends a new verification email. CodeError is shown under the code.
	VerifyAction string
	ResendAction string
	CodeError    string
	// HasPassword asks for the current password before a new one.
	HasPassword bool
	// PasswordAction is where the password form posts (current_password,
	// password); PasswordError is the refusal; PasswordRules the policy.
	PasswordAction string
	PasswordError  string
	PasswordRules  []string
	// ReauthURL, when set, is where a person without a password logs in
	// again before setting one.
	ReauthURL string
	// Sessions are the person's signed-in sessions, current first.
	Sessions []ProfileSession
	// RevokeAction signs one session out (field "id"); RevokeOthersAction
	// every session but this one.
	RevokeAction       string
	RevokeOthersAction string
	// PasskeysURL leads to the passkeys page; DeleteURL to the deletion.
	PasskeysURL string
	DeleteURL   string
	LogoutURL   string
}

// DeleteAccountData is the account deletion page.
type DeleteAccountData struct {
	Page
	Email string
	// Recent is set when the person logged in within the last few minutes:
	// the page then shows the confirmation form; otherwise ReauthURL.
	Recent    bool
	ReauthURL string
	// Action is where the confirmation posts (field "confirm" must be the
	// email).
	Action  string
	Error   string
	BackURL string
}

// OutboxMessage is one message of the development outbox.
type OutboxMessage struct {
	To      string
	Subject string
	At      string
	Text    string
	Links   []string
}

// OutboxData is the development outbox page (no SMTP server configured).
type OutboxData struct {
	Page
	Messages []OutboxMessage
}

// EmailForm renders the page asking for an email before sending a link.
func (t *Templates) EmailForm(w io.Writer, d EmailFormData) error {
	d.Page = d.defaults()
	return t.execute(w, emailFormFile, d)
}

// Message renders a page that only says something.
func (t *Templates) Message(w io.Writer, d MessageData) error {
	d.Page = d.defaults()
	return t.execute(w, messageFile, d)
}

// ConfirmLink renders the page of an emailed link with its button.
func (t *Templates) ConfirmLink(w io.Writer, d ConfirmLinkData) error {
	d.Page = d.defaults()
	return t.execute(w, confirmLinkFile, d)
}

// ResetPassword renders the new-password page of a reset link.
func (t *Templates) ResetPassword(w io.Writer, d ResetPasswordData) error {
	d.Page = d.defaults()
	return t.execute(w, resetPasswordFile, d)
}

// RecoverPasskey renders the new-passkey page of a recovery link.
func (t *Templates) RecoverPasskey(w io.Writer, d RecoverPasskeyData) error {
	d.Page = d.defaults()
	return t.execute(w, recoverFile, d)
}

// Profile renders the account page's profile, password and sessions.
func (t *Templates) Profile(w io.Writer, d ProfileData) error {
	d.Page = d.defaults()
	return t.execute(w, profileFile, d)
}

// DeleteAccount renders the account deletion page.
func (t *Templates) DeleteAccount(w io.Writer, d DeleteAccountData) error {
	d.Page = d.defaults()
	return t.execute(w, deleteFile, d)
}

// Outbox renders the development outbox.
func (t *Templates) Outbox(w io.Writer, d OutboxData) error {
	d.Page = d.defaults()
	return t.execute(w, outboxFile, d)
}
