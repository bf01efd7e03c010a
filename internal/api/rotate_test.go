package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/webhook"
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

// A configured overlap of 0 is kept: a rotation without an overlap of its
// own ends the old secret at once, rather than keeping it for a default.
func TestRotateWithNoConfiguredOverlap(t *testing.T) {
	t.Parallel()
	b := setupFullConfig(t, func(cfg *api.Config) { cfg.RotationOverlap = 0 })
	w := b.create(t, b.tokA, validBody("no overlap"))
	status, data := b.raw(t, http.MethodPost, "/v1/webhooks/"+w.ID+"/rotate-secret", b.tokA, "", "")
	if status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", status, data)
	}
	out := decode[struct {
		PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	}](t, data)
	if out.PreviousSecretExpiresAt != nil {
		t.Errorf("the previous secret stays valid until %s; want it ended at once", out.PreviousSecretExpiresAt)
	}
}

// A value out of range is refused, naming the field.
func TestConfigRefusesInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  api.Config
		want string
	}{
		{name: "negative overlap", cfg: api.Config{RotationOverlap: -time.Second}, want: "Config.RotationOverlap"},
		{name: "overlap above the bound", cfg: api.Config{RotationOverlap: webhook.MaxRotationOverlap + time.Second}, want: "Config.RotationOverlap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := api.New(http.NewServeMux(), nil, nil, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
