package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

// maxDuration caps -duration so that a run always ends by itself.
const maxDuration = 10 * time.Minute

// options are the command-line settings.
type options struct {
	target       *url.URL
	scenarios    string
	concurrency  []int
	n            int
	duration     time.Duration
	warmup       time.Duration
	machineID    string
	machineKey   string
	webID        string
	webKey       string
	redirectURI  string
	scope        string
	email        string
	password     string
	timeout      time.Duration
	pauseBetween time.Duration
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Error("latchkey-load", "error", err)
		os.Exit(1)
	}
}

// run parses args, sets up and runs every scenario, writing reports to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	l := newLoader(o)
	for _, step := range planSteps(o) {
		if err := ctx.Err(); err != nil {
			return err
		}
		reports, err := l.runStep(ctx, step)
		if err != nil {
			return fmt.Errorf("run %s: %w", step, err)
		}
		for _, r := range reports {
			r.write(out)
		}
		if o.pauseBetween > 0 {
			time.Sleep(o.pauseBetween)
		}
	}
	return nil
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("latchkey-load", flag.ContinueOnError)
	var o options
	target := fs.String("target", "http://127.0.0.1:18080", "the server's issuer URL (loopback only)")
	fs.StringVar(&o.scenarios, "scenario", "client_credentials", "scenarios: name[,name…] or name:N[,name:N…] (see doc)")
	conc := fs.String("c", "8", "comma-separated concurrencies for bare scenario names")
	fs.IntVar(&o.n, "n", 0, "stop a scenario after this many operations (0: duration only; code needs it)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "stop a scenario after this long (max 10m)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "untimed warm-up per step before measuring")
	fs.StringVar(&o.machineID, "machine-client", "load-machine", "client_credentials client ID")
	fs.StringVar(&o.machineKey, "machine-secret", "load-machine-secret-0123456789abcdef0123456789abcdef", "its secret")
	fs.StringVar(&o.webID, "web-client", "load-web", "authorization_code client ID (client_secret_basic)")
	fs.StringVar(&o.webKey, "web-secret", "load-web-secret-0123456789abcdef0123456789abcdef01234", "its secret")
	fs.StringVar(&o.redirectURI, "redirect-uri", "https://rp.load.invalid/callback", "the web client's redirect URI (never contacted)")
	fs.StringVar(&o.scope, "machine-scope", "api:read", "scope requested with client_credentials")
	fs.StringVar(&o.email, "email", "load-user@example.com", "the user logging in (signed up when missing)")
	fs.StringVar(&o.password, "password", "Velvet-Marmot-Quasar-42!", "the user's password")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.DurationVar(&o.pauseBetween, "pause", 2*time.Second, "pause between steps (lets the database settle)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	u, err := loopbackURL(*target)
	if err != nil {
		return o, err
	}
	o.target = u
	for _, s := range strings.Split(*conc, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 || c > 4096 {
			return o, fmt.Errorf("-c: %q is not a concurrency in 1..4096", s)
		}
		o.concurrency = append(o.concurrency, c)
	}
	if o.duration <= 0 || o.duration > maxDuration {
		return o, fmt.Errorf("-duration must be in (0, %s]", maxDuration)
	}
	if o.n < 0 {
		return o, errors.New("-n must not be negative")
	}
	if _, err := planStepsChecked(o); err != nil {
		return o, err
	}
	return o, nil
}

// loopbackURL parses raw and refuses any host that is not a loopback
// address or "localhost".
func loopbackURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("-target: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-target %q: want an http or https URL", raw)
	}
	if !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("-target %q: only loopback hosts (127.0.0.1, ::1, localhost) are allowed", raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackDialer refuses to connect anywhere but a loopback address, even if
// "localhost" resolved elsewhere.
func loopbackDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		if strings.EqualFold(host, "localhost") {
			host = "127.0.0.1"
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("dial %s: not a loopback address", addr)
		}
		return d.DialContext(ctx, network, net.JoinHostPort(host, port))
	}
}

// newTransport returns a transport that keeps up to conns connections to
// the target alive and dials only loopback addresses.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		DialContext:         loopbackDialer(),
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
}
