package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// goHook records that it ran and applies do.
func goHook(ran *[]string, name string, do func(*API) error) Action {
	return Action{Name: name, Hook: HookFunc(func(ctx context.Context, ev *Event, api *API) error {
		*ran = append(*ran, name)
		return do(api)
	})}
}

func TestRunnerCombines(t *testing.T) {
	skip := func(a *API) error { a.SkipMFA(); return nil }
	require := func(a *API) error { a.RequireMFA(MFAOptions{AllowRememberBrowser: true}); return nil }
	deny := func(reason string) func(*API) error {
		return func(a *API) error { a.Deny(reason); return nil }
	}
	claim := func(name string, v any) func(*API) error {
		return func(a *API) error {
			if err := a.SetIDTokenClaim(name, v); err != nil {
				return err
			}
			return a.SetAccessTokenClaim(name, v)
		}
	}
	nothing := func(*API) error { return nil }
	tests := []struct {
		name    string
		hooks   []func(*API) error
		wantRan string
		want    string
	}{
		{"no hooks", nil, "",
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"last MFA decision wins", []func(*API) error{require, skip}, "a b",
			`{"MFA":1,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"a hook without a decision keeps the earlier one", []func(*API) error{require, nothing}, "a b",
			`{"MFA":2,"AllowRememberBrowser":true,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"first deny wins and stops the run", []func(*API) error{deny("first"), deny("second"), skip}, "a",
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":{"Action":"a","Reason":"first"},"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"deny after decisions keeps them", []func(*API) error{skip, claim("x", 1), deny("no")}, "a b c",
			`{"MFA":1,"AllowRememberBrowser":false,"Denied":{"Action":"c","Reason":"no"},"IDTokenClaims":{"x":1},"AccessTokenClaims":{"x":1}}`},
		{"later claim replaces earlier", []func(*API) error{claim("x", 1), claim("y", "b"), claim("x", []int{2})}, "a b c",
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":{"x":[2],"y":"b"},"AccessTokenClaims":{"x":[2],"y":"b"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ran []string
			var acts []Action
			for i, h := range tt.hooks {
				acts = append(acts, goHook(&ran, string(rune('a'+i)), h))
			}
			res, err := NewRunner(slog.New(slog.DiscardHandler), acts...).Run(context.Background(), testEvent(pwd))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(ran, " "); got != tt.wantRan {
				t.Errorf("ran %q, want %q", got, tt.wantRan)
			}
			assertJSON(t, res, tt.want)
		})
	}
}

// A Go hook and JavaScript actions share one pipeline.
func TestRunnerGoAndJS(t *testing.T) {
	acts := loadTestdata(t, "passkey-mfa.js").actions
	acts = append(acts, Action{Name: "go-step-up", Hook: HookFunc(func(ctx context.Context, ev *Event, api *API) error {
		// An embedding app's rule: this client always gets MFA.
		if ev.Client.ClientID == "payroll" {
			api.RequireMFA(MFAOptions{})
		}
		return api.SetIDTokenClaim("https://example.com/methods", len(ev.Authentication.Methods))
	})})
	r := NewRunner(slog.New(slog.DiscardHandler), acts...)
	for _, tt := range []struct {
		client string
		want   MFA
	}{{"latchkey-demo", MFASkip}, {"payroll", MFARequire}} {
		ev := testEvent(passkey)
		ev.Client.ClientID = tt.client
		res, err := r.Run(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if res.MFA != tt.want || fmt.Sprint(res.IDTokenClaims["https://example.com/methods"]) != "1" {
			t.Errorf("%s: %+v", tt.client, res)
		}
	}
}

func TestRunnerFailures(t *testing.T) {
	boom := errors.New("boom")
	var later atomic.Bool
	laterHook := Action{Name: "later", Hook: HookFunc(func(context.Context, *Event, *API) error { later.Store(true); return nil })}
	tests := []struct {
		name   string
		hook   HookFunc
		wantIs error
		want   string
	}{
		{"error", func(context.Context, *Event, *API) error { return boom }, boom, "boom"},
		{"panic", func(context.Context, *Event, *API) error { panic("oops") }, nil, "panic: oops"},
		{"reserved claim ignored by the hook", func(_ context.Context, _ *Event, a *API) error {
			_ = a.SetIDTokenClaim("acr", "phrh")
			return nil
		}, ErrReservedClaim, `set ID token claim "acr"`},
		{"ignores its context", func(context.Context, *Event, *API) error {
			time.Sleep(time.Second)
			return nil
		}, context.DeadlineExceeded, "time limit 50ms"},
		{"honours its context", func(ctx context.Context, _ *Event, _ *API) error {
			<-ctx.Done()
			return ctx.Err()
		}, context.DeadlineExceeded, "deadline exceeded"},
		{"decides, then fails: nothing applies", func(_ context.Context, _ *Event, a *API) error {
			a.SkipMFA()
			return boom
		}, boom, "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			later.Store(false)
			start := time.Now()
			r := NewRunner(slog.New(slog.DiscardHandler), Action{Name: "bad", Hook: tt.hook, Timeout: 50 * time.Millisecond}, laterHook)
			res, err := r.Run(context.Background(), testEvent(pwd))
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("took %v", d)
			}
			if res != nil {
				t.Errorf("result %+v", res)
			}
			var ae *ActionError
			if !errors.Is(err, ErrActionFailed) || !errors.As(err, &ae) || ae.Action != "bad" {
				t.Fatalf("err = %v, want an ActionError for bad", err)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err %v is not %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %q does not contain %q", err, tt.want)
			}
			if later.Load() {
				t.Error("the next hook ran after a failure")
			}
			if code, desc := ClientError(res, err); code != ErrorCodeServerError || strings.Contains(desc, "boom") {
				t.Errorf("client error %q %q", code, desc)
			}
		})
	}
}

// A hook that outlives its time limit can no longer change anything.
func TestRunnerLateCallsIgnored(t *testing.T) {
	leak := make(chan *API, 1)
	release := make(chan struct{})
	hook := HookFunc(func(ctx context.Context, _ *Event, a *API) error {
		leak <- a
		<-release
		return nil
	})
	_, err := NewRunner(slog.New(slog.DiscardHandler), Action{Name: "slow", Hook: hook, Timeout: 20 * time.Millisecond}).
		Run(context.Background(), testEvent())
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	leaked := <-leak
	leaked.SkipMFA()
	leaked.Deny("late")
	if err := leaked.SetIDTokenClaim("x", 1); err == nil {
		t.Error("late SetIDTokenClaim succeeded")
	}
	if res, _ := leaked.close(); res.MFA != MFADefault || res.Denied != nil || res.IDTokenClaims != nil {
		t.Errorf("late calls changed %+v", res)
	}
}

func TestRunnerParentContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := NewScript("x", `exports.onExecutePostLogin = async () => {};`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewRunner(slog.New(slog.DiscardHandler), Action{Name: "x", Hook: s}).Run(ctx, testEvent())
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrActionFailed) {
		t.Errorf("err = %v", err)
	}
}

func TestRunnerClaimLimit(t *testing.T) {
	many := func(prefix string) Action {
		return Action{Name: prefix, Hook: HookFunc(func(_ context.Context, _ *Event, a *API) error {
			for i := range MaxClaims {
				if err := a.SetIDTokenClaim(fmt.Sprintf("%s%d", prefix, i), i); err != nil {
					return err
				}
			}
			return nil
		})}
	}
	_, err := NewRunner(slog.New(slog.DiscardHandler), many("a")).Run(context.Background(), testEvent())
	if err != nil {
		t.Fatalf("MaxClaims claims: %v", err)
	}
	_, err = NewRunner(slog.New(slog.DiscardHandler), many("a"), many("b")).Run(context.Background(), testEvent())
	var ae *ActionError
	if !errors.Is(err, ErrInvalidClaim) || !errors.As(err, &ae) || ae.Action != "b" {
		t.Errorf("2*MaxClaims claims: err = %v", err)
	}
}

func TestAPIDenyReasonCut(t *testing.T) {
	a := newAPI("x")
	a.Deny(strings.Repeat("é", MaxReasonBytes))
	res, _ := a.close()
	if n := len(res.Denied.Reason); n > MaxReasonBytes || n < MaxReasonBytes-1 {
		t.Errorf("reason is %d bytes", n)
	}
}

func TestAPIClaimIsCopied(t *testing.T) {
	a := newAPI("x")
	v := map[string]any{"k": []any{"a"}}
	if err := a.SetIDTokenClaim("c", v); err != nil {
		t.Fatal(err)
	}
	v["k"] = "changed"
	res, _ := a.close()
	assertJSON(t, res.IDTokenClaims, `{"c":{"k":["a"]}}`)
}

func TestClientError(t *testing.T) {
	for _, tt := range []struct {
		name       string
		res        *Result
		err        error
		code, desc string
	}{
		{"go on", &Result{MFA: MFASkip}, nil, "", ""},
		{"denied", &Result{Denied: &Denial{Action: "a", Reason: "Not today."}}, nil, "access_denied", "Not today."},
		{"failed", nil, &ActionError{Action: "a", Err: errors.New("secret internals")}, "server_error", "A post-login action failed."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, desc := ClientError(tt.res, tt.err)
			if code != tt.code || desc != tt.desc {
				t.Errorf("got %q %q, want %q %q", code, desc, tt.code, tt.desc)
			}
		})
	}
}
