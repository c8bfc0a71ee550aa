package mail_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/mail/mailtest"
)

const link = "https://id.example.com/u/reset?token=abc_DEF-123"

func message() mail.Message {
	return mail.Message{
		To:      "Ada Lovelace <ada@example.com>",
		Subject: "Réinitialiser votre mot de passe",
		Text:    "Open this link:\n" + link + "\n\nYour code is 042917.\n" + strings.Repeat("long line ", 20) + "\n.\nA line with a lone dot above.",
		HTML:    `<p>Open <a href="` + link + `">this link</a>.</p>`,
	}
}

func TestSMTP(t *testing.T) {
	tests := []struct {
		name     string
		server   mailtest.Options
		tls      string
		user     string
		pass     string
		wantTLS  bool
		wantAuth bool
		wantErr  bool
	}{
		{name: "starttls with plain auth", server: mailtest.Options{TLS: true, Username: "latchkey", Password: "s3cret"},
			tls: mail.TLSStartTLS, user: "latchkey", pass: "s3cret", wantTLS: true, wantAuth: true},
		{name: "no tls, no auth", server: mailtest.Options{}, tls: mail.TLSNone},
		{name: "no tls, plain auth to loopback", server: mailtest.Options{Username: "u", Password: "loopback-pw"},
			tls: mail.TLSNone, user: "u", pass: "loopback-pw", wantAuth: true},
		{name: "starttls required but not offered", server: mailtest.Options{}, tls: mail.TLSStartTLS, wantErr: true},
		{name: "wrong password", server: mailtest.Options{TLS: true, Username: "latchkey", Password: "s3cret"},
			tls: mail.TLSStartTLS, user: "latchkey", pass: "nope", wantErr: true},
		{name: "auth required", server: mailtest.Options{TLS: true, Username: "latchkey", Password: "s3cret"},
			tls: mail.TLSStartTLS, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, tt.server)
			var logs bytes.Buffer
			s, err := mail.NewSMTP(mail.Config{
				Host: srv.Host(), Port: srv.Port(), TLS: tt.tls, Username: tt.user, Password: tt.pass,
				From: "Latchkey <no-reply@id.example.com>", TLSConfig: srv.ClientTLS(), Timeout: 10 * time.Second,
			}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), message())
			if (err != nil) != tt.wantErr {
				t.Fatalf("Send: %v, wantErr %v", err, tt.wantErr)
			}
			if l := logs.String(); strings.Contains(l, "abc_DEF") || strings.Contains(l, "042917") ||
				(tt.pass != "" && strings.Contains(l, tt.pass)) {
				t.Errorf("log holds a token, code or password:\n%s", l)
			}
			if tt.wantErr {
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("server received %d messages after a failed send", n)
				}
				return
			}
			got := srv.Wait(1, 5*time.Second)
			if got.TLS != tt.wantTLS || got.Authenticated != tt.wantAuth {
				t.Errorf("session TLS %v auth %v; want %v %v", got.TLS, got.Authenticated, tt.wantTLS, tt.wantAuth)
			}
			if got.From != "no-reply@id.example.com" || len(got.To) != 1 || got.To[0] != "ada@example.com" {
				t.Errorf("envelope from %q to %v", got.From, got.To)
			}
			if got.Subject != message().Subject {
				t.Errorf("Subject = %q", got.Subject)
			}
			if got.Text != message().Text || got.HTML != message().HTML {
				t.Errorf("bodies do not round-trip:\ntext %q\nhtml %q", got.Text, got.HTML)
			}
			if l := got.Links(); len(l) != 1 || l[0] != link {
				t.Errorf("Links() = %v", l)
			}
			if c := got.Code(); c != "042917" {
				t.Errorf("Code() = %q", c)
			}
			if got.Header.Get("Message-Id") == "" || got.Header.Get("Date") == "" {
				t.Errorf("missing Message-ID or Date: %v", got.Header)
			}
		})
	}
}

func TestSMTPImplicitTLSRefusesPlainServer(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Options{})
	s, err := mail.NewSMTP(mail.Config{Host: srv.Host(), Port: srv.Port(), TLS: mail.TLSImplicit,
		From: "no-reply@id.example.com", Timeout: 3 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), message()); err == nil {
		t.Fatal("implicit TLS to a plain-text server succeeded")
	}
}

func TestSMTPTimeout(t *testing.T) {
	// A server that accepts and never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	s, err := mail.NewSMTP(mail.Config{Host: "127.0.0.1", Port: addr.Port, TLS: mail.TLSNone,
		From: "no-reply@id.example.com", Timeout: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), message())
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a silent server: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Send took %v with a 300ms timeout", d)
	}
}

func TestNewSMTP(t *testing.T) {
	tests := []struct {
		name string
		cfg  mail.Config
		ok   bool
	}{
		{"defaults", mail.Config{Host: "smtp.example.com", From: "a@example.com"}, true},
		{"no host", mail.Config{From: "a@example.com"}, false},
		{"bad from", mail.Config{Host: "smtp.example.com", From: "not an address"}, false},
		{"bad tls", mail.Config{Host: "smtp.example.com", From: "a@example.com", TLS: "ssl"}, false},
		{"bad port", mail.Config{Host: "smtp.example.com", From: "a@example.com", Port: 70000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mail.NewSMTP(tt.cfg, nil)
			if (err == nil) != tt.ok {
				t.Errorf("NewSMTP: %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestInvalidMessages(t *testing.T) {
	o := mail.NewOutbox(nil, 0)
	for name, m := range map[string]mail.Message{
		"header injection in subject": {To: "a@example.com", Subject: "hi\r\nBcc: x@example.com", Text: "x"},
		"header injection in to":      {To: "a@example.com\r\nBcc: x@example.com", Subject: "hi", Text: "x"},
		"no recipient":                {Subject: "hi", Text: "x"},
		"no body":                     {To: "a@example.com", Subject: "hi"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := o.Send(context.Background(), m); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("Send: %v, want ErrInvalidMessage", err)
			}
		})
	}
}

func TestOutbox(t *testing.T) {
	var logs bytes.Buffer
	o := mail.NewOutbox(slog.New(slog.NewTextHandler(&logs, nil)), 2)
	for i, subject := range []string{"one", "two", "three"} {
		m := message()
		m.Subject = subject
		if err := o.Send(context.Background(), m); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	got := o.List()
	if len(got) != 2 || got[0].Subject != "three" || got[1].Subject != "two" {
		t.Fatalf("List() subjects = %v, want [three two]", subjects(got))
	}
	if len(got[0].Links) != 1 || got[0].Links[0] != link || got[0].At.IsZero() {
		t.Errorf("List()[0] = %+v", got[0])
	}
	// The development experience: the link is in the log.
	if !strings.Contains(logs.String(), link) {
		t.Errorf("log lacks the link:\n%s", logs.String())
	}
}

func subjects(s []mail.Sent) []string {
	var out []string
	for _, m := range s {
		out = append(out, m.Subject)
	}
	return out
}
