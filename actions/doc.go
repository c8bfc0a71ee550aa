// Package actions runs post-login actions: code a deployment adds to the
// login flow, after the person has authenticated and before Latchkey
// finishes the login, to require or skip MFA, deny access, or add custom
// claims to the tokens. It is Latchkey's version of Auth0's post-login
// Actions, and takes their names so that an Auth0 action can be pasted.
//
// # Two kinds of hooks
//
// An application embedding Latchkey writes a PostLoginHook in Go. The
// latchkey binary runs JavaScript: NewScript (or LoadScripts, from the
// config file) compiles an Auth0-style module
//
//	exports.onExecutePostLogin = async (event, api) => {
//	  if (event.authentication.methods.some((m) => m.name === 'passkey')) {
//	    api.multifactor.enable('none');
//	  }
//	};
//
// with the Event (event.user, event.client, event.connection,
// event.authentication.methods, event.transaction, event.request,
// event.stats, event.tenant, an empty event.secrets) and the api object
// (api.multifactor.enable('none' | 'any', {allowRememberBrowser}),
// api.access.deny(reason), api.idToken.setCustomClaim(name, value),
// api.accessToken.setCustomClaim(name, value)). Other Auth0 api methods
// (api.user.setAppMetadata, api.redirect.sendUserTo, api.authentication.*,
// api.cache.*...) exist and throw "not supported by Latchkey", so a pasted
// action fails clearly instead of with a TypeError.
//
// # Running them
//
// A Runner runs a deployment's Actions in order for each login, each in its
// own goroutine under its own time limit, and combines their decisions into
// a Result: the last MFA decision wins; the first denial wins and no later
// action runs; a claim set later replaces the same claim set earlier. A hook
// that returns an error, throws, panics, misuses the API (a reserved claim
// name such as sub or amr, a value that is not JSON) or runs out of time
// fails the whole run with an *ActionError (errors.Is ErrActionFailed), and
// none of the decisions apply.
//
// What the login handler does with the outcome (it is wired in handlers/):
//
//   - Result.Denied: the person sees the reason on an error page; the client
//     gets error=access_denied with the reason as error_description.
//   - ErrActionFailed: the person sees a generic error page; the client gets
//     error=server_error ("A post-login action failed."); the details are
//     logged, never shown. ClientError gives both codes.
//   - Result.MFA: MFASkip and MFARequire override the connection's policy
//     for this login, except that an MFA demand of the relying party
//     (acr_values) always wins over MFASkip.
//   - Result.IDTokenClaims and AccessTokenClaims go into the tokens (the
//     access token's into its introspection response: Latchkey's access
//     tokens are opaque).
//
// # The JavaScript sandbox and its limits
//
// Scripts run in-process in github.com/dop251/goja (ECMAScript 5.1 plus
// most of ES2015+; promises and async functions work). A script is compiled
// once, at start-up; NewScript also runs its top level once to check that it
// exports onExecutePostLogin, so a broken script stops the server, not a
// login. Each execution gets a fresh runtime, so nothing one login's script
// leaves in globals or prototypes reaches the next login (a pooled runtime
// is several times cheaper, see BenchmarkScript, but could leak one person's
// event to another's login).
//
// The runtime holds the ECMAScript built-ins and nothing else: no require,
// no process, no fetch or other network, no file system, no timers
// (setTimeout and friends are undefined, so nothing outlives the call; a
// promise that waits for something that never comes is an error). console
// (log, info, debug, warn, error) goes to slog with action=name, at most
// MaxConsoleLines lines of MaxConsoleLineBytes per execution.
//
// Time is bounded: at the time limit the runtime is interrupted (and again
// every 10ms until it stops), which stops any JavaScript loop, including
// one in a callback of a built-in, and cannot be caught by the script. The
// Runner returns at the limit in any case.
//
// Memory is only partly bounded: goja has no memory limit. The interrupt
// cannot reach inside one native built-in call, which is where a small
// expression can allocate or loop without end ('x'.repeat(1e10),
// new Array(1e9).fill(0)); those are guarded: repeat, padStart and padEnd
// refuse results over MaxStringLength, the Array methods, Array.from,
// Function.prototype.apply, Reflect.apply and Reflect.construct refuse
// lengths over MaxArrayLength, and the binary-data constructors
// (ArrayBuffer, typed arrays, DataView) are removed. The call depth is
// capped at MaxCallStack. What is not bounded: a script that builds large
// values step by step (doubling a string in a loop) allocates until the
// time limit stops it, which at 1s can be gigabytes. Scripts are deployment
// configuration, as trusted as the config file, and these limits protect
// against mistakes, not against a hostile author; run the binary with a
// container memory limit.
//
// # Imports
//
// This package may import storage and connector (for their types: the
// Event is built from storage.User, storage.Client, storage.Connection and
// connector.Method), github.com/dop251/goja, and the standard library.
// It must not import handlers, provider, templates or the root package;
// handlers import it.
package actions
