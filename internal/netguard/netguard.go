// Package netguard keeps the deliverer from being turned against private
// networks (SSRF): it refuses, at dial time and after DNS resolution,
// addresses that are loopback, private, link-local, unique-local, CGNAT,
// multicast or unspecified, and IPv6 addresses that carry or reach an IPv4
// one (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64), unless an
// allow-list admits them. At create time, [Guard.CheckURL] reads a URL's
// host as a browser or resolver would (numeric IPv4 forms, IDNA mapping,
// trailing dots) and refuses those addresses already.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbidden is returned (wrapped) for an address the guard refuses.
var ErrForbidden = errors.New("address not allowed")

var forbidden = mustPrefixes(
	"0.0.0.0/8",       // "this" network, unspecified
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // CGNAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // TEST-NET-1
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // TEST-NET-2
	"203.0.113.0/24",  // TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
	"::/128",          // unspecified
	"::1/128",         // loopback
	"::/96",           // IPv4-compatible (deprecated; carries an IPv4 address)
	"::ffff:0:0/96",   // IPv4-mapped (its IPv4 address is checked first)
	"64:ff9b::/96",    // NAT64 (may reach IPv4 private space)
	"64:ff9b:1::/48",  // local NAT64
	"100::/64",        // discard
	"2001::/32",       // Teredo (tunnels to an IPv4 address)
	"2001:db8::/32",   // documentation
	"2002::/16",       // 6to4 (tunnels to an IPv4 address)
	"fc00::/7",        // unique-local
	"fe80::/10",       // link-local
	"fec0::/10",       // site-local (deprecated)
	"ff00::/8",        // multicast
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Guard decides which addresses may be dialled.
type Guard struct {
	allow []netip.Prefix
}

// New returns a Guard with an allow-list of CIDRs that are admitted even if
// forbidden (for development and tests, e.g. "127.0.0.0/8").
func New(allowed []netip.Prefix) *Guard { return &Guard{allow: allowed} }

// ParseCIDRs parses a comma-separated list such as "127.0.0.0/8,::1/128".
func ParseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("netguard: %q is not a CIDR like 127.0.0.0/8", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Check returns nil if addr may be dialled, else an error wrapping
// ErrForbidden that names the range addr is in. The allow-list admits an
// IPv4-mapped address when it covers either form of it; the other
// transition ranges are admitted only by a prefix that covers them.
func (g *Guard) Check(addr netip.Addr) error {
	addr = addr.WithZone("") // prefixes never match a zoned address
	v4 := addr.Unmap()
	for _, p := range g.allow {
		if p.Contains(addr) || p.Contains(v4) {
			return nil
		}
	}
	if v4 != addr {
		if err := inForbidden(v4); err != nil {
			return err // name the IPv4 range: 127.0.0.1 is in 127.0.0.0/8
		}
	}
	return inForbidden(addr)
}

func inForbidden(addr netip.Addr) error {
	for _, p := range forbidden {
		if p.Contains(addr) {
			return fmt.Errorf("%w: %s is in %s", ErrForbidden, addr, p)
		}
	}
	return nil
}

// Control is a net.Dialer Control function: it runs after DNS resolution,
// on the address actually being dialled.
func (g *Guard) Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrForbidden, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %q is not an IP address", ErrForbidden, host)
	}
	return g.Check(ip)
}

// CheckURL refuses a URL whose host is, or is read as, a forbidden address:
// a literal address in any form a browser or resolver accepts (127.1,
// 0x7f.1, 2130706433, fullwidth digits), or localhost. Other names are
// checked at dial time, after resolution. The error says what is wrong with
// the host, for the customer who submitted it.
func (g *Guard) CheckURL(u *url.URL) error {
	host, err := canonicalHost(u.Hostname())
	if err != nil {
		return err
	}
	addr, isAddr, err := hostAddr(host)
	switch {
	case err != nil:
		return err
	case isAddr:
		if err := g.Check(addr); err != nil {
			return refusedHost(u.Hostname(), addr)
		}
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		if err := g.Check(netip.MustParseAddr("127.0.0.1")); err != nil {
			return fmt.Errorf("host %s is not allowed (loopback)", u.Hostname())
		}
	}
	return nil
}

func refusedHost(host string, addr netip.Addr) error {
	if addr.String() == host {
		return fmt.Errorf("host %s is not allowed (private, loopback or reserved address)", host)
	}
	return fmt.Errorf("host %s is not allowed: it is read as %s, a private, loopback or reserved address", host, addr)
}
