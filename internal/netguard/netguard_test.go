package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/netguard"
)

func mustCIDRs(t testing.TB, s string) []netip.Prefix {
	t.Helper()
	p, err := netguard.ParseCIDRs(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allow   string // allow-list CIDRs
		addr    string
		allowed bool
	}{
		{name: "public v4", addr: "8.8.8.8", allowed: true},
		{name: "public v4 2", addr: "1.1.1.1", allowed: true},
		{name: "public v6", addr: "2606:4700:4700::1111", allowed: true},
		{name: "mapped public", addr: "::ffff:8.8.8.8"},
		{name: "loopback", addr: "127.0.0.1"},
		{name: "loopback range", addr: "127.255.255.254"},
		{name: "loopback v6", addr: "::1"},
		{name: "mapped loopback", addr: "::ffff:127.0.0.1"},
		{name: "mapped private", addr: "::ffff:10.1.2.3"},
		{name: "mapped metadata", addr: "::ffff:169.254.169.254"},
		{name: "private 10", addr: "10.0.0.1"},
		{name: "private 172.16", addr: "172.16.0.1"},
		{name: "private 172.31", addr: "172.31.255.255"},
		{name: "just outside 172.16/12", addr: "172.32.0.1", allowed: true},
		{name: "private 192.168", addr: "192.168.1.1"},
		{name: "link-local metadata", addr: "169.254.169.254"},
		{name: "cgnat", addr: "100.64.0.1"},
		{name: "cgnat top", addr: "100.127.255.255"},
		{name: "just outside cgnat", addr: "100.128.0.1", allowed: true},
		{name: "unspecified v4", addr: "0.0.0.0"},
		{name: "this network", addr: "0.1.2.3"},
		{name: "unspecified v6", addr: "::"},
		{name: "broadcast", addr: "255.255.255.255"},
		{name: "multicast v4", addr: "224.0.0.1"},
		{name: "multicast v6", addr: "ff02::1"},
		{name: "link-local v6", addr: "fe80::1"},
		{name: "link-local v6 with zone", addr: "fe80::1%eth0"},
		{name: "unique-local", addr: "fd12:3456::1"},
		{name: "unique-local fc", addr: "fc00::1"},
		{name: "nat64 of private", addr: "64:ff9b::a00:1"},
		{name: "nat64 of public", addr: "64:ff9b::808:808"},
		{name: "local nat64", addr: "64:ff9b:1::808:808"},
		{name: "v4-compatible loopback", addr: "::7f00:1"},
		{name: "v4-compatible public", addr: "::808:808"},
		{name: "6to4 of loopback", addr: "2002:7f00:1::1"},
		{name: "6to4 of public", addr: "2002:808:808::1"},
		{name: "teredo", addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		{name: "just outside teredo", addr: "2001:4860:4860::8888", allowed: true},
		{name: "just outside 6to4", addr: "2003::1", allowed: true},
		{name: "documentation v6", addr: "2001:db8::1"},
		{name: "test-net", addr: "192.0.2.1"},
		{name: "benchmarking", addr: "198.18.0.1"},

		{name: "allow-list admits loopback", allow: "127.0.0.0/8", addr: "127.0.0.1", allowed: true},
		{name: "allow-list admits mapped loopback", allow: "127.0.0.0/8", addr: "::ffff:127.0.0.1", allowed: true},
		{name: "allow-list admits whole range", allow: "127.0.0.0/8", addr: "127.1.2.3", allowed: true},
		{name: "allow-list leaves private", allow: "127.0.0.0/8", addr: "10.0.0.1"},
		{name: "allow-list leaves v6 loopback", allow: "127.0.0.0/8", addr: "::1"},
		{name: "allow-list of v6 loopback", allow: "127.0.0.0/8,::1/128", addr: "::1", allowed: true},
		{name: "allow-list single host", allow: "10.0.0.5/32", addr: "10.0.0.5", allowed: true},
		{name: "allow-list single host, neighbour", allow: "10.0.0.5/32", addr: "10.0.0.6"},
		{name: "allow-list keeps public", allow: "127.0.0.0/8", addr: "8.8.8.8", allowed: true},
		{name: "allow-list of v4 admits its mapped form", allow: "8.8.8.0/24", addr: "::ffff:8.8.8.8", allowed: true},
		{name: "allow-list of the mapped range", allow: "::ffff:0:0/96", addr: "::ffff:8.8.8.8", allowed: true},
		{name: "allow-list of the mapped range admits all of it", allow: "::ffff:0:0/96", addr: "::ffff:127.0.0.1", allowed: true},
		{name: "allow-list of v4 leaves v4-compatible", allow: "127.0.0.0/8", addr: "::7f00:1"},
		{name: "allow-list of v4 leaves 6to4", allow: "127.0.0.0/8", addr: "2002:7f00:1::1"},
		{name: "allow-list of v4 leaves nat64", allow: "127.0.0.0/8", addr: "64:ff9b::7f00:1"},
		{name: "allow-list of 6to4", allow: "2002::/16", addr: "2002:808:808::1", allowed: true},
		{name: "allow-list of teredo", allow: "2001::/32", addr: "2001:0:4136:e378:8000:63bf:3fff:fdd2", allowed: true},
		{name: "allow-list of nat64", allow: "64:ff9b::/96", addr: "64:ff9b::808:808", allowed: true},
		{name: "allow-list of v4-compatible", allow: "::/96", addr: "::808:808", allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := netguard.New(mustCIDRs(t, tc.allow))
			err := g.Check(netip.MustParseAddr(tc.addr))
			if tc.allowed {
				if err != nil {
					t.Errorf("Check(%s) = %v, want allowed", tc.addr, err)
				}
				return
			}
			if !errors.Is(err, netguard.ErrForbidden) {
				t.Errorf("Check(%s) = %v, want ErrForbidden", tc.addr, err)
			}
		})
	}
}

// TestCheckZonedAllowList: an allow-list admits a zoned address it covers,
// as it admits the same address without a zone.
func TestCheckZonedAllowList(t *testing.T) {
	t.Parallel()
	g := netguard.New(mustCIDRs(t, "fe80::/10"))
	if err := g.Check(netip.MustParseAddr("fe80::1")); err != nil {
		t.Fatalf("Check(fe80::1) = %v, want allowed", err)
	}
	if err := g.Check(netip.MustParseAddr("fe80::1%eth0")); err != nil {
		t.Errorf("Check(fe80::1%%eth0) = %v, want allowed: the zone must not defeat the allow-list", err)
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allow   string
		url     string
		allowed bool
	}{
		{name: "public name", url: "https://example.com/hook", allowed: true},
		{name: "public address", url: "http://8.8.8.8/", allowed: true},
		{name: "public v6", url: "http://[2606:4700:4700::1111]:8080/", allowed: true},
		// Names other than localhost are resolved and checked at dial time.
		{name: "private-looking name", url: "http://internal.corp/", allowed: true},
		{name: "loopback", url: "http://127.0.0.1:8080/"},
		{name: "metadata", url: "http://169.254.169.254/latest/meta-data"},
		{name: "private", url: "http://10.0.0.1/"},
		{name: "loopback v6", url: "http://[::1]/"},
		{name: "unspecified", url: "http://0.0.0.0/"},
		{name: "mapped loopback", url: "http://[::ffff:127.0.0.1]/"},
		{name: "mapped loopback hex", url: "http://[::ffff:7f00:1]/"},
		{name: "cgnat", url: "http://100.64.0.1/"},
		{name: "zoned link-local", url: "http://[fe80::1%25eth0]/"},
		{name: "localhost", url: "http://localhost/"},
		{name: "LOCALHOST", url: "http://LOCALHOST:9000/"},
		{name: "sub.localhost", url: "http://api.localhost/"},

		{name: "allowed loopback", allow: "127.0.0.0/8", url: "http://127.0.0.1:8080/", allowed: true},
		{name: "allowed localhost", allow: "127.0.0.0/8", url: "http://localhost:8080/", allowed: true},
		{name: "allowed mapped loopback", allow: "127.0.0.0/8", url: "http://[::ffff:127.0.0.1]/", allowed: true},
		{name: "allow-list leaves private", allow: "127.0.0.0/8", url: "http://10.0.0.1/"},
		{name: "allow-list leaves v6 loopback", allow: "127.0.0.0/8", url: "http://[::1]/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			err = netguard.New(mustCIDRs(t, tc.allow)).CheckURL(u)
			if tc.allowed && err != nil {
				t.Errorf("CheckURL(%s) = %v, want allowed", tc.url, err)
			}
			if !tc.allowed && err == nil {
				t.Errorf("CheckURL(%s) = nil, want refused", tc.url)
			}
		})
	}
}

// TestCheckURLHostForms: a host is read as the deliverer's client, a
// browser or inet_aton would read it, so no spelling of a forbidden address
// passes at create time; with the loopback range allowed, every spelling of
// a loopback address passes, and nothing else does.
func TestCheckURLHostForms(t *testing.T) {
	t.Parallel()
	const (
		refused  = iota // refused, also when 127.0.0.0/8 is allowed
		loopback        // refused unless 127.0.0.0/8 is allowed
		allowed
	)
	tests := []struct {
		name string
		host string // as in the URL
		want int
	}{
		{name: "short form", host: "127.1", want: loopback},
		{name: "short form of three parts", host: "127.0.1", want: loopback},
		{name: "octal", host: "0177.0.0.1", want: loopback},
		{name: "octal with many zeros", host: "000177.0.0.01", want: loopback},
		{name: "decimal", host: "2130706433", want: loopback},
		{name: "hex short", host: "0x7f.1", want: loopback},
		{name: "hex upper case", host: "0X7F.0X0.0X0.0X1", want: loopback},
		{name: "hex whole", host: "0x7f000001", want: loopback},
		{name: "trailing dot", host: "127.0.0.1.", want: loopback},
		{name: "zero", host: "0", want: refused},
		{name: "zero hex", host: "0x0", want: refused},
		{name: "octal private", host: "012.0.0.1", want: refused},
		{name: "hex metadata", host: "0xa9.0xfe.0xa9.0xfe", want: refused},
		{name: "decimal metadata", host: "2852039166", want: refused},
		{name: "localhost trailing dot", host: "localhost.", want: loopback},
		{name: "localhost mixed case trailing dot", host: "LocalHost.", want: loopback},
		{name: "localhost two trailing dots", host: "localhost..", want: loopback},
		{name: "sub.localhost trailing dot", host: "api.LOCALHOST.", want: loopback},
		{name: "fullwidth digits", host: "１２７.０.０.１", want: loopback},
		{name: "fullwidth dots", host: "127．0．0．1", want: loopback},
		{name: "ideographic full stops", host: "127。0。0。1", want: loopback},
		{name: "circled digits", host: "①②⑦.0.0.1", want: loopback},
		{name: "fullwidth localhost", host: "ｌｏｃａｌｈｏｓｔ", want: loopback},
		{name: "fullwidth private", host: "１０.０.０.１", want: refused},
		{name: "percent-encoded fullwidth", host: "%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1", want: loopback},

		{name: "not an address: part over 255", host: "256.0.0.1", want: refused},
		{name: "not an address: last part too big", host: "1.2.3.256", want: refused},
		{name: "not an address: too many parts", host: "1.2.3.4.5", want: refused},
		{name: "not an address: over 32 bits", host: "4294967296", want: refused},
		{name: "not an address: bad octal", host: "1.08", want: refused},
		{name: "not an address: empty part", host: "127..1", want: refused},
		{name: "not an address: numeric last label", host: "example.123", want: refused},
		{name: "not a name: only dots", host: "..", want: refused},
		{name: "not a name: invalid IDN", host: "a‍b.example", want: refused},

		{name: "public decimal", host: "134744072", want: allowed},
		{name: "public short form", host: "8.8.2056", want: allowed},
		{name: "name", host: "example.com", want: allowed},
		{name: "name with trailing dot", host: "example.com.", want: allowed},
		{name: "name starting with digits", host: "1example.com", want: allowed},
		{name: "name with a hex-looking label", host: "0x7f.example", want: allowed},
		{name: "IDN", host: "bücher.example", want: allowed},
		{name: "localhost lookalike", host: "localhost.example.com", want: allowed},
	}
	guards := []struct {
		name     string
		g        *netguard.Guard
		admitted int // the want values this guard lets through
	}{
		{name: "no allow-list", g: netguard.New(nil), admitted: allowed},
		{name: "loopback allowed", g: netguard.New(mustCIDRs(t, "127.0.0.0/8")), admitted: loopback},
	}
	for _, tc := range tests {
		for _, gc := range guards {
			t.Run(tc.name+"/"+gc.name, func(t *testing.T) {
				t.Parallel()
				u, err := url.Parse("http://" + tc.host + ":8080/hook")
				if err != nil {
					t.Fatal(err)
				}
				err = gc.g.CheckURL(u)
				if tc.want >= gc.admitted && err != nil {
					t.Errorf("CheckURL(%s) = %v, want allowed", tc.host, err)
				}
				if tc.want < gc.admitted && err == nil {
					t.Errorf("CheckURL(%s) = nil, want refused", tc.host)
				}
			})
		}
	}
}

// TestCheckURLTransition: IPv6 literals that carry or reach an IPv4 address
// are refused at create time, whatever that address, unless their range is
// allowed.
func TestCheckURLTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allow   string
		host    string
		allowed bool
	}{
		{name: "v4-compatible", host: "::7f00:1"},
		{name: "v4-compatible public", host: "::808:808"},
		{name: "mapped public", host: "::ffff:808:808"},
		{name: "mapped public dotted", host: "::ffff:8.8.8.8"},
		{name: "6to4", host: "2002:7f00:1::1"},
		{name: "6to4 public", host: "2002:808:808::1"},
		{name: "teredo", host: "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		{name: "nat64", host: "64:ff9b::808:808"},
		{name: "local nat64", host: "64:ff9b:1::a00:1"},
		{name: "loopback allowed leaves v4-compatible", allow: "127.0.0.0/8", host: "::7f00:1"},
		{name: "loopback allowed leaves 6to4", allow: "127.0.0.0/8", host: "2002:7f00:1::1"},
		{name: "loopback allowed admits mapped loopback", allow: "127.0.0.0/8", host: "::ffff:127.0.0.1", allowed: true},
		{name: "6to4 allowed", allow: "2002::/16", host: "2002:808:808::1", allowed: true},
		{name: "teredo allowed", allow: "2001::/32", host: "2001:0:4136:e378:8000:63bf:3fff:fdd2", allowed: true},
		{name: "nat64 allowed", allow: "64:ff9b::/96", host: "64:ff9b::808:808", allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := &url.URL{Scheme: "https", Host: net.JoinHostPort(tc.host, "443"), Path: "/"}
			err := netguard.New(mustCIDRs(t, tc.allow)).CheckURL(u)
			if tc.allowed && err != nil {
				t.Errorf("CheckURL(%s) = %v, want allowed", u, err)
			}
			if !tc.allowed && err == nil {
				t.Errorf("CheckURL(%s) = nil, want refused", u)
			}
		})
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allow   string
		address string
		allowed bool
	}{
		{name: "public", address: "8.8.8.8:443", allowed: true},
		{name: "public v6", address: "[2606:4700:4700::1111]:443", allowed: true},
		{name: "loopback", address: "127.0.0.1:80"},
		{name: "loopback v6", address: "[::1]:80"},
		{name: "mapped loopback", address: "[::ffff:127.0.0.1]:80"},
		{name: "zoned link-local", address: "[fe80::1%eth0]:80"},
		{name: "mapped public", address: "[::ffff:8.8.8.8]:80"},
		{name: "v4-compatible", address: "[::7f00:1]:80"},
		{name: "6to4", address: "[2002:808:808::1]:443"},
		{name: "teredo", address: "[2001:0:4136:e378:8000:63bf:3fff:fdd2]:443"},
		{name: "nat64", address: "[64:ff9b::808:808]:443"},
		{name: "local nat64", address: "[64:ff9b:1::a00:1]:443"},
		{name: "6to4 allowed", allow: "2002::/16", address: "[2002:808:808::1]:443", allowed: true},
		{name: "not host:port", address: "127.0.0.1"},
		{name: "a name, not an address", address: "localhost:80"},
		{name: "allowed loopback", allow: "127.0.0.0/8", address: "127.0.0.1:80", allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := netguard.New(mustCIDRs(t, tc.allow)).Control("tcp", tc.address, nil)
			if tc.allowed && err != nil {
				t.Errorf("Control(%s) = %v, want allowed", tc.address, err)
			}
			if !tc.allowed && !errors.Is(err, netguard.ErrForbidden) {
				t.Errorf("Control(%s) = %v, want ErrForbidden", tc.address, err)
			}
		})
	}
}

// TestDialGuard: the guard refuses at dial time, after the name is resolved,
// so a name pointing at loopback is refused although CheckURL let it pass.
func TestDialGuard(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		allow   string
		host    string
		allowed bool
	}{
		{name: "loopback address refused", host: "127.0.0.1"},
		{name: "name resolving to loopback refused", host: "localhost"},
		{name: "loopback admitted by allow-list", allow: "127.0.0.0/8,::1/128", host: "127.0.0.1", allowed: true},
		{name: "name admitted by allow-list", allow: "127.0.0.0/8,::1/128", host: "localhost", allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := netguard.New(mustCIDRs(t, tc.allow))
			tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second, Control: g.Control}).DialContext}
			t.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(tc.host, port)+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if tc.allowed {
				if err != nil || resp.StatusCode != http.StatusNoContent {
					t.Errorf("dial %s: %v, want the request through", tc.host, err)
				}
				return
			}
			if !errors.Is(err, netguard.ErrForbidden) {
				t.Errorf("dial %s: %v, want ErrForbidden", tc.host, err)
			}
		})
	}
}

// errWouldConnect stops a dial that the guard let through, before any
// packet is sent: the addresses below are not on this machine.
var errWouldConnect = errors.New("test: the guard let the dial through")

// TestDialGuardTransition: a real dial (address parsing, socket, Control)
// to an IPv6 address that carries or reaches an IPv4 one is refused by the
// guard. A Control run after the guard's stops whatever it lets through, so
// the test never connects anywhere; the public control case shows that it
// is the guard that refuses the others.
func TestDialGuardTransition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allow   string
		host    string
		allowed bool
	}{
		{name: "v4-compatible", host: "::7f00:1"},
		{name: "v4-compatible public", host: "::808:808"},
		{name: "6to4", host: "2002:7f00:1::1"},
		{name: "6to4 public", host: "2002:808:808::1"},
		{name: "teredo", host: "2001:0:4136:e378:8000:63bf:3fff:fdd2"},
		{name: "nat64", host: "64:ff9b::7f00:1"},
		{name: "local nat64", host: "64:ff9b:1::a00:1"},
		// Go dials a mapped address over IPv4, so the guard sees 127.0.0.1.
		{name: "mapped loopback", host: "::ffff:127.0.0.1"},
		{name: "6to4 allowed", allow: "2002::/16", host: "2002:808:808::1", allowed: true},
		{name: "public", host: "2606:4700:4700::1111", allowed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := netguard.New(mustCIDRs(t, tc.allow))
			dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, c syscall.RawConn) error {
				if err := g.Control(network, address, c); err != nil {
					return err
				}
				return errWouldConnect
			}}
			tr := &http.Transport{DialContext: dialer.DialContext}
			t.Cleanup(tr.CloseIdleConnections)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(tc.host, "80")+"/", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if resp != nil {
				resp.Body.Close()
				t.Fatalf("dial %s got a response", tc.host)
			}
			want := netguard.ErrForbidden
			if tc.allowed {
				want = errWouldConnect
			}
			if !errors.Is(err, want) {
				t.Errorf("dial %s: %v, want %v", tc.host, err, want)
			}
		})
	}
}

func TestParseCIDRs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr bool
	}{
		{name: "empty", in: ""},
		{name: "blank entries", in: " , ,"},
		{name: "one", in: "127.0.0.0/8", want: []string{"127.0.0.0/8"}},
		{name: "two with spaces", in: " 127.0.0.0/8 , ::1/128 ", want: []string{"127.0.0.0/8", "::1/128"}},
		{name: "host bits masked", in: "10.1.2.3/8", want: []string{"10.0.0.0/8"}},
		{name: "bare address", in: "127.0.0.1", wantErr: true},
		{name: "garbage", in: "127.0.0.0/8,nope", wantErr: true},
		{name: "bad length", in: "10.0.0.0/33", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := netguard.ParseCIDRs(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Errorf("ParseCIDRs(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if !slices.Equal(s, tc.want) {
				t.Errorf("ParseCIDRs(%q) = %v, want %v", tc.in, s, tc.want)
			}
		})
	}
}

// FuzzCheckURL: any URL a customer can submit is checked without panicking,
// and a literal address the guard refuses is never let through by CheckURL.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://example.com/hook",
		"http://127.0.0.1:8080/",
		"http://[::1]/",
		"http://[::ffff:127.0.0.1]/",
		"http://[fe80::1%25eth0]/",
		"http://0.0.0.0/",
		"http://100.64.0.1/",
		"http://localhost./",
		"http://127.1/",
		"http://0x7f.1/",
		"http://2130706433/",
		"http://0/",
		"http://%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1/",
		"http://[2002:7f00:1::1]/",
		"http://1.2.3.256/",
		"http://user:pw@host/",
		"http://[::ffff:7f00:1]:80/x?y#z",
		"http:opaque",
		"//host-only",
		"",
		"%",
		"http://[",
	} {
		f.Add(s)
	}
	guards := []*netguard.Guard{netguard.New(nil), netguard.New(mustCIDRs(f, "127.0.0.0/8,::1/128"))}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		for _, g := range guards {
			err := g.CheckURL(u)
			if addr, perr := netip.ParseAddr(u.Hostname()); perr == nil && g.Check(addr) != nil && err == nil {
				t.Errorf("CheckURL(%q) allowed the refused address %s", raw, addr)
			}
		}
	})
}
