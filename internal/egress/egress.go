package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrBlocked is wrapped by every refusal.
var ErrBlocked = errors.New("egress blocked")

// Checker decides which destinations are allowed. The zero value blocks
// loopback, link-local (including metadata), private, shared, unspecified
// and multicast addresses and allows public ones.
type Checker struct {
	// Allow lists prefixes that are reachable despite the rules above,
	// e.g. 10.0.5.0/24 for an internal model registry.
	Allow []netip.Prefix
	// AllowPrivate allows RFC 1918 / RFC 4193 private ranges (not loopback,
	// link-local or metadata).
	AllowPrivate bool
	// Resolver looks host names up; nil means net.DefaultResolver.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

var (
	metadata = netip.MustParseAddr("169.254.169.254")
	shared   = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
)

// CheckAddr reports why addr may not be reached, or nil.
func (c *Checker) CheckAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, p := range c.Allow {
		if p.Contains(addr) {
			return nil
		}
	}
	var why string
	switch {
	case !addr.IsValid():
		why = "is not an IP address"
	case addr == metadata:
		why = "is the cloud metadata service"
	case addr.IsLoopback():
		why = "is a loopback address"
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		why = "is a link-local address"
	case addr.IsUnspecified():
		why = "is the unspecified address"
	case addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		why = "is a multicast address"
	case addr.IsPrivate() && !c.AllowPrivate:
		why = "is in a private range"
	case shared.Contains(addr) && !c.AllowPrivate:
		why = "is in the shared (carrier-grade NAT) range"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s %s: use a public address or ask an admin to allow it", ErrBlocked, addr, why)
}

// CheckURL parses raw, requires http or https, resolves the host and
// checks every address it resolves to.
func (c *Checker) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not a URL: %v", ErrBlocked, raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: scheme %q: use http or https", ErrBlocked, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: credentials in the URL: pass them another way", ErrBlocked)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%w: %q has no host", ErrBlocked, raw)
	}
	if err := c.checkHost(ctx, host); err != nil {
		return nil, err
	}
	return u, nil
}

func (c *Checker) checkHost(ctx context.Context, host string) error {
	if addr, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return c.CheckAddr(addr)
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return fmt.Errorf("%w: %s is loopback", ErrBlocked, host)
	}
	var r interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	} = net.DefaultResolver
	if c.Resolver != nil {
		r = c.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%w: resolving %s: %v", ErrBlocked, host, err)
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: %s has no addresses", ErrBlocked, host)
	}
	for _, a := range addrs {
		if err := c.CheckAddr(a); err != nil {
			return fmt.Errorf("%s resolves to %w", host, err)
		}
	}
	return nil
}

// DialContext dials like net.Dialer but checks the address actually
// connected to; use it as http.Transport.DialContext.
func (c *Checker) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{ControlContext: func(_ context.Context, _, addr string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBlocked, err)
		}
		return c.CheckAddr(ap.Addr())
	}}
	return d.DialContext(ctx, network, address)
}
