// Package templates holds Latchkey's hosted pages (login, password, sign-up,
// consent, error, logged-out and the demo relying party) and their static
// assets, embedded in the binary and rendered through typed methods.
//
// Every page is parsed, and rendered once with zero-value data, when New
// runs, so a missing or broken template fails at start-up rather than on a
// person's request. A theme is an fs.FS laid out like the embedded files/
// directory: a file it holds replaces the default of the same name, anything
// it lacks falls back to the default.
//
// Pages carry no inline scripts or styles, so they work under a strict
// Content-Security-Policy (script-src 'self'; style-src 'self'); the CSS and
// the small progressive-enhancement script are served from Assets.
//
// This package may import only the standard library. It knows nothing of
// HTTP routing, storage or connectors: handlers fill the data structs.
package templates
