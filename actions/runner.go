package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// PostLoginHook runs after the person has authenticated and before Latchkey
// completes the login (MFA, then the redirect to the client with a code).
// It reads ev and records its decisions through api. A returned error fails
// the login (see ErrActionFailed).
//
// ctx carries the hook's time limit. A hook should return when ctx is done;
// one that does not is abandoned at the limit (its goroutine keeps running,
// its later API calls are ignored) and the login fails.
type PostLoginHook interface {
	OnExecutePostLogin(ctx context.Context, ev *Event, api *API) error
}

// HookFunc adapts a function to PostLoginHook.
type HookFunc func(ctx context.Context, ev *Event, api *API) error

// OnExecutePostLogin calls f.
func (f HookFunc) OnExecutePostLogin(ctx context.Context, ev *Event, api *API) error {
	return f(ctx, ev, api)
}

// Time limits of one hook.
const (
	// DefaultTimeout applies when an Action has no Timeout.
	DefaultTimeout = time.Second
	// MaxTimeout is the longest Timeout LoadScripts accepts. Auth0 gives a
	// whole trigger 20 seconds, network calls included; Latchkey's actions
	// have no network, and a person is waiting.
	MaxTimeout = 10 * time.Second
)

// Action is a named hook with its time limit, one step of the post-login
// pipeline.
type Action struct {
	// Name identifies the action in logs and errors.
	Name string
	Hook PostLoginHook
	// Timeout bounds one execution; zero means DefaultTimeout.
	Timeout time.Duration
}

// ErrActionFailed reports that a hook failed: it returned an error, threw,
// panicked, misused the API, or ran out of time. The login must then fail;
// errors.As with *ActionError gives the action's name and the cause.
//
// How the login fails (for the handler that runs the Runner): the person
// gets an error page with a generic message (never the hook's error, which
// may hold internals), and the relying party gets error=server_error (RFC
// 6749 4.1.2.1: an unexpected condition prevented the request). A failure is
// Latchkey's fault, not the person's, and server_error tells the client so;
// ClientError gives the code and description.
var ErrActionFailed = errors.New("actions: post-login action failed")

// ActionError is the error of one failed hook.
type ActionError struct {
	Action string
	Err    error
}

func (e *ActionError) Error() string {
	return fmt.Sprintf("post-login action %q failed: %v", e.Action, e.Err)
}

// Unwrap returns ErrActionFailed and the cause, so both errors.Is(err,
// ErrActionFailed) and errors.Is(err, context.DeadlineExceeded) hold for a
// hook that ran out of time.
func (e *ActionError) Unwrap() []error { return []error{ErrActionFailed, e.Err} }

// OAuth 2.0 error codes (RFC 6749 4.1.2.1) the relying party gets when the
// hooks stop a login.
const (
	ErrorCodeAccessDenied = "access_denied"
	ErrorCodeServerError  = "server_error"
)

// ClientError returns the OAuth error for the relying party after Run:
// access_denied with the hook's reason when a hook denied the login,
// server_error when the hooks failed, and empty strings when the login may
// go on.
func ClientError(res *Result, err error) (code, description string) {
	switch {
	case err != nil:
		return ErrorCodeServerError, "A post-login action failed."
	case res != nil && res.Denied != nil:
		return ErrorCodeAccessDenied, res.Denied.Reason
	default:
		return "", ""
	}
}

// Runner runs the configured actions of a deployment, in order, for each
// login. It is safe for concurrent use.
type Runner struct {
	actions []Action
	logger  *slog.Logger
}

// NewRunner returns a Runner over actions, which run in the given order.
// A nil logger discards the Runner's logs.
func NewRunner(logger *slog.Logger, actions ...Action) *Runner {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{actions: append([]Action(nil), actions...), logger: logger}
}

// Len returns the number of configured actions.
func (r *Runner) Len() int { return len(r.actions) }

// Run runs the actions for one login and returns their combined decisions.
//
// Hooks run one after the other, each with its own time limit and its own
// API: a hook does not see what earlier hooks decided (as in Auth0, whose
// api object has no getters). After each hook its decisions are merged into
// the Result: the last MFA decision wins, a claim set later replaces the
// same claim set earlier, and the first denial wins and ends the run, later
// hooks not running (Auth0: "no further Actions will be executed").
//
// A failed hook ends the run with an *ActionError (ErrActionFailed) and a
// nil Result: partial decisions are not applied. A denial is not an error:
// Result.Denied is set and err is nil.
func (r *Runner) Run(ctx context.Context, ev *Event) (*Result, error) {
	var res Result
	for _, a := range r.actions {
		start := time.Now()
		h, err := r.runOne(ctx, a, ev)
		if err == nil {
			res.merge(h)
			if len(res.IDTokenClaims) > MaxClaims || len(res.AccessTokenClaims) > MaxClaims {
				err = fmt.Errorf("%w: the actions set more than %d custom claims on one token", ErrInvalidClaim, MaxClaims)
			}
		}
		if err != nil {
			err = &ActionError{Action: a.Name, Err: err}
			r.logger.LogAttrs(ctx, slog.LevelError, "post-login action failed",
				slog.String("action", a.Name), slog.Duration("elapsed", time.Since(start)),
				slog.String("user_id", ev.User.UserID), slog.String("client_id", ev.Client.ClientID),
				slog.Any("error", err))
			return nil, err
		}
		r.logger.LogAttrs(ctx, slog.LevelDebug, "post-login action ran",
			slog.String("action", a.Name), slog.Duration("elapsed", time.Since(start)),
			slog.String("mfa", h.MFA.String()), slog.Bool("denied", h.Denied != nil))
		if res.Denied != nil {
			r.logger.LogAttrs(ctx, slog.LevelInfo, "post-login action denied the login",
				slog.String("action", a.Name), slog.String("user_id", ev.User.UserID),
				slog.String("client_id", ev.Client.ClientID), slog.String("reason", res.Denied.Reason))
			break
		}
	}
	return &res, nil
}

// runOne runs one hook in its own goroutine under its time limit, turning a
// panic into an error.
func (r *Runner) runOne(ctx context.Context, a Action, ev *Event) (Result, error) {
	timeout := a.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	api := newAPI(a.Name)
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				r.logger.LogAttrs(ctx, slog.LevelError, "post-login action panicked",
					slog.String("action", a.Name), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- a.Hook.OnExecutePostLogin(ctx, ev, api)
	}()
	var err error
	select {
	case err = <-done:
		if err == nil && ctx.Err() != nil {
			// Finished, but too late to count.
			err = ctx.Err()
		}
	case <-ctx.Done():
		err = fmt.Errorf("stopped (time limit %v): %w", timeout, ctx.Err())
	}
	h, apiErr := api.close()
	if apiErr != nil {
		// A misuse of the API is the cause even when the hook went on (a
		// script catching the exception) and failed later for it.
		err = apiErr
	}
	return h, err
}
