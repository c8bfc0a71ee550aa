package database

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/latchkey/latchkey/mail"
)

// LinkKind names the page an emailed link opens.
type LinkKind string

// Pages of emailed links.
const (
	LinkVerifyEmail    LinkKind = "verify_email"
	LinkResetPassword  LinkKind = "reset_password"
	LinkRecoverPasskey LinkKind = "recover_passkey"
	LinkUnblock        LinkKind = "unblock"
)

// defaultMailTimeout bounds a background send.
const defaultMailTimeout = time.Minute

// Mail lets a connection send its emails.
type Mail struct {
	Sender mail.Sender
	// Link returns the absolute URL of the page for a token (the handlers
	// own the routes), e.g. https://id.example.com/u/reset?token=...
	Link func(kind LinkKind, token string) string
	// Product names the service in messages (default "Latchkey").
	Product string
}

// SetMail gives the connection a way to send mail; call it after Open and
// before serving. Without it the Send methods fail and a brute-force block
// sends no unblock link.
func (c *Connection) SetMail(m Mail) {
	if m.Product == "" {
		m.Product = "Latchkey"
	}
	c.mail.Store(&m)
}

// errNoMail reports a Send method on a connection without SetMail.
var errNoMail = errors.New("no mail sender configured")

// SendVerificationEmail mails the user a verification link and code (see
// StartEmailVerification).
func (c *Connection) SendVerificationEmail(ctx context.Context, userID string) error {
	m := c.mail.Load()
	if m == nil {
		return fmt.Errorf("send verification email: %w", errNoMail)
	}
	token, code, err := c.StartEmailVerification(ctx, userID)
	if err != nil {
		return fmt.Errorf("send verification email: %w", err)
	}
	u, err := c.store.GetUser(ctx, userID)
	if err != nil {
		return fmt.Errorf("send verification email: %w", err)
	}
	link := m.Link(LinkVerifyEmail, token)
	msg := message(u.Email, "Verify your email for "+m.Product,
		[]string{"Confirm that this is your email address by opening this link:"}, link,
		[]string{"Or enter this code: " + code, fmt.Sprintf("The link works for %v and the code for %v.", hours(VerificationLinkTTL), hours(VerificationCodeTTL))})
	if err := m.Sender.Send(ctx, msg); err != nil {
		return fmt.Errorf("send verification email: %w", err)
	}
	return nil
}

// SendPasswordReset mails a reset link to the account with that email, if
// there is one (see StartPasswordReset). For an unknown email it sends
// nothing and returns nil; the mail itself goes out in the background, so
// the call takes about as long either way.
func (c *Connection) SendPasswordReset(ctx context.Context, email string) error {
	m := c.mail.Load()
	if m == nil {
		return fmt.Errorf("send password reset: %w", errNoMail)
	}
	token, err := c.StartPasswordReset(ctx, email)
	if err != nil || token == "" {
		return wrapIf("send password reset", err)
	}
	link := m.Link(LinkResetPassword, token)
	c.sendLater(ctx, m, message(normalizeIdentifier(email), "Reset your "+m.Product+" password",
		[]string{"Someone asked to reset the password of your account. To choose a new password, open this link:"}, link,
		[]string{fmt.Sprintf("It works once, for %v. Resetting signs you out everywhere.", hours(PasswordResetTTL)),
			"If you did not ask, ignore this email: your password stays as it is."}))
	return nil
}

// SendPasskeyRecovery mails a passkey-recovery link to a passkey-only
// account with that email, if there is one (see StartPasskeyRecovery);
// otherwise it sends nothing and returns nil. The mail goes out in the
// background.
func (c *Connection) SendPasskeyRecovery(ctx context.Context, email string) error {
	m := c.mail.Load()
	if m == nil {
		return fmt.Errorf("send passkey recovery: %w", errNoMail)
	}
	token, err := c.StartPasskeyRecovery(ctx, email)
	if err != nil || token == "" {
		return wrapIf("send passkey recovery", err)
	}
	link := m.Link(LinkRecoverPasskey, token)
	c.sendLater(ctx, m, message(normalizeIdentifier(email), "Set up a new passkey for "+m.Product,
		[]string{"Someone asked to recover your account after losing its passkey. To set up a new passkey, open this link:"}, link,
		[]string{fmt.Sprintf("It works once, for %v, and signs you out everywhere.", hours(PasskeyRecoveryTTL)),
			"If you did not ask, ignore this email."}))
	return nil
}

// notifyBlocked mails the owner of identifier, if an account has it, an
// unblock link, in the background.
func (c *Connection) notifyBlocked(ctx context.Context, identifier string) {
	m := c.mail.Load()
	if m == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	c.mailWG.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, defaultMailTimeout)
		defer cancel()
		token, u, err := c.StartUnblock(ctx, identifier)
		if err != nil || token == "" {
			if err != nil {
				c.logger.WarnContext(ctx, "issue unblock link", "error", err)
			}
			return
		}
		link := m.Link(LinkUnblock, token)
		msg := message(u.Email, "Sign-ins to your "+m.Product+" account were blocked",
			[]string{"We blocked sign-ins to your account after too many failed attempts. If it was you, open this link to unblock it:"}, link,
			[]string{"If it was not you, someone may be guessing your password: consider changing it. Resetting your password also unblocks your account."})
		if err := m.Sender.Send(ctx, msg); err != nil {
			c.logger.WarnContext(ctx, "send unblock link", "user_id", u.ID, "error", err)
		}
	})
}

// sendLater sends msg in the background and logs a failure.
func (c *Connection) sendLater(ctx context.Context, m *Mail, msg mail.Message) {
	ctx = context.WithoutCancel(ctx)
	c.mailWG.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, defaultMailTimeout)
		defer cancel()
		if err := m.Sender.Send(ctx, msg); err != nil {
			c.logger.WarnContext(ctx, "send mail", "subject", msg.Subject, "error", err)
		}
	})
}

// WaitMail waits for the background sends started so far (tests and
// graceful shutdown).
func (c *Connection) WaitMail() { c.mailWG.Wait() }

// message builds a plain text and HTML email around one link.
func message(to, subject string, before []string, link string, after []string) mail.Message {
	var text, h strings.Builder
	for _, p := range before {
		text.WriteString(p + "\n\n")
		h.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
	}
	text.WriteString(link + "\n\n")
	h.WriteString(`<p><a href="` + html.EscapeString(link) + `">` + html.EscapeString(link) + "</a></p>\n")
	for _, p := range after {
		text.WriteString(p + "\n\n")
		h.WriteString("<p>" + html.EscapeString(p) + "</p>\n")
	}
	return mail.Message{To: to, Subject: subject, Text: strings.TrimRight(text.String(), "\n") + "\n", HTML: h.String()}
}

// hours writes a lifetime for people ("1 hour", "24 hours").
func hours(d time.Duration) string {
	if n := int(d / time.Hour); n != 1 {
		return fmt.Sprintf("%d hours", n)
	}
	return "1 hour"
}
