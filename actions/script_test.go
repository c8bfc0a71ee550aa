package actions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// testEvent is a login of a verified user through the demo client, with the
// given methods.
func testEvent(methods ...Method) *Event {
	return &Event{
		User: User{
			UserID: "u-1", Email: "ada@example.com", EmailVerified: true, Name: "Ada",
			AppMetadata: map[string]any{"plan": "pro", "roles": []any{"admin"}},
		},
		Client:         Client{ClientID: "latchkey-demo", Name: "Demo"},
		Connection:     Connection{ID: "c-1", Name: "Username-Password-Authentication", Strategy: "auth0"},
		Authentication: Authentication{Methods: methods},
		Transaction: Transaction{
			ACRValues: []string{"phr"}, Prompt: []string{"login"}, Protocol: ProtocolOIDC,
			RedirectURI: "https://app.example.com/callback", RequestedScopes: []string{"openid", "email"},
			UILocales: []string{"fr-CA", "en"},
		},
		Request: Request{IP: "203.0.113.7", Hostname: "id.example.com", Method: "POST", UserAgent: "Mozilla/5.0 test"},
		Stats:   Stats{LoginsCount: 3},
	}
}

var (
	pwd     = Method{Name: MethodPassword, Timestamp: t0}
	passkey = Method{Name: MethodPasskey, Timestamp: t0, UserVerified: true, BackupEligible: true, BackupState: true,
		AAGUID: "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"}
)

// runJS runs source as the only action of a Runner.
func runJS(t testing.TB, source string, ev *Event, timeout time.Duration) (*Result, error) {
	t.Helper()
	s, err := NewScript("test", source)
	if err != nil {
		t.Fatalf("NewScript: %v", err)
	}
	return NewRunner(slog.New(slog.DiscardHandler), Action{Name: "test", Hook: s, Timeout: timeout}).Run(context.Background(), ev)
}

// loadTestdata loads testdata scripts as the actions of a Runner.
func loadTestdata(t *testing.T, files ...string) *Runner {
	t.Helper()
	var cfgs []Config
	for _, f := range files {
		cfgs = append(cfgs, Config{Name: strings.TrimSuffix(f, ".js"), Script: f})
	}
	acts, err := LoadScripts(cfgs, os.DirFS("testdata"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return NewRunner(slog.New(slog.DiscardHandler), acts...)
}

// The showcase: an Auth0 team's passkey MFA-skip action, pasted unchanged.
func TestAuth0PasskeyMFAAction(t *testing.T) {
	r := loadTestdata(t, "passkey-mfa.js")
	tests := []struct {
		name    string
		methods []Method
		want    MFA
	}{
		{"passkey login skips MFA", []Method{passkey}, MFASkip},
		{"password login requires MFA", []Method{pwd}, MFARequire},
		{"password then passkey skips MFA", []Method{pwd, passkey}, MFASkip},
		{"no methods requires MFA", nil, MFARequire},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.Run(context.Background(), testEvent(tt.methods...))
			if err != nil {
				t.Fatal(err)
			}
			if res.MFA != tt.want || res.AllowRememberBrowser || res.Denied != nil {
				t.Errorf("result %+v, want MFA %v only", res, tt.want)
			}
		})
	}
}

func TestTestdataActions(t *testing.T) {
	t.Run("deny unverified", func(t *testing.T) {
		r := loadTestdata(t, "deny-unverified.js")
		ev := testEvent(pwd)
		ev.User.EmailVerified = false
		res, err := r.Run(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		want := &Denial{Action: "deny-unverified", Reason: "Please verify your email before logging in."}
		if res.Denied == nil || *res.Denied != *want {
			t.Fatalf("denied %+v, want %+v", res.Denied, want)
		}
		code, desc := ClientError(res, nil)
		if code != "access_denied" || desc != want.Reason {
			t.Errorf("client error %q %q", code, desc)
		}
	})
	t.Run("claims", func(t *testing.T) {
		res, err := loadTestdata(t, "claims.js").Run(context.Background(), testEvent(pwd))
		if err != nil {
			t.Fatal(err)
		}
		assertJSON(t, res.IDTokenClaims, `{"https://example.com/plan":"pro","https://example.com/roles":["admin"]}`)
		assertJSON(t, res.AccessTokenClaims, `{"https://example.com/plan":"pro"}`)
	})
	t.Run("syntax error at load", func(t *testing.T) {
		_, err := LoadScripts([]Config{{Name: "broken", Script: "broken.js"}}, os.DirFS("testdata"), nil)
		if err == nil || !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), "Line 2:") {
			t.Fatalf("err = %v, want a syntax error naming the action and line 2", err)
		}
	})
}

func assertJSON(t *testing.T, got any, want string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	_ = json.Unmarshal(b, &g)
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("got %s, want %s", gb, wb)
	}
}

func TestScriptDecisions(t *testing.T) {
	tests := []struct {
		name   string
		source string
		want   string // the Result as JSON
	}{
		{"nothing", `exports.onExecutePostLogin = async () => {};`,
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"sync handler", `exports.onExecutePostLogin = (event, api) => { api.multifactor.enable('any'); };`,
			`{"MFA":2,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"require MFA, remember browser", `exports.onExecutePostLogin = async (event, api) => { api.multifactor.enable('any', { allowRememberBrowser: true }); };`,
			`{"MFA":2,"AllowRememberBrowser":true,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"legacy provider name", `exports.onExecutePostLogin = async (event, api) => { api.multifactor.enable('guardian'); };`,
			`{"MFA":2,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"last MFA call wins", `exports.onExecutePostLogin = async (event, api) => { api.multifactor.enable('any', {allowRememberBrowser: true}); api.multifactor.enable('none'); };`,
			`{"MFA":1,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"deny", `exports.onExecutePostLogin = async (event, api) => { api.access.deny('Access to this app is restricted.'); api.access.deny('second'); };`,
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":{"Action":"test","Reason":"Access to this app is restricted."},"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"claims on both tokens, chained", `exports.onExecutePostLogin = async (event, api) => {
			api.idToken.setCustomClaim('https://x/n', 1).idToken.setCustomClaim('https://x/o', {a: [true, null, "s"]});
			api.accessToken.setCustomClaim('https://x/n', 12345678901234567890);
			api.idToken.setCustomClaim('https://x/d', new Date(0));
		};`,
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":{"https://x/d":"1970-01-01T00:00:00.000Z","https://x/n":1,"https://x/o":{"a":[true,null,"s"]}},"AccessTokenClaims":{"https://x/n":12345678901234567000}}`},
		{"await inside", `exports.onExecutePostLogin = async (event, api) => {
			const v = await Promise.resolve('ok');
			await null;
			api.idToken.setCustomClaim('v', v);
		};`,
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":{"v":"ok"},"AccessTokenClaims":null}`},
		{"module.exports reassigned", `module.exports = { onExecutePostLogin: async (e, api) => api.access.deny('x') };`,
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":{"Action":"test","Reason":"x"},"IDTokenClaims":null,"AccessTokenClaims":null}`},
		{"helper functions and top-level state", `const allowed = new Set(['latchkey-demo']);
			function isAllowed(id) { return allowed.has(id); }
			exports.onExecutePostLogin = async (event, api) => { if (!isAllowed(event.client.client_id)) api.access.deny('no'); };`,
			`{"MFA":0,"AllowRememberBrowser":false,"Denied":null,"IDTokenClaims":null,"AccessTokenClaims":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := runJS(t, tt.source, testEvent(pwd), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			assertJSON(t, res, tt.want)
		})
	}
}

func TestScriptFailures(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		timeout time.Duration
		wantErr string // in the error's text
		wantIs  error
	}{
		{"thrown error", `exports.onExecutePostLogin = async () => { throw new Error('boom'); };`, 0, "Error: boom", nil},
		{"thrown in sync handler", `exports.onExecutePostLogin = () => { null.x; };`, 0, "TypeError", nil},
		{"rejected promise", `exports.onExecutePostLogin = () => Promise.reject(new Error('nope'));`, 0, "promise rejected: Error: nope", nil},
		{"rejection after await", `exports.onExecutePostLogin = async () => { await null; throw 'late'; };`, 0, "late", nil},
		{"promise never settles", `exports.onExecutePostLogin = async () => { await new Promise(() => {}); };`, 0, "never settled", nil},
		{"reserved ID token claim", `exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('sub', 'x'); };`, 0, `claim "sub"`, ErrReservedClaim},
		{"reserved claim caught by the script", `exports.onExecutePostLogin = async (e, api) => { try { api.idToken.setCustomClaim('amr', ['pwd']); } catch (e) {} };`, 0, `claim "amr"`, ErrReservedClaim},
		{"reserved access token claim", `exports.onExecutePostLogin = async (e, api) => { api.accessToken.setCustomClaim('scope', 'admin'); };`, 0, `claim "scope"`, ErrReservedClaim},
		{"undefined claim value", `exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('x', undefined); };`, 0, "no JSON form", ErrInvalidClaim},
		{"function claim value", `exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('x', () => 1); };`, 0, "no JSON form", ErrInvalidClaim},
		{"cyclic claim value", `exports.onExecutePostLogin = async (e, api) => { const o = {}; o.o = o; api.idToken.setCustomClaim('x', o); };`, 0, "circular", ErrInvalidClaim},
		{"claim too big", `exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('x', 'a'.repeat(20000)); };`, 0, "over 16384", ErrInvalidClaim},
		{"empty claim name", `exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim('', 1); };`, 0, "empty name", ErrInvalidClaim},
		{"unsupported MFA provider", `exports.onExecutePostLogin = async (e, api) => { api.multifactor.enable('duo'); };`, 0, `provider "duo" is not supported`, nil},
		{"unsupported Auth0 API", `exports.onExecutePostLogin = async (e, api) => { api.user.setAppMetadata('k', 'v'); };`, 0, "api.user.setAppMetadata is not supported", nil},
		{"infinite loop", `exports.onExecutePostLogin = async () => { while (true) {} };`, 100 * time.Millisecond, "deadline exceeded", context.DeadlineExceeded},
		{"infinite loop after await", `exports.onExecutePostLogin = async () => { await null; for (;;) {} };`, 100 * time.Millisecond, "deadline exceeded", context.DeadlineExceeded},
		{"infinite loop in a callback of a built-in", `exports.onExecutePostLogin = async () => { [1, 2].forEach(() => { while (true) {} }); };`, 100 * time.Millisecond, "deadline exceeded", context.DeadlineExceeded},
		{"infinite loop at the top level of a handler's helper", `function spin() { for (;;) {} } exports.onExecutePostLogin = () => spin();`, 100 * time.Millisecond, "deadline exceeded", context.DeadlineExceeded},
		{"unbounded recursion", `const f = (n) => f(n + 1); exports.onExecutePostLogin = async () => f(0);`, 0, "maximum call stack", nil},
		{"huge string", `exports.onExecutePostLogin = async () => { 'x'.repeat(1e10); };`, 0, "RangeError: String.prototype.repeat", nil},
		{"huge pad", `exports.onExecutePostLogin = async () => { ''.padStart(2 ** 40); };`, 0, "RangeError: String.prototype.padStart", nil},
		{"walk over a huge sparse array", `exports.onExecutePostLogin = async () => { new Array(1e9).fill(0); };`, 0, "RangeError: Array.prototype.fill", nil},
		{"huge array-like", `exports.onExecutePostLogin = async () => { Array.from({ length: 1e9 }); };`, 0, "RangeError: Array.from", nil},
		{"huge apply", `exports.onExecutePostLogin = async () => { Math.max.apply(null, { length: 1e9 }); };`, 0, "RangeError: Function.prototype.apply", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := tt.timeout
			if timeout == 0 {
				timeout = 2 * time.Second
			}
			start := time.Now()
			res, err := runJS(t, tt.source, testEvent(pwd), timeout)
			if elapsed := time.Since(start); elapsed > timeout+500*time.Millisecond {
				t.Errorf("took %v, limit %v", elapsed, timeout)
			}
			if err == nil {
				t.Fatalf("no error; result %+v", res)
			}
			if res != nil {
				t.Errorf("result %+v with an error", res)
			}
			var ae *ActionError
			if !errors.Is(err, ErrActionFailed) || !errors.As(err, &ae) || ae.Action != "test" {
				t.Errorf("err %v is not an ActionError of action test", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %q does not contain %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err %v is not %v", err, tt.wantIs)
			}
			if code, _ := ClientError(res, err); code != "server_error" {
				t.Errorf("client error code %q", code)
			}
		})
	}
}

func TestNewScriptErrors(t *testing.T) {
	tests := []struct {
		name, source, want string
	}{
		{"syntax error", "exports.onExecutePostLogin = async (event, api) => {\n  api.access.deny('x'\n};", "compile action"},
		{"no handler", `exports.somethingElse = () => {};`, "does not export an onExecutePostLogin function"},
		{"handler is not a function", `exports.onExecutePostLogin = 42;`, "does not export an onExecutePostLogin function"},
		{"empty module.exports", `module.exports = null;`, "module.exports is empty"},
		{"escapes the module wrapper", `}); (function () {`, "does not export"},
		{"top level throws", `throw new Error('at load');`, "Error: at load"},
		{"top level uses require", `const axios = require('axios'); exports.onExecutePostLogin = async () => {};`, "require is not defined"},
		{"top level loops", `while (true) {}`, "interrupted"},
		{"too big", "//" + strings.Repeat("x", MaxScriptBytes), "over"},
		{"not UTF-8", "exports.x = '\xff';", "not UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewScript("bad", tt.source)
			if err == nil {
				t.Fatalf("NewScript succeeded: %v", s)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `"bad"`) {
				t.Errorf("err %q, want it to contain %q and the action's name", err, tt.want)
			}
		})
	}
}

// The runtime holds the ECMAScript built-ins and nothing of Node or the
// browser: no require, no I/O, no timers.
func TestScriptSandbox(t *testing.T) {
	names := []string{
		"require", "process", "fetch", "XMLHttpRequest", "WebSocket", "setTimeout", "setInterval",
		"setImmediate", "queueMicrotask", "Buffer", "__dirname", "__filename", "global",
		"ArrayBuffer", "SharedArrayBuffer", "DataView", "Uint8Array", "WebAssembly", "Deno", "Bun",
	}
	src := `exports.onExecutePostLogin = async (event, api) => {
		const names = ` + mustJSON(t, names) + `;
		api.idToken.setCustomClaim('types', names.map((n) => typeof globalThis[n] + ':' + eval('typeof ' + n)));
	};`
	res, err := runJS(t, src, testEvent(pwd), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range res.IDTokenClaims["types"].([]any) {
		if v != "undefined:undefined" {
			t.Errorf("%s is %v", names[i], v)
		}
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A script cannot carry state from one login to the next: every execution
// has a fresh runtime.
func TestScriptFreshRuntime(t *testing.T) {
	s, err := NewScript("state", `
		let count = 0;
		exports.onExecutePostLogin = async (event, api) => {
			globalThis.seen = (globalThis.seen || []).concat(event.user.user_id);
			Array.prototype.evil = 1;
			count++;
			api.idToken.setCustomClaim('n', count);
			api.idToken.setCustomClaim('seen', globalThis.seen);
		};`)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(slog.New(slog.DiscardHandler), Action{Name: "state", Hook: s})
	for _, user := range []string{"a", "b"} {
		ev := testEvent(pwd)
		ev.User.UserID = user
		res, err := r.Run(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		assertJSON(t, res.IDTokenClaims, `{"n":1,"seen":["`+user+`"]}`)
	}
}

// The event has Auth0's property names and shapes.
func TestScriptEventShape(t *testing.T) {
	src := `exports.onExecutePostLogin = async (event, api) => {
		const m = event.authentication.methods;
		api.idToken.setCustomClaim('seen', {
			user: [event.user.user_id, event.user.email, event.user.email_verified, event.user.app_metadata.plan,
				typeof event.user.user_metadata, event.user.enrolledFactors.length],
			client: [event.client.client_id, event.client.name, typeof event.client.metadata],
			connection: [event.connection.id, event.connection.name, event.connection.strategy],
			methods: m.map((x) => [x.name, typeof x.timestamp, new Date(x.timestamp).toISOString()]),
			passkey: m.filter((x) => x.name === 'passkey').map((x) =>
				[x.user_verified, x.backup_eligible, x.backup_state, x.aaguid, x.hardware_bound === undefined]),
			transaction: [event.transaction.acr_values.includes('phr'), event.transaction.prompt,
				event.transaction.protocol, event.transaction.redirect_uri, event.transaction.requested_scopes,
				event.transaction.ui_locales, event.transaction.response_type],
			request: [event.request.ip, event.request.hostname, event.request.user_agent],
			stats: event.stats.logins_count,
			secrets: event.secrets,
			absent: [event.organization, event.authorization],
		});
	};`
	res, err := runJS(t, src, testEvent(pwd, passkey), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, res.IDTokenClaims["seen"], `{
		"user": ["u-1", "ada@example.com", true, "pro", "object", 0],
		"client": ["latchkey-demo", "Demo", "object"],
		"connection": ["c-1", "Username-Password-Authentication", "auth0"],
		"methods": [["pwd", "string", "2026-03-01T09:30:00.000Z"], ["passkey", "string", "2026-03-01T09:30:00.000Z"]],
		"passkey": [[true, true, true, "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", true]],
		"transaction": [true, ["login"], "oidc-basic-profile", "https://app.example.com/callback", ["openid", "email"], ["fr-CA", "en"], []],
		"request": ["203.0.113.7", "id.example.com", "Mozilla/5.0 test"],
		"stats": 3,
		"secrets": {},
		"absent": [null, null]
	}`)
}

// A zero Event still gives the script Auth0's lists and objects, never null.
func TestScriptZeroEvent(t *testing.T) {
	src := `exports.onExecutePostLogin = async (event, api) => {
		api.idToken.setCustomClaim('n', event.authentication.methods.length + event.transaction.acr_values.length +
			Object.keys(event.user.app_metadata).length + event.transaction.ui_locales.length);
		api.idToken.setCustomClaim('p', event.transaction.protocol);
	};`
	res, err := runJS(t, src, &Event{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, res.IDTokenClaims, `{"n":0,"p":"oidc-basic-profile"}`)
}

type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestScriptConsole(t *testing.T) {
	h := &recordHandler{}
	s, err := NewScript("logs", `
		console.log('loaded');
		exports.onExecutePostLogin = async (event, api) => {
			console.log('user', event.user.user_id, { plan: event.user.app_metadata.plan }, 42);
			console.warn('careful');
			console.error(new Error('bad'));
			console.log('x'.repeat(5000));
			for (let i = 0; i < 100; i++) console.debug('line', i);
		};`, WithLogger(slog.New(h)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OnExecutePostLogin(context.Background(), testEvent(pwd), newAPI("logs")); err != nil {
		t.Fatal(err)
	}
	// "loaded" at NewScript, then MaxConsoleLines lines of the execution
	// (its own "loaded" first) and one truncation warning.
	if len(h.records) != 1+MaxConsoleLines+1 {
		t.Fatalf("%d records, want %d", len(h.records), 1+MaxConsoleLines+1)
	}
	want := []struct {
		level slog.Level
		msg   string
	}{
		{slog.LevelInfo, "loaded"},
		{slog.LevelInfo, "loaded"},
		{slog.LevelInfo, `user u-1 {"plan":"pro"} 42`},
		{slog.LevelWarn, "careful"},
		{slog.LevelError, "Error: bad"},
	}
	for i, w := range want {
		r := h.records[i]
		if r.Level != w.level || r.Message != w.msg {
			t.Errorf("record %d: %v %q, want %v %q", i, r.Level, r.Message, w.level, w.msg)
		}
		var action string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "action" {
				action = a.Value.String()
			}
			return true
		})
		if action != "logs" {
			t.Errorf("record %d: action attribute %q", i, action)
		}
	}
	if n := len(h.records[5].Message); n != MaxConsoleLineBytes {
		t.Errorf("long line is %d bytes, want %d", n, MaxConsoleLineBytes)
	}
	if last := h.records[len(h.records)-1]; last.Level != slog.LevelWarn || !strings.Contains(last.Message, "truncated") {
		t.Errorf("last record %v %q, want the truncation warning", last.Level, last.Message)
	}
}

// One Script serves concurrent logins (run with -race).
func TestScriptConcurrent(t *testing.T) {
	r := loadTestdata(t, "passkey-mfa.js", "claims.js")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ms := []Method{pwd}
			want := MFARequire
			if i%2 == 0 {
				ms, want = []Method{passkey}, MFASkip
			}
			res, err := r.Run(context.Background(), testEvent(ms...))
			if err != nil {
				t.Error(err)
				return
			}
			if res.MFA != want || res.IDTokenClaims["https://example.com/plan"] != "pro" {
				t.Errorf("result %+v", res)
			}
		})
	}
	wg.Wait()
}

// The interrupt stops a runaway script within its time limit, wherever the
// loop is, and the script's goroutine returns (the Runner does not just
// abandon it).
func TestScriptInterrupt(t *testing.T) {
	for _, src := range []string{
		`exports.onExecutePostLogin = async () => { while (true) {} };`,
		`exports.onExecutePostLogin = async () => { await null; for (;;) {} };`,
		`exports.onExecutePostLogin = async () => { await Promise.all([1, 2].map(async () => { for (;;) {} })); };`,
		`exports.onExecutePostLogin = () => { [3, 1, 2].sort(() => { for (;;) {} }); };`,
		`exports.onExecutePostLogin = async () => { try { for (;;) {} } catch (e) {} finally { for (;;) {} } };`,
		`exports.onExecutePostLogin = async () => { let s = []; for (;;) s.push({}); };`,
		// An interrupt inside a native call cannot be caught by the script.
		`exports.onExecutePostLogin = async (e, api) => { try { api.idToken.setCustomClaim('x', { get x() { for (;;) {} } }); } catch (e) {} };`,
		`exports.onExecutePostLogin = async () => { try { console.log({ get x() { for (;;) {} } }); } catch (e) {} };`,
		`exports.onExecutePostLogin = async () => { try { [1, 2].map(() => { for (;;) {} }); } catch (e) {} };`,
	} {
		s, err := NewScript("spin", src)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		err = s.OnExecutePostLogin(ctx, testEvent(), newAPI("spin"))
		cancel()
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Errorf("%s: returned after %v", src, d)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("%s: err = %v", src, err)
		}
	}
}

// Without a deadline in ctx, a Script applies DefaultTimeout itself.
func TestScriptDefaultTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits DefaultTimeout")
	}
	s, err := NewScript("spin", `exports.onExecutePostLogin = async () => { for (;;) {} };`)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.OnExecutePostLogin(context.Background(), testEvent(), newAPI("spin"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d < DefaultTimeout || d > DefaultTimeout+time.Second {
		t.Errorf("stopped after %v", d)
	}
}

// FuzzNewScript feeds arbitrary sources to NewScript: it returns a Script or
// an error, never panics, and a Script it returns runs without panicking.
func FuzzNewScript(f *testing.F) {
	for _, seed := range []string{
		`exports.onExecutePostLogin = async (event, api) => { api.multifactor.enable('none'); };`,
		`exports.onExecutePostLogin = async (e, a) => { a.access.deny(e.user.email); };`,
		`module.exports = { onExecutePostLogin() {} }`,
		`}); (function () {`,
		`exports.onExecutePostLogin = async (e, a) => { a.idToken.setCustomClaim(e, a); };`,
		"exports.onExecutePostLogin = async () => { `${", "", "\x00", "/*", "'\\u{110000}'",
		`exports.onExecutePostLogin = function* () { yield 1; };`,
		`exports.onExecutePostLogin = class {};`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := NewScript("fuzz", src)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_ = s.OnExecutePostLogin(ctx, testEvent(pwd, passkey), newAPI("fuzz"))
	})
}
