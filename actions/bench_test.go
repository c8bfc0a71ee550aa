package actions

import (
	"context"
	"os"
	"testing"

	"github.com/dop251/goja"
)

func benchScript(b *testing.B) *Script {
	src, err := os.ReadFile("testdata/passkey-mfa.js")
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewScript("passkey-mfa", string(src))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkScript measures one execution of the passkey MFA action, the
// per-login cost of a JavaScript action.
//
//   - fresh: what Latchkey does, a new runtime per login (goja.New, the
//     guards, the module's top level, the event through JSON, the call).
//   - pooled: only the event and the call, in a runtime kept from one login
//     to the next. Latchkey does not do this: a script could leave state in
//     the runtime (globals, patched prototypes) that the next person's login
//     would see. It is measured to know what the isolation costs.
func BenchmarkScript(b *testing.B) {
	ev := testEvent(pwd, passkey)
	b.Run("fresh", func(b *testing.B) {
		s := benchScript(b)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := s.OnExecutePostLogin(ctx, ev, newAPI("b")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pooled", func(b *testing.B) {
		s := benchScript(b)
		vm := s.newRuntime()
		handler, err := s.load(vm)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := s.call(vm, handler, ev, newAPI("b")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goja.New", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = goja.New()
		}
	})
}

// BenchmarkRunner is a whole post-login run with the passkey action: the
// Runner's goroutine and time limit around the fresh execution.
func BenchmarkRunner(b *testing.B) {
	r := NewRunner(nil, Action{Name: "passkey-mfa", Hook: benchScript(b)})
	ev := testEvent(passkey)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Run(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
