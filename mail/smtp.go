package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"time"
)

// TLS modes of Config.TLS.
const (
	// TLSNone sends in clear. Authentication is then refused unless the
	// server is on a loopback address.
	TLSNone = "none"
	// TLSStartTLS upgrades the connection with STARTTLS and fails when the
	// server does not offer it (submission, port 587). The default.
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the start (submissions, port 465).
	TLSImplicit = "tls"
)

// defaultTimeout bounds one delivery (dial to QUIT) when Config.Timeout is
// zero.
const defaultTimeout = 30 * time.Second

// Config configures SMTP delivery.
type Config struct {
	Host string
	// Port defaults to 587 for starttls, 465 for tls and 25 for none.
	Port int
	// TLS is "starttls" (default), "tls" or "none".
	TLS string
	// Username and Password enable AUTH PLAIN when Username is set.
	Username string
	Password string
	// From is the sender address ("Latchkey <no-reply@example.com>").
	From string
	// HeloName is the name sent with EHLO (default "localhost").
	HeloName string
	// Timeout bounds one delivery, dial to QUIT (default 30s).
	Timeout time.Duration
	// TLSConfig overrides the TLS client configuration (tests use it to
	// trust their own certificate). Its ServerName defaults to Host.
	TLSConfig *tls.Config
}

// SMTP delivers mail through an SMTP server, one connection per message.
type SMTP struct {
	cfg    Config
	from   *mail.Address
	logger *slog.Logger
	now    func() time.Time
}

var _ Sender = (*SMTP)(nil)

// NewSMTP checks cfg and returns a sender. logger may be nil.
func NewSMTP(cfg Config, logger *slog.Logger) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("configure smtp: host is required")
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		switch cfg.TLS {
		case TLSImplicit:
			cfg.Port = 465
		case TLSNone:
			cfg.Port = 25
		default:
			cfg.Port = 587
		}
	}
	switch cfg.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("configure smtp: tls %q is not none, starttls or tls", cfg.TLS)
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("configure smtp: port %d out of range", cfg.Port)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("configure smtp: from: %w", err)
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SMTP{cfg: cfg, from: from, logger: logger, now: time.Now}, nil
}

// Send delivers m. It returns ErrInvalidMessage (wrapped) for a message
// that cannot be sent, and otherwise the SMTP or network error.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, err := m.validate()
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	body, err := compose(s.from, to, m, s.now())
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if err := s.deliver(ctx, to.Address, body); err != nil {
		// Recipient and subject only: the body carries tokens.
		s.logger.WarnContext(ctx, "mail not sent", "to", to.Address, "subject", m.Subject, "error", err)
		return fmt.Errorf("send mail: %w", err)
	}
	s.logger.DebugContext(ctx, "mail sent", "to", to.Address, "subject", m.Subject)
	return nil
}

// deliver runs one SMTP transaction within the timeout.
func (s *SMTP) deliver(ctx context.Context, rcpt string, body []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	tlsCfg := s.tlsConfig()
	var conn net.Conn
	if s.cfg.TLS == TLSImplicit {
		d := tls.Dialer{Config: tlsCfg}
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	// The deadline covers the whole conversation; cancelling ctx closes the
	// connection, which unblocks any read or write.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("greeting from %s: %w", addr, ctxErr(ctx, err))
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello(s.cfg.HeloName); err != nil {
		return fmt.Errorf("ehlo: %w", ctxErr(ctx, err))
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("starttls: %s does not offer STARTTLS", addr)
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return fmt.Errorf("starttls: %w", ctxErr(ctx, err))
		}
	}
	if s.cfg.Username != "" {
		auth := smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("auth: %w", ctxErr(ctx, err))
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail from: %w", ctxErr(ctx, err))
	}
	if err := c.Rcpt(rcpt); err != nil {
		return fmt.Errorf("rcpt to: %w", ctxErr(ctx, err))
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", ctxErr(ctx, err))
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("data: %w", ctxErr(ctx, err))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("data: %w", ctxErr(ctx, err))
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("quit: %w", ctxErr(ctx, err))
	}
	return nil
}

// tlsConfig returns the client TLS configuration (TLS 1.2 or later).
func (s *SMTP) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.cfg.TLSConfig != nil {
		c = s.cfg.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.Host
	}
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// ctxErr prefers the context's error (timeout, cancellation) over the
// network error it caused. The connection's deadline is the context's, and
// it may fire a moment before the context reports it: an I/O deadline error
// is then the same timeout, reported as context.DeadlineExceeded.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}
