package webhook_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/webhook"
)

// TestValidateURLHostAndPort: the spellings of a loopback or private
// address that browsers and resolvers accept, the IPv6 transition ranges and
// unusable ports are refused at create time as an error on "url"; with
// DELIVERY_ALLOWED_CIDRS=127.0.0.0/8 (tests, the bench) the loopback
// spellings pass, and nothing else does.
func TestValidateURLHostAndPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		url       string
		loopback  bool // a loopback address: allowed by 127.0.0.0/8
		valid     bool // allowed by any guard
		detailHas string
	}{
		{name: "short form", url: "http://127.1/", loopback: true},
		{name: "octal", url: "http://0177.0.0.1/", loopback: true},
		{name: "decimal", url: "http://2130706433/", loopback: true},
		{name: "hex", url: "http://0x7f.1/", loopback: true},
		{name: "localhost trailing dot", url: "http://localhost./", loopback: true},
		{name: "LOCALHOST trailing dot", url: "http://LOCALHOST.:8080/", loopback: true},
		{name: "fullwidth", url: "http://１２７.０.０.１/", loopback: true},
		{name: "circled digits", url: "http://①②⑦.0.0.1/", loopback: true},
		{name: "zero", url: "http://0/", detailHas: "0.0.0.0"},
		{name: "octal private", url: "http://012.0.0.1/"},
		{name: "v4-compatible", url: "http://[::7f00:1]/"},
		{name: "mapped public", url: "http://[::ffff:8.8.8.8]/"},
		{name: "6to4", url: "http://[2002:7f00:1::1]/"},
		{name: "teredo", url: "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/"},
		{name: "nat64", url: "http://[64:ff9b::808:808]/"},
		{name: "local nat64", url: "http://[64:ff9b:1::808:808]/"},
		{name: "port 0", url: "https://example.com:0/", detailHas: "port"},
		{name: "port 65536", url: "https://example.com:65536/", detailHas: "port"},
		{name: "port 99999", url: "https://example.com:99999/", detailHas: "port"},
		{name: "port with many digits", url: "https://example.com:000000000000000000080000/", detailHas: "port"},
		{name: "port 0 on loopback", url: "http://127.0.0.1:0/", detailHas: "port"},
		{name: "port 1", url: "https://example.com:1/", valid: true},
		{name: "port 65535", url: "https://example.com:65535/", valid: true},
		{name: "port with a leading zero", url: "https://example.com:0443/", valid: true},
		{name: "empty port", url: "https://example.com:/", valid: true},
		{name: "loopback with a port", url: "http://127.0.0.1:8080/", loopback: true},
	}
	guards := []struct {
		name  string
		allow []netip.Prefix
	}{
		{name: "no allow-list"},
		{name: "loopback allowed", allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	}
	for _, tc := range tests {
		for _, g := range guards {
			t.Run(tc.name+"/"+g.name, func(t *testing.T) {
				t.Parallel()
				r := rules()
				r.CheckURL = netguard.New(g.allow).CheckURL
				w := valid()
				w.URL = tc.url
				err := r.Validate(w)
				if tc.valid || tc.loopback && g.allow != nil {
					if err != nil {
						t.Fatalf("Validate(%s) = %v, want valid", tc.url, err)
					}
					return
				}
				var fe *webhook.FieldError
				if !errors.As(err, &fe) || fe.Field != "url" {
					t.Fatalf("Validate(%s) = %v, want a FieldError on url", tc.url, err)
				}
				if !strings.Contains(fe.Detail, tc.detailHas) {
					t.Errorf("detail %q, want it to mention %q", fe.Detail, tc.detailHas)
				}
			})
		}
	}
}
