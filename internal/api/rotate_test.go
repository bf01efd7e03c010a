package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// rotate-secret needs no body, like test and enable: it then generates the
// secret and keeps the old one for the default overlap.
func TestRotateWithoutBody(t *testing.T) {
	t.Parallel()
	f := setupFull(t)
	w := f.create(t, f.tokA, validBody("rotate"))
	for _, tc := range []struct{ name, contentType, body string }{
		{name: "no body"},
		{name: "no body with a JSON type", contentType: "application/json"},
		{name: "an empty object", contentType: "application/json", body: "{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, data := f.raw(t, http.MethodPost, "/v1/webhooks/"+w.ID+"/rotate-secret", f.tokA, tc.contentType, tc.body)
			if status != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", status, data)
			}
			out := decode[struct {
				Secret                  string     `json:"secret"`
				PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
			}](t, data)
			if !strings.HasPrefix(out.Secret, "whsec_") || out.PreviousSecretExpiresAt == nil {
				t.Errorf("rotated to %q, previous expiring %v; want a generated secret and an overlap", out.Secret, out.PreviousSecretExpiresAt)
			}
		})
	}
}
