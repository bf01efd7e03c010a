package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// A number beyond a float64 is a 400 naming its field, as any other bad
// value is: the JSON decoder names none.
func TestOverflowingNumberNamesItsField(t *testing.T) {
	t.Parallel()
	f := setupFull(t)
	w := f.create(t, f.tokA, validBody("numbers"))
	tests := []struct {
		name, method, path, body, location string
	}{
		{"create", http.MethodPost, "/v1/webhooks", `{"name":"x","url":"https://example.com/","rateLimit":1e2000000}`, "body.rateLimit"},
		{"update", http.MethodPatch, "/v1/webhooks/" + w.ID, `{"maxConcurrency":-1e309}`, "body.maxConcurrency"},
		{"the same literal elsewhere first", http.MethodPatch, "/v1/webhooks/" + w.ID, `{"name":"1e999","rateLimit":1e999}`, "body.rateLimit"},
		{"in a list", http.MethodPost, "/v1/webhooks", `{"name":"x","url":"https://example.com/","events":["TODO_CREATED",1e999]}`, "body.events[1]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, data := f.raw(t, tc.method, tc.path, f.tokA, "application/json", tc.body)
			var p struct {
				Errors []struct{ Location, Message string }
			}
			if err := json.Unmarshal(data, &p); err != nil || status != http.StatusBadRequest || len(p.Errors) != 1 {
				t.Fatalf("status %d, body %.300s; want one 400 error", status, data)
			}
			if p.Errors[0].Location != tc.location {
				t.Errorf("error at %q (%s), want %q", p.Errors[0].Location, p.Errors[0].Message, tc.location)
			}
		})
	}
}
