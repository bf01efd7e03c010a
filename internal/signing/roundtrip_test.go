package signing_test

import (
	"bytes"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/pkg/verify"
)

// TestRoundTrip signs with this package and verifies with the customer-facing
// pkg/verify, which has its own copy of the key derivation.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	fresh, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		signWith   []string
		verifyWith string
		wantErr    error // for Verify
		wantXErr   error // for VerifyXSignature
	}{
		{name: "fresh secret", signWith: []string{fresh}, verifyWith: fresh},
		{name: "whsec secret", signWith: []string{secretA}, verifyWith: secretA},
		{name: "raw secret", signWith: []string{"plain-old-secret"}, verifyWith: "plain-old-secret"},
		{name: "whsec with invalid base64", signWith: []string{"whsec_not*base64"}, verifyWith: "whsec_not*base64"},
		{name: "whsec with trailing newline", signWith: []string{secretA + "\n"}, verifyWith: secretA + "\n"},
		// X-Signature carries the old secret's signature, X-Signature-Next the current one's.
		{name: "rotation, verify with current", signWith: []string{secretA, secretB}, verifyWith: secretA},
		{name: "rotation, verify with old", signWith: []string{secretA, secretB}, verifyWith: secretB},
		{name: "second rotation, verify with the middle one", signWith: []string{fresh, secretA, secretB}, verifyWith: secretA},
		{name: "rotation, verify with unrelated", signWith: []string{secretA, secretB}, verifyWith: fresh,
			wantErr: verify.ErrNoMatchingSignature, wantXErr: verify.ErrNoMatchingSignature},
		{name: "same key different string", signWith: []string{"whsec_c2VjcmV0"}, verifyWith: "whsec_c2VjcmV0\n",
			wantXErr: verify.ErrNoMatchingSignature}, // webhook key is identical, X-Signature key is not
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := time.Unix(testTS, 0)
			v, err := verify.New(tc.verifyWith, verify.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			s := signing.NewSigner(tc.signWith)
			for _, body := range [][]byte{nil, testBody, []byte("héllo 🚀")} {
				h := http.Header{}
				s.Sign(h, testID, testTS, body)
				if err := v.Verify(h, body); !matches(err, tc.wantErr) {
					t.Errorf("Verify(%q) = %v, want %v", body, err, tc.wantErr)
				}
				if err := v.VerifyXSignature(h, body); !matches(err, tc.wantXErr) {
					t.Errorf("VerifyXSignature(%q) = %v, want %v", body, err, tc.wantXErr)
				}
				if err := v.Verify(h, append(bytes.Clone(body), '!')); !errors.Is(err, verify.ErrNoMatchingSignature) {
					t.Errorf("Verify(tampered) = %v, want ErrNoMatchingSignature", err)
				}
			}
		})
	}
}

func matches(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}
