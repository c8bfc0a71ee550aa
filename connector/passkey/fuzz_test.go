package passkey_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/connector/passkey"
	"github.com/latchkey/latchkey/connector/passkey/passkeytest"
	"github.com/latchkey/latchkey/storage/sqlstore/sqltest"
)

func FuzzParseAttributes(f *testing.F) {
	f.Add([]byte(`{"v":1,"alg":-7,"up":true,"uv":true,"be":true,"bs":true,"aaguid":"00000000-0000-0000-0000-000000000000"}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := passkey.ParseAttributes(b)
		if err != nil {
			return
		}
		again, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := passkey.ParseAttributes(again); err != nil {
			t.Fatalf("re-encoded attributes do not parse: %v", err)
		}
	})
}

// FuzzFinish feeds arbitrary bytes to both finish ceremonies: they must
// fail with one of the package's errors, never panic, and never create
// anything.
func FuzzFinish(f *testing.F) {
	s := sqltest.Open(f, "sqlite")
	e := newEnv(f, s)
	u := e.user()
	a := passkeytest.New(origin)
	e.register(e.rp, u, a)
	c := e.beginReg(e.rp, u)
	reg, _, err := passkeytest.New(origin).Create(c.PublicKey, passkeytest.Tamper{Origin: "https://evil.example"})
	if err != nil {
		f.Fatal(err)
	}
	lc := e.beginLogin(e.rp, nil)
	login, err := a.Get(lc.PublicKey, passkeytest.Tamper{Challenge: []byte("0123456789abcdef")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(reg)
	f.Add(login)
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`))
	f.Add([]byte(`{}`))
	before := e.snapshot()
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, resp []byte) {
		e.t = t
		rc, err := e.rp.BeginRegistration(ctx, u, passkey.RegistrationOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.rp.FinishRegistration(ctx, rc.ID, resp); !expected(err) {
			t.Fatalf("FinishRegistration: unexpected outcome %v", err)
		}
		lc, err := e.rp.BeginLogin(ctx, nil, passkey.LoginOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.rp.FinishLogin(ctx, lc.ID, resp); !expected(err) {
			t.Fatalf("FinishLogin: unexpected outcome %v", err)
		}
		if after := e.snapshot(); after != before {
			t.Fatalf("store changed:\n%s\n%s", before, after)
		}
	})
}

// expected reports a refusal with one of the package's errors.
func expected(err error) bool {
	var (
		ve *passkey.VerificationError
		pe *passkey.PolicyError
	)
	return errors.As(err, &ve) || errors.As(err, &pe) || errors.Is(err, passkey.ErrUnknownCredential) ||
		errors.Is(err, passkey.ErrUserVerificationRequired) || errors.Is(err, passkey.ErrCredentialExists)
}
