// Command latchkey runs and administers a Latchkey OpenID Provider.
//
//	latchkey serve      [--config FILE] [--dsn DSN] [--issuer URL] [--listen ADDR]
//	latchkey migrate
//	latchkey clients    create|list|delete
//	latchkey users      create|list|delete
//	latchkey keys       list|rotate
//	latchkey healthcheck [--url URL]
//
// Every command reads the same configuration: the YAML file named by
// --config (or LATCHKEY_CONFIG), then LATCHKEY_* environment variables, then
// flags (see config.example.yaml). Commands that open the database migrate it
// first, so they work on a fresh install. Results go to stdout, errors to
// stderr with exit status 1, logs to stderr as JSON (log/slog).
//
// serve prints a banner with the issuer, the discovery URL and the demo
// client's credentials to stdout, and logs the same facts as JSON to stderr
// except the demo client's secret: logs are usually shipped elsewhere.
//
// This is one of Latchkey's two composition roots (package latchkey is the
// other): the only place that picks a concrete storage backend
// (storage/sqlstore). It may import every Latchkey package, cobra, and the
// standard library. Commands are built by functions over an app value that
// carries the streams and environment, so tests run them in-process; there
// are no package-level commands or init functions.
package main
