package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/registry"
)

// wantFieldError checks a 400 problem with an error at location whose text
// does not contain secret (when set).
func wantFieldError(t *testing.T, status int, data []byte, location, secret string) {
	t.Helper()
	if status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400; body %s", status, data)
	}
	p := decode[problemJSON](t, data)
	var locs []string
	for _, e := range p.Errors {
		locs = append(locs, e.Location)
	}
	if !slices.Contains(locs, location) {
		t.Errorf("errors at %q, want one at %q; body %s", locs, location, data)
	}
	if secret != "" && strings.Contains(string(data), secret) {
		t.Errorf("the problem repeats the secret: %s", data)
	}
}

// TestRefusedHostForms: a URL whose host is a loopback, private or
// transition-range address in any spelling is refused with a 400 on
// body.url, at create and at update.
func TestRefusedHostForms(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	existing := b.create(t, b.tokA, validBody("host-forms-target"))
	urls := []string{
		"http://127.1/", "http://0177.0.0.1/", "http://2130706433/", "http://0x7f.1/", "http://0/",
		"http://localhost./", "http://LocalHost./", "http://１２７.０.０.１/", "http://①②⑦.0.0.1/",
		"https://example.com:0/", "https://example.com:99999/",
		"http://[::7f00:1]/", "http://[::ffff:8.8.8.8]/", "http://[2002:7f00:1::1]/",
		"http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "http://[64:ff9b::7f00:1]/", "http://[64:ff9b:1::1]/",
	}
	t.Run("cases", func(t *testing.T) {
		for _, u := range urls {
			t.Run(u, func(t *testing.T) {
				t.Parallel()
				body := validBody("host-forms")
				body["url"] = u
				status, data := b.do(t, http.MethodPost, "/v1/webhooks", b.tokA, body)
				wantFieldError(t, status, data, "body.url", "")
				status, data = b.do(t, http.MethodPatch, "/v1/webhooks/"+existing.ID, b.tokA, map[string]any{"url": u})
				wantFieldError(t, status, data, "body.url", "")
			})
		}
	})
	status, data := b.do(t, http.MethodGet, "/v1/webhooks/"+existing.ID, b.tokA, nil)
	if got := decode[webhookJSON](t, data); status != http.StatusOK || got.URL != existing.URL {
		t.Errorf("after the refused updates: %d, url %q, want %q", status, got.URL, existing.URL)
	}
}
