package webhook

import "github.com/bluehq/webhooks/internal/signing"

// CheckSecret checks a signing secret a customer chose ("" is generated,
// and valid): it returns a *FieldError for "secret" if a receiver library
// would derive another key from it than the signer does. The detail never
// repeats the secret.
func CheckSecret(secret string) error {
	if secret == "" {
		return nil
	}
	if err := signing.CheckSecret(secret); err != nil {
		return &FieldError{"secret", err.Error()}
	}
	return nil
}
