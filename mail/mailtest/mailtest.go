// Package mailtest runs a real SMTP server in process for tests: RFC 5321
// submission with EHLO, STARTTLS (a certificate generated per server), AUTH
// PLAIN, MAIL, RCPT, DATA, RSET, NOOP and QUIT. Tests send through
// mail.SMTP, then read the messages it received and follow their links.
//
// It is written on net.Listener and the standard library rather than taken
// from a module: the server side of those few commands is short, and the
// main module then needs no SMTP dependency.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configure a Server.
type Options struct {
	// TLS offers STARTTLS with a certificate generated for 127.0.0.1 and
	// localhost; clients trust it through Server.ClientTLS.
	TLS bool
	// Username and Password, when Username is set, make AUTH PLAIN
	// required before MAIL.
	Username string
	Password string
}

// Received is one message the server accepted.
type Received struct {
	From string
	To   []string
	// Data is the message as sent, CRLF line endings, dot-unstuffed.
	Data []byte
	// TLS and Authenticated tell how the session that sent it was secured.
	TLS           bool
	Authenticated bool
	// Parsed from Data.
	Subject string
	Text    string
	HTML    string
	Header  mail.Header
}

// Server is a running SMTP server. Its methods are safe for concurrent use.
type Server struct {
	t    testing.TB
	ln   net.Listener
	opts Options
	tls  *tls.Config
	pool *x509.CertPool

	mu       sync.Mutex
	messages []Received
	arrived  chan struct{}
	wg       sync.WaitGroup
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	s := &Server{t: t, ln: ln, opts: opts, arrived: make(chan struct{}, 1024)}
	if opts.TLS {
		s.tls, s.pool = certificate(t)
	}
	s.wg.Go(s.serve)
	t.Cleanup(func() {
		_ = ln.Close()
		s.wg.Wait()
	})
	return s
}

// Host is the server's address (127.0.0.1).
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// ClientTLS returns a client configuration trusting the server's
// certificate (nil without Options.TLS).
func (s *Server) ClientTLS() *tls.Config {
	if s.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, MinVersion: tls.VersionTLS12}
}

// Messages returns every message received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.messages...)
}

// Wait returns the n-th message (1-based, in arrival order), waiting up to
// timeout for it; it fails the test when none comes.
func (s *Server) Wait(n int, timeout time.Duration) Received {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m[n-1]
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("mailtest: message %d did not arrive within %v", n, timeout)
			return Received{}
		}
	}
}

// Last returns the latest message to rcpt, waiting up to timeout.
func (s *Server) Last(rcpt string, timeout time.Duration) Received {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		m := s.Messages()
		for i := len(m) - 1; i >= 0; i-- {
			for _, to := range m[i].To {
				if strings.EqualFold(to, rcpt) {
					return m[i]
				}
			}
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("mailtest: no message to %s within %v", rcpt, timeout)
			return Received{}
		}
	}
}

var (
	linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)
	codeRE = regexp.MustCompile(`\b\d{6}\b`)
)

// Links returns the http(s) URLs of the text body, in order.
func (r Received) Links() []string { return linkRE.FindAllString(r.Text, -1) }

// Code returns the first 6-digit code of the text body, or "".
func (r Received) Code() string { return codeRE.FindString(r.Text) }

func (s *Server) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Go(func() { s.session(conn) })
	}
}

// session speaks SMTP on one connection.
func (s *Server) session(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	tp := textproto.NewConn(conn)
	var (
		secure, authed bool
		from           string
		rcpts          []string
	)
	reply := func(format string, args ...any) bool {
		return tp.PrintfLine(format, args...) == nil
	}
	if !reply("220 mailtest ESMTP ready") {
		return
	}
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			lines := []string{"mailtest"}
			if s.tls != nil && !secure {
				lines = append(lines, "STARTTLS")
			}
			if s.opts.Username != "" {
				lines = append(lines, "AUTH PLAIN")
			}
			lines = append(lines, "8BITMIME")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				if !reply("250%s%s", sep, l) {
					return
				}
			}
		case "HELO":
			reply("250 mailtest")
		case "STARTTLS":
			if s.tls == nil || secure {
				reply("502 5.5.1 STARTTLS not available")
				continue
			}
			if !reply("220 2.0.0 ready to start TLS") {
				return
			}
			tc := tls.Server(conn, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, secure = tc, true
			tp = textproto.NewConn(tc)
			from, rcpts, authed = "", nil, false
		case "AUTH":
			mech, initial, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") || s.opts.Username == "" {
				reply("504 5.5.4 unrecognised authentication type")
				continue
			}
			if initial == "" {
				if !reply("334 ") {
					return
				}
				if initial, err = tp.ReadLine(); err != nil {
					return
				}
			}
			raw, err := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.opts.Username || parts[2] != s.opts.Password {
				reply("535 5.7.8 authentication credentials invalid")
				continue
			}
			authed = true
			reply("235 2.7.0 authentication successful")
		case "MAIL":
			if s.opts.Username != "" && !authed {
				reply("530 5.7.0 authentication required")
				continue
			}
			from, rcpts = path(arg, "FROM:"), nil
			reply("250 2.1.0 ok")
		case "RCPT":
			if from == "" {
				reply("503 5.5.1 MAIL first")
				continue
			}
			rcpts = append(rcpts, path(arg, "TO:"))
			reply("250 2.1.5 ok")
		case "DATA":
			if len(rcpts) == 0 {
				reply("503 5.5.1 RCPT first")
				continue
			}
			if !reply("354 end data with <CR><LF>.<CR><LF>") {
				return
			}
			data, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			s.store(Received{From: from, To: rcpts, Data: crlf(data), TLS: secure, Authenticated: authed})
			from, rcpts = "", nil
			reply("250 2.0.0 queued")
		case "RSET":
			from, rcpts = "", nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognised")
		}
	}
}

// path extracts the address of "FROM:<a@b> PARAMS".
func path(arg, prefix string) string {
	if len(arg) >= len(prefix) && strings.EqualFold(arg[:len(prefix)], prefix) {
		arg = arg[len(prefix):]
	}
	arg, _, _ = strings.Cut(strings.TrimSpace(arg), " ")
	return strings.Trim(arg, "<>")
}

// crlf turns the DotReader's LF line endings back into CRLF.
func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

func (s *Server) store(r Received) {
	if err := parse(&r); err != nil {
		s.t.Errorf("mailtest: received a message that does not parse: %v", err)
	}
	s.mu.Lock()
	s.messages = append(s.messages, r)
	s.mu.Unlock()
	select {
	case s.arrived <- struct{}{}:
	default:
	}
}

// parse fills the parsed fields of r from r.Data.
func parse(r *Received) error {
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	r.Header = m.Header
	dec := new(mime.WordDecoder)
	if r.Subject, err = dec.DecodeHeader(m.Header.Get("Subject")); err != nil {
		return fmt.Errorf("decode subject: %w", err)
	}
	return parsePart(r, textproto.MIMEHeader(m.Header), m.Body)
}

func parsePart(r *Received, h textproto.MIMEHeader, body io.Reader) error {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	typ, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("parse content type: %w", err)
	}
	if strings.HasPrefix(typ, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart() // decodes quoted-printable
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read part: %w", err)
			}
			if err := parsePart(r, p.Header, p); err != nil {
				return err
			}
		}
	}
	if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	text := strings.ReplaceAll(string(b), "\r\n", "\n")
	switch typ {
	case "text/plain":
		r.Text = text
	case "text/html":
		r.HTML = text
	}
	return nil
}

// certificate makes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and a pool trusting it.
func certificate(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("mailtest: generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("mailtest: create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("mailtest: parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		MinVersion:   tls.VersionTLS12,
	}, pool
}
