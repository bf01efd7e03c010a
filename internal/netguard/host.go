package netguard

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// canonicalHost returns host as the deliverer's HTTP client will look it
// up: an internationalised name mapped to ASCII with the same IDNA profile
// net/http uses (which turns fullwidth or circled digits into ASCII ones),
// lower case, without the trailing dots a resolver ignores.
func canonicalHost(host string) (string, error) {
	ascii := host
	if !isASCII(host) {
		var err error
		if ascii, err = idna.Lookup.ToASCII(host); err != nil {
			return "", fmt.Errorf("host %s is not a valid internationalised domain name", host)
		}
	}
	ascii = strings.TrimRight(strings.ToLower(ascii), ".")
	if ascii == "" {
		return "", fmt.Errorf("host %q is not a valid name", host)
	}
	return ascii, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// hostAddr reports whether a canonical host is an IP address, and which.
// Besides the literal forms netip parses, it reads a host whose last label
// is a number as IPv4 the way browsers (the WHATWG URL standard) and
// inet_aton do: one to four parts, each decimal, octal (leading 0) or hex
// (0x), the last filling the remaining bytes, so 127.1, 0177.0.0.1,
// 2130706433, 0x7f.1 and 0 are all addresses. Such a host that is not a
// valid address is an error: it is no valid name either.
func hostAddr(host string) (netip.Addr, bool, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr, true, nil
	}
	parts := strings.Split(host, ".")
	if !isNumber(parts[len(parts)-1]) {
		return netip.Addr{}, false, nil // a name
	}
	addr, ok := parseIPv4(parts)
	if !ok {
		return netip.Addr{}, false, fmt.Errorf("host %s is neither a valid IPv4 address nor a name (its last label is a number)", host)
	}
	return addr, true, nil
}

// parseIPv4 is the WHATWG IPv4 parser on a host's labels.
func parseIPv4(parts []string) (netip.Addr, bool) {
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		n, err := ipv4Number(p)
		if err != nil {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if n > 255 {
				return netip.Addr{}, false
			}
			v |= n << (8 * (3 - i))
			continue
		}
		if n >= 1<<(8*(5-len(parts))) {
			return netip.Addr{}, false
		}
		v |= n
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// isNumber reports whether a (lower-case) label makes its host numeric:
// all decimal digits, or 0x and hex digits, whatever its value.
func isNumber(label string) bool {
	digits, ok := strings.CutPrefix(label, "0x")
	if !ok {
		return label != "" && strings.Trim(label, "0123456789") == ""
	}
	return strings.Trim(digits, "0123456789abcdef") == ""
}

// ipv4Number parses one (lower-case) label of a numeric IPv4 host: decimal,
// octal with a leading 0, or hex with 0x ("0x" alone is 0). It fails above
// 32 bits.
func ipv4Number(s string) (uint64, error) {
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"):
		base, s = 16, s[2:]
		if s == "" {
			return 0, nil
		}
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	return strconv.ParseUint(s, base, 32)
}
