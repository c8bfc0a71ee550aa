package latchkey

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/latchkey/latchkey/connector/database"
	"github.com/latchkey/latchkey/handlers"
	"github.com/latchkey/latchkey/mail"
)

// MailConfig configures how Latchkey sends email (verification, password
// reset, passkey recovery, unblock links). Without an SMTP host, mail is
// written to the log and, for an http://localhost issuer, shown on the
// development outbox page at ISSUER/dev/outbox.
type MailConfig struct {
	// SMTP is the submission server.
	SMTP SMTPConfig `yaml:"smtp"`
	// Product names the service in messages (default "Latchkey").
	Product string `yaml:"product"`
	// Sender replaces SMTP and the outbox (an embedding application's own
	// delivery, or a test's). Not settable from YAML.
	Sender mail.Sender `yaml:"-"`
}

// SMTPConfig is an SMTP submission server (see mail.Config).
type SMTPConfig struct {
	// Host is the server's name; empty means no SMTP (the development
	// outbox).
	Host string `yaml:"host"`
	// Port defaults to 587 for starttls, 465 for tls and 25 for none.
	Port int `yaml:"port"`
	// TLS is starttls (default), tls (implicit TLS) or none.
	TLS string `yaml:"tls"`
	// Username and Password enable AUTH PLAIN (only over TLS or to a
	// loopback server). Prefer LATCHKEY_MAIL_SMTP_PASSWORD to the file.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// From is the sender ("Latchkey <no-reply@example.com>"); required
	// with a host.
	From string `yaml:"from"`
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration `yaml:"timeout"`
}

// mailConfig converts the SMTP settings to the mail package's.
func (c SMTPConfig) mailConfig() mail.Config {
	return mail.Config{Host: c.Host, Port: c.Port, TLS: c.TLS, Username: c.Username, Password: c.Password,
		From: c.From, Timeout: c.Timeout}
}

// validate reports problems of the mail settings, each starting with its
// key.
func (c MailConfig) validate() []error {
	if c.SMTP.Host == "" {
		return nil
	}
	var errs []error
	if c.SMTP.From == "" {
		errs = append(errs, fmt.Errorf("mail.smtp.from: required with mail.smtp.host"))
	}
	if c.SMTP.Timeout < 0 {
		errs = append(errs, fmt.Errorf("mail.smtp.timeout: must be positive"))
	}
	if c.SMTP.From != "" {
		if _, err := mail.NewSMTP(c.SMTP.mailConfig(), nil); err != nil {
			errs = append(errs, fmt.Errorf("mail.smtp: %w", err))
		}
	}
	return errs
}

// mailer is the server's mail: the sender, and the development outbox
// when there is no SMTP server (nil otherwise).
type mailer struct {
	sender  mail.Sender
	outbox  *mail.Outbox
	issuer  string
	product string
}

// newMailer builds the sender the configuration asks for.
func newMailer(cfg Config, logger *slog.Logger) (*mailer, error) {
	m := &mailer{sender: cfg.Mail.Sender, issuer: cfg.Issuer, product: cfg.Mail.Product}
	switch {
	case m.sender != nil:
	case cfg.Mail.SMTP.Host != "":
		s, err := mail.NewSMTP(cfg.Mail.SMTP.mailConfig(), logger)
		if err != nil {
			return nil, fmt.Errorf("configure mail: %w", err)
		}
		m.sender = s
	default:
		m.outbox = mail.NewOutbox(logger, 0)
		m.sender = m.outbox
	}
	return m, nil
}

// forConnection is the database.Mail of one connection: its links name
// the connection.
func (m *mailer) forConnection(name string) database.Mail {
	return database.Mail{Sender: m.sender, Link: handlers.MailLink(m.issuer, name), Product: m.product}
}

// devOutbox returns the outbox the handlers may show at /dev/outbox: only
// without SMTP and for an http://localhost issuer.
func (m *mailer) devOutbox() *mail.Outbox {
	if m.outbox == nil || !isLocalHTTP(m.issuer) {
		return nil
	}
	return m.outbox
}
