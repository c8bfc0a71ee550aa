package actions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// Limits of the JavaScript runtime. See doc.go for what they bound and what
// they do not.
const (
	// MaxScriptBytes bounds a script's source.
	MaxScriptBytes = 1 << 20
	// MaxCallStack bounds the script's call depth (deeper recursion throws a
	// RangeError instead of growing the Go stack).
	MaxCallStack = 1024
	// MaxStringLength bounds the strings String.prototype.repeat, padStart
	// and padEnd may build in one call (in UTF-16 code units).
	MaxStringLength = 1 << 22
	// MaxArrayLength bounds the length of the arrays and array-likes that
	// the Array built-ins, Function.prototype.apply and Reflect.apply and
	// construct will walk in one native call.
	MaxArrayLength = 1 << 20
	// MaxConsoleLines bounds the console lines one execution may log; the
	// rest are counted and dropped.
	MaxConsoleLines = 50
	// MaxConsoleLineBytes bounds one console line; longer ones are cut.
	MaxConsoleLineBytes = 2048
)

// ScriptError is a JavaScript exception that ended an execution: a throw, a
// rejected promise, or an error from the runtime itself (a TypeError, a
// RangeError for a too-deep stack...).
type ScriptError struct {
	// Message is the thrown value as a string ("Error: no access").
	Message string
	// Stack is the JavaScript stack trace, when there is one.
	Stack string
}

func (e *ScriptError) Error() string { return e.Message }

// Script is a post-login hook written in JavaScript, in the form of an Auth0
// Action:
//
//	exports.onExecutePostLogin = async (event, api) => { ... };
//
// NewScript compiles it once; every execution runs it in a fresh
// github.com/dop251/goja runtime holding only the script's module (exports,
// module.exports), console, and the event and api objects of that login. A
// Script is safe for concurrent use.
type Script struct {
	name   string
	prog   *goja.Program
	logger *slog.Logger
}

var _ PostLoginHook = (*Script)(nil)

// ScriptOption configures NewScript.
type ScriptOption func(*Script)

// WithLogger sends the script's console output to logger (with the
// attribute action=name). Without it console output is discarded.
func WithLogger(logger *slog.Logger) ScriptOption {
	return func(s *Script) { s.logger = logger }
}

// Module wrapper, as Node's CommonJS loader does it: the prefix is on the
// source's first line so that line numbers in errors are the source's own.
const (
	modulePrefix = "(function (exports, module) {"
	moduleSuffix = "\n})"
)

// NewScript compiles source, the code of the action called name, and checks
// that it exports an onExecutePostLogin function, by running the module's
// top level once in a fresh runtime (under DefaultTimeout). A syntax error
// or a missing handler is reported here, at start-up, never at a login.
func NewScript(name, source string, opts ...ScriptOption) (*Script, error) {
	if len(source) > MaxScriptBytes {
		return nil, fmt.Errorf("load action %q: script is %d bytes, over %d", name, len(source), MaxScriptBytes)
	}
	if !utf8.ValidString(source) {
		return nil, fmt.Errorf("load action %q: script is not UTF-8", name)
	}
	prog, err := goja.Compile(name, modulePrefix+source+moduleSuffix, false)
	if err != nil {
		return nil, fmt.Errorf("compile action %q: %w", name, err)
	}
	s := &Script{name: name, prog: prog}
	for _, o := range opts {
		o(s)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	vm := s.newRuntime()
	defer interruptWhenDone(ctx, vm)()
	if _, err := s.load(vm); err != nil {
		return nil, fmt.Errorf("load action %q: %w", name, scriptErr(ctx, err))
	}
	return s, nil
}

// Name returns the action's name.
func (s *Script) Name() string { return s.name }

// OnExecutePostLogin runs the script's exports.onExecutePostLogin(event,
// api) in a fresh runtime and waits for the promise it returns. A throw, a
// rejected promise or a promise that cannot settle (nothing in the runtime
// can resolve it later: there are no timers or I/O) is an error. When ctx is
// done the script is interrupted; without a deadline in ctx, DefaultTimeout
// applies.
func (s *Script) OnExecutePostLogin(ctx context.Context, ev *Event, api *API) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	vm := s.newRuntime()
	defer interruptWhenDone(ctx, vm)()
	err := s.execute(vm, ev, api)
	if deadline, ok := ctx.Deadline(); ok && time.Since(deadline) > time.Second {
		// The interrupt only reaches JavaScript code; a long native call
		// (a built-in) ran on past it. The login failed on time, but the
		// CPU was spent: say so.
		s.logger.LogAttrs(ctx, slog.LevelWarn, "action overran its time limit inside a built-in function",
			slog.String("action", s.name), slog.Duration("overrun", time.Since(deadline)))
	}
	if err != nil {
		return scriptErr(ctx, err)
	}
	return nil
}

// interruptWhenDone interrupts vm when ctx is done, and again every 10ms
// until the returned stop is called: goja clears the flag when the interrupt
// fires, so a second one covers a native function that swallowed the first.
func interruptWhenDone(ctx context.Context, vm *goja.Runtime) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			vm.Interrupt(ctx.Err())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done) }
}

// execute runs one login's handler in vm, a runtime from newRuntime.
func (s *Script) execute(vm *goja.Runtime, ev *Event, api *API) error {
	handler, err := s.load(vm)
	if err != nil {
		return err
	}
	return s.call(vm, handler, ev, api)
}

// call runs an already loaded handler.
func (s *Script) call(vm *goja.Runtime, handler goja.Callable, ev *Event, api *API) error {
	evVal, err := eventValue(vm, ev)
	if err != nil {
		return err
	}
	ret, err := handler(goja.Undefined(), evVal, s.apiValue(vm, api))
	if err != nil {
		return err
	}
	// Calling from Go runs the job queue before returning, so a promise is
	// settled by now unless it waits for something that will never come.
	if p, ok := ret.Export().(*goja.Promise); ok {
		switch p.State() {
		case goja.PromiseStateRejected:
			return rejection(p.Result())
		case goja.PromiseStatePending:
			return errors.New("the promise returned by onExecutePostLogin never settled (there are no timers or I/O to wait for)")
		}
	}
	return nil
}

// load runs the module in vm and returns its onExecutePostLogin.
func (s *Script) load(vm *goja.Runtime) (goja.Callable, error) {
	wrapper, err := vm.RunProgram(s.prog)
	if err != nil {
		return nil, err
	}
	wrap, ok := goja.AssertFunction(wrapper)
	if !ok {
		return nil, errors.New("script is not a module (unbalanced braces?)")
	}
	module := vm.NewObject()
	exports := vm.NewObject()
	if err := module.Set("exports", exports); err != nil {
		return nil, err
	}
	if _, err := wrap(goja.Undefined(), exports, module); err != nil {
		return nil, err
	}
	exp := module.Get("exports")
	if exp == nil || goja.IsUndefined(exp) || goja.IsNull(exp) {
		return nil, errors.New("module.exports is empty")
	}
	handler, ok := goja.AssertFunction(exp.ToObject(vm).Get("onExecutePostLogin"))
	if !ok {
		return nil, errors.New("the script does not export an onExecutePostLogin function")
	}
	return handler, nil
}

// newRuntime returns a runtime with the standard ECMAScript built-ins that
// goja provides (no require, no I/O, no timers), console, and the guards
// described in doc.go.
func (s *Script) newRuntime() *goja.Runtime {
	vm := goja.New()
	vm.SetMaxCallStackSize(MaxCallStack)
	guardAllocations(vm)
	cons := &console{logger: s.logger, action: s.name, stringify: jsonStringify(vm)}
	c := vm.NewObject()
	for _, l := range []struct {
		name  string
		level slog.Level
	}{{"log", slog.LevelInfo}, {"info", slog.LevelInfo}, {"debug", slog.LevelDebug}, {"warn", slog.LevelWarn}, {"error", slog.LevelError}} {
		_ = c.Set(l.name, func(call goja.FunctionCall) goja.Value {
			cons.print(l.level, call.Arguments)
			return goja.Undefined()
		})
	}
	_ = vm.Set("console", c)
	return vm
}

// guardAllocations bounds the built-ins that loop or allocate in one native
// call, where the interrupt cannot reach (new Array(1e9) is cheap, a native
// walk over it is not): String.prototype.repeat, padStart and padEnd get a
// length check; the Array.prototype methods, Array.from,
// Function.prototype.apply, Reflect.apply and Reflect.construct refuse
// arrays and array-likes longer than MaxArrayLength; and the binary-data
// constructors (ArrayBuffer, SharedArrayBuffer, DataView, typed arrays),
// which no post-login action needs, are removed.
func guardAllocations(vm *goja.Runtime) {
	arrayProto := vm.Get("Array").ToObject(vm).Get("prototype").ToObject(vm)
	for _, name := range []string{
		"at", "concat", "copyWithin", "entries", "every", "fill", "filter", "find", "findIndex",
		"findLast", "findLastIndex", "flat", "flatMap", "forEach", "includes", "indexOf", "join",
		"keys", "lastIndexOf", "map", "pop", "push", "reduce", "reduceRight", "reverse", "shift",
		"slice", "some", "sort", "splice", "toLocaleString", "toReversed", "toSorted", "toSpliced",
		"toString", "unshift", "values", "with",
	} {
		guardLength(vm, arrayProto, name, "Array.prototype."+name, func(c goja.FunctionCall) []goja.Value {
			return append([]goja.Value{c.This}, c.Arguments...)
		})
	}
	guardLength(vm, vm.Get("Array").ToObject(vm), "from", "Array.from", func(c goja.FunctionCall) []goja.Value {
		return c.Arguments[:min(1, len(c.Arguments))]
	})
	funcProto := vm.Get("Function").ToObject(vm).Get("prototype").ToObject(vm)
	guardLength(vm, funcProto, "apply", "Function.prototype.apply", func(c goja.FunctionCall) []goja.Value {
		return c.Arguments[min(1, len(c.Arguments)):min(2, len(c.Arguments))]
	})
	reflect := vm.Get("Reflect").ToObject(vm)
	for _, name := range []string{"apply", "construct"} {
		guardLength(vm, reflect, name, "Reflect."+name, func(c goja.FunctionCall) []goja.Value {
			return c.Arguments
		})
	}

	proto := vm.Get("String").ToObject(vm).Get("prototype").ToObject(vm)
	for _, name := range []string{"repeat", "padStart", "padEnd"} {
		orig, _ := goja.AssertFunction(proto.Get(name))
		_ = proto.Set(name, func(call goja.FunctionCall) goja.Value {
			var n int64
			switch name {
			case "repeat":
				n = int64(len(call.This.String())) * call.Argument(0).ToInteger()
			default:
				n = call.Argument(0).ToInteger()
			}
			if n > MaxStringLength {
				panic(rangeError(vm, fmt.Sprintf("String.prototype.%s would build %d characters; Latchkey allows %d", name, n, MaxStringLength)))
			}
			v, err := orig(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			return v
		})
	}
	for _, name := range []string{
		"ArrayBuffer", "SharedArrayBuffer", "DataView",
		"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
		"Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array",
	} {
		_ = vm.GlobalObject().Delete(name)
	}
}

// guardLength replaces obj[name] with a function that throws a RangeError
// when one of the values picked from the call is an object whose length is
// over MaxArrayLength, and calls the original otherwise.
func guardLength(vm *goja.Runtime, obj *goja.Object, name, label string, pick func(goja.FunctionCall) []goja.Value) {
	orig, ok := goja.AssertFunction(obj.Get(name))
	if !ok {
		return
	}
	_ = obj.DefineDataProperty(name, vm.ToValue(func(call goja.FunctionCall) goja.Value {
		for _, v := range pick(call) {
			o, ok := v.(*goja.Object)
			if !ok {
				continue
			}
			if l := o.Get("length"); l != nil && l.ToInteger() > MaxArrayLength {
				panic(rangeError(vm, fmt.Sprintf("%s on a length of %d; Latchkey allows %d", label, l.ToInteger(), MaxArrayLength)))
			}
		}
		v, err := orig(call.This, call.Arguments...)
		if err != nil {
			panic(err)
		}
		return v
	}), goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE)
}

// rangeError returns a JavaScript RangeError to throw (by panicking with it
// from a Go function).
func rangeError(vm *goja.Runtime, msg string) goja.Value {
	ctor, _ := goja.AssertConstructor(vm.Get("RangeError"))
	obj, err := ctor(nil, vm.ToValue(msg))
	if err != nil {
		return vm.ToValue(msg)
	}
	return obj
}

// eventValue turns ev into plain JavaScript objects, through its JSON form,
// so the script sees exactly the documented shape, and adds an empty
// event.secrets. (goja's own JSON.parse is several times slower than
// encoding/json plus building the objects here.)
func eventValue(vm *goja.Runtime, ev *Event) (goja.Value, error) {
	norm := ev.normalized()
	b, err := json.Marshal(&norm)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	obj := jsValue(vm, tree).(*goja.Object)
	_ = obj.Set("secrets", vm.NewObject())
	return obj, nil
}

// jsValue converts a decoded JSON value to a native JavaScript value.
func jsValue(vm *goja.Runtime, v any) goja.Value {
	switch v := v.(type) {
	case map[string]any:
		o := vm.NewObject()
		for k, e := range v {
			_ = o.Set(k, jsValue(vm, e))
		}
		return o
	case []any:
		items := make([]any, len(v))
		for i, e := range v {
			items[i] = jsValue(vm, e)
		}
		return vm.NewArray(items...)
	case nil:
		return goja.Null()
	default: // string, float64, bool
		return vm.ToValue(v)
	}
}

// jsonStringify returns the runtime's original JSON.stringify as a Go
// function, taken before the script runs (so a script replacing it changes
// nothing here). It returns "", false for values JSON cannot represent.
func jsonStringify(vm *goja.Runtime) func(goja.Value) (string, error) {
	f, _ := goja.AssertFunction(vm.Get("JSON").ToObject(vm).Get("stringify"))
	return func(v goja.Value) (string, error) {
		r, err := f(goja.Undefined(), v)
		if err != nil {
			var intr *goja.InterruptedError
			var so *goja.StackOverflowError
			if errors.As(err, &intr) || errors.As(err, &so) {
				// Uncatchable: let it end the script rather than turn it
				// into an exception the script could catch.
				panic(err)
			}
			var exc *goja.Exception
			if errors.As(err, &exc) {
				return "", errors.New(exc.Value().String())
			}
			return "", err
		}
		if goja.IsUndefined(r) {
			return "", errors.New("value has no JSON form (undefined, a function or a symbol)")
		}
		return r.String(), nil
	}
}

// apiValue builds the Auth0-shaped api object over api. Each method returns
// the api object, as Auth0's do. Misuse throws a TypeError (and api records
// the error, so catching it does not save the login).
func (s *Script) apiValue(vm *goja.Runtime, api *API) goja.Value {
	stringify := jsonStringify(vm)
	root := vm.NewObject()
	self := func(goja.FunctionCall) goja.Value { return root }
	throw := func(err error) {
		panic(vm.NewTypeError(err.Error()))
	}
	group := func(name string, methods map[string]func(goja.FunctionCall) goja.Value) {
		o := vm.NewObject()
		for m, f := range methods {
			_ = o.Set(m, f)
		}
		_ = root.Set(name, o)
	}
	unsupported := func(path string) func(goja.FunctionCall) goja.Value {
		return func(goja.FunctionCall) goja.Value {
			err := fmt.Errorf("api.%s is not supported by Latchkey", path)
			api.fail(err)
			throw(err)
			return nil
		}
	}
	claim := func(set func(string, any) error) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			name := call.Argument(0).String()
			raw, err := stringify(call.Argument(1))
			if err == nil {
				err = set(name, json.RawMessage(raw))
			} else {
				err = fmt.Errorf("set claim %q: %w: %w", name, ErrInvalidClaim, err)
				api.fail(err)
			}
			if err != nil {
				throw(err)
			}
			return self(call)
		}
	}

	group("multifactor", map[string]func(goja.FunctionCall) goja.Value{
		"enable": func(call goja.FunctionCall) goja.Value {
			provider := call.Argument(0).String()
			remember := false
			if o, ok := call.Argument(1).(*goja.Object); ok {
				remember = o.Get("allowRememberBrowser") != nil && o.Get("allowRememberBrowser").ToBoolean()
			}
			switch provider {
			case "none":
				api.SkipMFA()
			case "any", "guardian", "google-authenticator":
				// Auth0 keeps guardian and google-authenticator as legacy
				// names that, in its Universal Login, mean "any factor".
				api.RequireMFA(MFAOptions{AllowRememberBrowser: remember})
			default:
				err := fmt.Errorf("api.multifactor.enable: provider %q is not supported by Latchkey (use 'any' or 'none')", provider)
				api.fail(err)
				throw(err)
			}
			return self(call)
		},
	})
	group("access", map[string]func(goja.FunctionCall) goja.Value{
		"deny": func(call goja.FunctionCall) goja.Value {
			reason := ""
			if a := call.Argument(0); !goja.IsUndefined(a) && !goja.IsNull(a) {
				reason = a.String()
			}
			api.Deny(reason)
			return self(call)
		},
	})
	group("idToken", map[string]func(goja.FunctionCall) goja.Value{
		"setCustomClaim": claim(api.SetIDTokenClaim),
	})
	group("accessToken", map[string]func(goja.FunctionCall) goja.Value{
		"setCustomClaim": claim(api.SetAccessTokenClaim),
		"addScope":       unsupported("accessToken.addScope"),
		"removeScope":    unsupported("accessToken.removeScope"),
	})
	for g, ms := range map[string][]string{
		"user":           {"setAppMetadata", "setUserMetadata"},
		"redirect":       {"sendUserTo", "encodeToken", "validateToken"},
		"authentication": {"challengeWith", "challengeWithAny", "enrollWith", "enrollWithAny", "recordMethod", "setPrimaryUser"},
		"cache":          {"get", "set", "delete"},
		"session":        {"revoke", "setExpiresAt", "setIdleExpiresAt"},
	} {
		methods := map[string]func(goja.FunctionCall) goja.Value{}
		for _, m := range ms {
			methods[m] = unsupported(g + "." + m)
		}
		group(g, methods)
	}
	return root
}

// console writes a script's console output to slog, bounded per execution.
type console struct {
	logger    *slog.Logger
	action    string
	stringify func(goja.Value) (string, error)
	lines     int
}

func (c *console) print(level slog.Level, args []goja.Value) {
	c.lines++
	if c.lines > MaxConsoleLines {
		if c.lines == MaxConsoleLines+1 {
			c.logger.LogAttrs(context.Background(), slog.LevelWarn, "action console output truncated",
				slog.String("action", c.action), slog.Int("max_lines", MaxConsoleLines))
		}
		return
	}
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if b.Len() > MaxConsoleLineBytes {
			break
		}
		if o, ok := a.(*goja.Object); ok && o.ClassName() != "Error" && o.ClassName() != "Function" {
			if s, err := c.stringify(a); err == nil {
				b.WriteString(truncate(s, MaxConsoleLineBytes))
				continue
			}
		}
		b.WriteString(truncate(a.String(), MaxConsoleLineBytes))
	}
	c.logger.LogAttrs(context.Background(), level, truncate(b.String(), MaxConsoleLineBytes), slog.String("action", c.action))
}

// rejection turns a promise's rejection reason into a ScriptError.
func rejection(reason goja.Value) error {
	e := &ScriptError{Message: "promise rejected"}
	if reason == nil {
		return e
	}
	e.Message = "promise rejected: " + reason.String()
	if o, ok := reason.(*goja.Object); ok {
		if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
			e.Stack = st.String()
		}
	}
	return e
}

// scriptErr turns what goja returned into this package's errors: an
// interrupt becomes the context's error, an exception a ScriptError.
func scriptErr(ctx context.Context, err error) error {
	var intr *goja.InterruptedError
	if errors.As(err, &intr) {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("script interrupted: %w", cerr)
		}
		return fmt.Errorf("script interrupted: %v", intr.Value())
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return &ScriptError{Message: fmt.Sprintf("RangeError: maximum call stack size (%d) exceeded", MaxCallStack), Stack: so.String()}
	}
	var exc *goja.Exception
	if errors.As(err, &exc) {
		return &ScriptError{Message: exc.Value().String(), Stack: exc.String()}
	}
	var syn *goja.CompilerSyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("syntax error: %s", syn.Error())
	}
	return err
}
