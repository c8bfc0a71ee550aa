package database

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/connector"
	"github.com/latchkey/latchkey/storage"
)

// Brute-force limits.
const (
	defaultBruteForceThreshold = 10
	maxBruteForceThreshold     = 1000
	maxAllowListEntries        = 1000
	minBlockDuration           = time.Minute
	maxBlockDuration           = 365 * 24 * time.Hour
	// unknownIP stands for the address of a login whose context carries
	// none (connector.WithClientIP not called): such failures still count,
	// all under this one address.
	unknownIP = "unknown"
)

// BruteForce is a connection's brute-force protection, after Auth0's: after
// Threshold failed logins for one identifier from one IP address, that
// address is blocked for that identifier until the block is lifted (the
// emailed unblock link, a password reset, an administrator) or, with
// BlockDuration, until it expires. With AccountLockout the identifier is
// also blocked from every address after Threshold failures from any
// addresses together. Addresses in IPAllowList are never counted or
// blocked.
//
// Failures are counted per identifier as typed (normalised), whether or not
// an account has it, and the block is checked before the account is looked
// up, so a blocked login looks the same for existing and unknown accounts.
// An account's email and username count apart.
type BruteForce struct {
	// Enabled turns the protection on (default true).
	Enabled bool `json:"enabled"`
	// Threshold is the number of failures that blocks (default 10,
	// 1..1000).
	Threshold int `json:"threshold,omitempty"`
	// AccountLockout also blocks the identifier from every address after
	// Threshold failures from all addresses together.
	AccountLockout bool `json:"account_lockout,omitempty"`
	// IPAllowList holds addresses and CIDR prefixes ("203.0.113.0/24",
	// "2001:db8::/32", "192.0.2.7") exempt from the protection.
	IPAllowList []string `json:"ip_allow_list"`
	// BlockDuration, when set ("1h", "30m"), lifts a block, and forgets the
	// failures, that long after the last failure. Empty: until unblocked,
	// as in Auth0.
	BlockDuration Duration `json:"block_duration,omitempty"`
}

// DefaultBruteForce is the protection of a connection whose settings do not
// mention it: on, 10 failures, no lockout, no allow list, no expiry.
func DefaultBruteForce() BruteForce {
	return BruteForce{Enabled: true, Threshold: defaultBruteForceThreshold}
}

// validate reports settings out of range.
func (b BruteForce) validate() error {
	if b.Threshold < 1 || b.Threshold > maxBruteForceThreshold {
		return fmt.Errorf("threshold %d: want 1..%d", b.Threshold, maxBruteForceThreshold)
	}
	if len(b.IPAllowList) > maxAllowListEntries {
		return fmt.Errorf("ip_allow_list: at most %d entries", maxAllowListEntries)
	}
	if _, err := parseAllowList(b.IPAllowList); err != nil {
		return fmt.Errorf("ip_allow_list: %w", err)
	}
	if d := time.Duration(b.BlockDuration); d != 0 && (d < minBlockDuration || d > maxBlockDuration) {
		return fmt.Errorf("block_duration %v: want %v..%v, or empty for blocks until unblocked", d, minBlockDuration, maxBlockDuration)
	}
	return nil
}

// parseAllowList parses addresses and CIDR prefixes. A bare address is a
// prefix of its full length; IPv4-mapped IPv6 forms are unmapped.
func parseAllowList(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if strings.Contains(e, "/") {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("entry %q: %w", e, err)
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("entry %q: not an address or CIDR prefix: %w", e, err)
		}
		if a.Zone() != "" {
			return nil, fmt.Errorf("entry %q: zoned addresses are not allowed", e)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("1h30m").
type Duration time.Duration

// MarshalJSON writes the duration as a string ("" when zero).
func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte(`""`), nil
	}
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string; "" is zero.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"1h\": %w", err)
	}
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// lifecycle is the state the account-lifecycle features add to a
// Connection (embedded in it).
type lifecycle struct {
	allowOnce sync.Once
	allow     []netip.Prefix
	// mail is nil until SetMail.
	mail atomic.Pointer[Mail]
	// mailWG tracks background sends.
	mailWG sync.WaitGroup
}

// allowList returns the parsed brute-force allow list (validated by
// ParseSettings, so it cannot fail here).
func (c *Connection) allowList() []netip.Prefix {
	c.allowOnce.Do(func() {
		c.allow, _ = parseAllowList(c.settings.BruteForce.IPAllowList)
	})
	return c.allow
}

// guard is the brute-force state of one login attempt.
type guard struct {
	c          *Connection
	identifier string
	ip         string
	// seen records which counters existed at the check, so that a
	// successful login only writes when there is something to reset.
	seen []string
}

// bruteForceGuard returns the guard of a login attempt, or nil when the
// protection does not apply (disabled, empty identifier, allow-listed
// address).
func (c *Connection) bruteForceGuard(ctx context.Context, identifier string) *guard {
	bf := c.settings.BruteForce
	if !bf.Enabled || identifier == "" {
		return nil
	}
	ip := unknownIP
	if a, ok := connector.ClientIP(ctx); ok {
		for _, p := range c.allowList() {
			if p.Contains(a) {
				return nil
			}
		}
		ip = a.String()
	}
	return &guard{c: c, identifier: identifier, ip: ip}
}

// counters are the counters a login checks and updates: the address's,
// and the account-wide one with lockout.
func (g *guard) counters() []string {
	if g.c.settings.BruteForce.AccountLockout {
		return []string{g.ip, storage.AnyIP}
	}
	return []string{g.ip}
}

// check returns connector.ErrLoginBlocked when a counter is blocked.
func (g *guard) check(ctx context.Context) error {
	for _, ip := range g.counters() {
		f, err := g.c.store.GetLoginFailure(ctx, g.c.conn.ID, g.identifier, ip)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check login block: %w", err)
		}
		if f.Blocked() {
			return connector.ErrLoginBlocked
		}
		g.seen = append(g.seen, ip)
	}
	return nil
}

// failed counts a failure on every counter and reports whether it started
// a block.
func (g *guard) failed(ctx context.Context) (blocked bool) {
	bf := g.c.settings.BruteForce
	now := g.c.now().UTC()
	var exp time.Time
	if bf.BlockDuration > 0 {
		exp = now.Add(time.Duration(bf.BlockDuration))
	}
	for _, ip := range g.counters() {
		f, err := g.c.store.RecordLoginFailure(ctx, storage.FailedLogin{
			ConnectionID: g.c.conn.ID, Identifier: g.identifier, IP: ip, At: now,
			Threshold: bf.Threshold, ExpiresAt: exp,
		})
		if err != nil {
			g.c.logger.WarnContext(ctx, "record failed login", "connection", g.c.conn.Name, "error", err)
			continue
		}
		if f.Count == bf.Threshold && f.Blocked() {
			blocked = true
			// The identifier is not logged: people type passwords into it.
			g.c.logger.WarnContext(ctx, "login blocked after too many failures",
				"connection", g.c.conn.Name, "ip", g.ip, "account_wide", ip == storage.AnyIP, "failures", f.Count)
		}
	}
	return blocked
}

// succeeded forgets the failures a successful login ends.
func (g *guard) succeeded(ctx context.Context) {
	for _, ip := range g.seen {
		if _, err := g.c.store.ResetLoginFailures(ctx, g.c.conn.ID, g.identifier, ip); err != nil {
			g.c.logger.WarnContext(ctx, "reset failed logins", "connection", g.c.conn.Name, "error", err)
		}
	}
}

// Login checks identifier and password under brute-force protection (see
// BruteForce): a blocked identifier and address give
// connector.ErrLoginBlocked before anything else is checked, a wrong
// password or unknown identifier counts a failure, and a successful login
// resets the counters it was checked against. The client address comes
// from connector.WithClientIP. Otherwise it behaves as described on login.
// When a failure starts a block and the connection has mail (SetMail), the
// account's owner is sent an unblock link, in the background so that the
// answer takes the same time whether or not the account exists.
func (c *Connection) Login(ctx context.Context, identifier, pw string) (storage.User, connector.Method, error) {
	id := normalizeIdentifier(identifier)
	g := c.bruteForceGuard(ctx, id)
	if g != nil {
		if err := g.check(ctx); err != nil {
			return storage.User{}, connector.Method{}, fmt.Errorf("log in: %w", err)
		}
	}
	u, m, err := c.login(ctx, identifier, pw)
	if g == nil {
		return u, m, err
	}
	switch {
	case err == nil:
		g.succeeded(ctx)
	case errors.Is(err, connector.ErrInvalidCredentials):
		if g.failed(ctx) {
			c.notifyBlocked(ctx, id)
		}
	}
	return u, m, err
}

// ResetLoginFailures lifts every brute-force block and forgets every failed
// login of the user's identifiers (email and username), from all
// addresses: the administrator's unblock, also used by a password reset
// and the unblock link.
func (c *Connection) ResetLoginFailures(ctx context.Context, u storage.User) error {
	for _, id := range []string{u.Email, u.Username} {
		if id == "" {
			continue
		}
		if _, err := c.store.ResetLoginFailures(ctx, c.conn.ID, normalizeIdentifier(id), ""); err != nil {
			return fmt.Errorf("reset login failures: %w", err)
		}
	}
	return nil
}

// LoginFailures lists the brute-force counters of an identifier (for an
// administrator's view); a counter with BlockedAt set is a block.
func (c *Connection) LoginFailures(ctx context.Context, identifier string) ([]storage.LoginFailure, error) {
	fs, err := c.store.ListLoginFailures(ctx, c.conn.ID, normalizeIdentifier(identifier))
	if err != nil {
		return nil, fmt.Errorf("list login failures: %w", err)
	}
	return fs, nil
}
