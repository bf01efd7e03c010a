package api_test

import (
	"net/http"
	"testing"

	"github.com/bluehq/webhooks/internal/registry"
)

// TestSecretForms: a secret some receiver library would read differently
// is refused at create with a 400 on body.secret that does not repeat it;
// the forms every library reads alike are accepted. (Rotation, registered
// only with a publisher, is checked in e2e TestRotationTestAndBackfill.)
func TestSecretForms(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{name: "whsec padded", secret: "whsec_+/8+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0=", ok: true},
		{name: "raw", secret: "a-customer-chosen-secret-1234", ok: true},
		{name: "whsec unpadded", secret: "whsec_+/8+AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0"},
		{name: "whsec url-safe", secret: "whsec_-_8-AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0"},
		{name: "whsec url-safe padded", secret: "whsec_-_8-AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0="},
		{name: "whsec invalid", secret: "whsec_this is not base64 at all"},
		{name: "non-ASCII", secret: "sécret-sécret-sécret"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				body := validBody("secret-forms")
				body["secret"] = tc.secret
				status, data := b.do(t, http.MethodPost, "/v1/webhooks", b.tokA, body)
				if tc.ok {
					if status != http.StatusCreated {
						t.Fatalf("create %d %s, want 201", status, data)
					}
					return
				}
				wantFieldError(t, status, data, "body.secret", tc.secret)
			})
		}
	})
}
