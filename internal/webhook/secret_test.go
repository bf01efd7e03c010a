package webhook_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/webhook"
)

// TestCheckSecretField: a secret a receiver library would read differently
// is an error on "secret" that does not repeat it.
func TestCheckSecretField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret string
		ok     bool
	}{
		{name: "none: generated", secret: "", ok: true},
		{name: "raw", secret: "a-customer-chosen-secret-1234", ok: true},
		{name: "whsec padded", secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==", ok: true},
		{name: "whsec unpadded", secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"},
		{name: "whsec url-safe", secret: "whsec_-_8-AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0="},
		{name: "non-ASCII", secret: "sécret-sécret-sécret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.CheckSecret(tc.secret)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckSecret = %v, want nil", err)
				}
				return
			}
			var fe *webhook.FieldError
			if !errors.As(err, &fe) || fe.Field != "secret" || !errors.Is(err, webhook.ErrInvalid) {
				t.Fatalf("CheckSecret = %v, want a FieldError on secret", err)
			}
			if strings.Contains(fe.Detail, tc.secret) {
				t.Errorf("the detail repeats the secret: %q", fe.Detail)
			}
		})
	}
}
