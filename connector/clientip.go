package connector

import (
	"context"
	"errors"
	"net/netip"
)

// ErrLoginBlocked: brute-force protection blocks this identifier from this
// address (or from every address, with account lockout). It is returned
// before the password is checked and whether or not an account has the
// identifier, so the page shows the same message either way.
var ErrLoginBlocked = errors.New("connector: login blocked after too many failed attempts")

// clientIPKey keys the client's IP address in a context.
type clientIPKey struct{}

// WithClientIP returns a context carrying the IP address of the person
// logging in, for brute-force protection. Handlers add it once per request
// (the address they trust: the peer, or the proxy header they are
// configured to believe). An invalid address is ignored.
func WithClientIP(ctx context.Context, ip netip.Addr) context.Context {
	if !ip.IsValid() {
		return ctx
	}
	return context.WithValue(ctx, clientIPKey{}, ip.Unmap())
}

// ClientIP returns the address WithClientIP put in ctx, and whether there
// was one.
func ClientIP(ctx context.Context) (netip.Addr, bool) {
	ip, ok := ctx.Value(clientIPKey{}).(netip.Addr)
	return ip, ok
}
