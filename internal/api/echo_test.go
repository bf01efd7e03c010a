package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// An error shows a rejected value by a short prefix at most, and never
// shows a secret, not even in an echoed body.
func TestErrorsEchoShortly(t *testing.T) {
	t.Parallel()
	f := setupFull(t)
	w := f.create(t, f.tokA, validBody("echo"))
	huge := strings.Repeat("A", 100_000)
	secret := "SECRET-" + strings.Repeat("S", 100_000)
	tests := []struct {
		name, path, body string
		never            string // must not appear in the answer
	}{
		{name: "long name", path: "/v1/webhooks", body: `{"name":"` + huge + `","url":"https://example.com/"}`, never: huge[:65]},
		{name: "long url", path: "/v1/webhooks", body: `{"name":"x","url":"https://example.com/` + huge + `"}`, never: huge[:65]},
		{name: "long unknown event", path: "/v1/webhooks", body: `{"name":"x","url":"https://example.com/","events":["` + huge + `"]}`, never: huge[:65]},
		{name: "long overlap", path: "/v1/webhooks/" + w.ID + "/rotate-secret", body: `{"overlap":"` + huge + `"}`, never: huge[:65]},
		{name: "long secret", path: "/v1/webhooks", body: `{"name":"x","url":"https://example.com/","secret":"` + secret + `"}`, never: "SECRET-"},
		{name: "short secret", path: "/v1/webhooks", body: `{"name":"x","url":"https://example.com/","secret":"SECRET-short"}`, never: "SECRET-"},
		{name: "short rotated secret", path: "/v1/webhooks/" + w.ID + "/rotate-secret", body: `{"secret":"SECRET-short"}`, never: "SECRET-"},
		{name: "secret in a body that is not JSON", path: "/v1/webhooks", body: `{"name":"x","secret":"SECRET-0123456789abcdef",`, never: "SECRET-"},
		{name: "secret in a body of the wrong type", path: "/v1/webhooks", body: `{"name":7,"url":"https://example.com/","secret":"SECRET-0123456789abcdef"}`, never: "SECRET-"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, data := f.raw(t, http.MethodPost, tc.path, f.tokA, "application/json", tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %.300s", status, data)
			}
			if strings.Contains(string(data), tc.never) || len(data) > 4000 {
				t.Errorf("a %d-byte answer shows %.20q...: %.400s", len(data), tc.never, data)
			}
		})
	}
}
