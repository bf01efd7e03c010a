package signing_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/pkg/verify"
)

// TestCheckSecret: a secret is accepted only when every receiver library
// derives one key from it, the one the signer uses; a whsec_ secret in any
// other base64 spelling is refused, never signed with a key that the
// receiver's library does not derive.
func TestCheckSecret(t *testing.T) {
	t.Parallel()
	key := []byte{0xfb, 0xff, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29}
	std := base64.StdEncoding.EncodeToString(key) // has "+", "/" and "=" padding
	tests := []struct {
		name    string
		secret  string
		want    error
		wantKey []byte // for an accepted secret: the HMAC key
	}{
		{name: "padded standard base64", secret: "whsec_" + std, wantKey: key},
		{name: "no padding needed", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", wantKey: mustStd(t, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")},
		{name: "raw", secret: "a-customer-chosen-secret-1234", wantKey: []byte("a-customer-chosen-secret-1234")},
		{name: "raw with spaces and symbols", secret: "correct horse battery staple!", wantKey: []byte("correct horse battery staple!")},
		{name: "prefix is case sensitive", secret: "WHSEC_not-base64-at-all", wantKey: []byte("WHSEC_not-base64-at-all")},
		{name: "unpadded", secret: "whsec_" + strings.TrimRight(std, "="), want: signing.ErrSecretBase64},
		{name: "url-safe unpadded", secret: "whsec_" + base64.RawURLEncoding.EncodeToString(key), want: signing.ErrSecretBase64},
		{name: "url-safe padded", secret: "whsec_" + base64.URLEncoding.EncodeToString(key), want: signing.ErrSecretBase64},
		{name: "invalid base64", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!", want: signing.ErrSecretBase64},
		{name: "non-zero trailing bits", secret: "whsec_c2VjcmV0MR==", want: signing.ErrSecretBase64},
		{name: "bare prefix", secret: "whsec_", want: signing.ErrSecretBase64},
		{name: "newline inside", secret: "whsec_" + std[:8] + "\n" + std[8:], want: signing.ErrSecretChars},
		{name: "non-ASCII raw", secret: "sécret-sécret-sécret", want: signing.ErrSecretChars},
		{name: "control character", secret: "secret\x00secret-secret", want: signing.ErrSecretChars},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := signing.CheckSecret(tc.secret)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("CheckSecret = %v, want %v", err, tc.want)
				}
				if rest, _ := strings.CutPrefix(tc.secret, "whsec_"); len(rest) > 4 && strings.Contains(err.Error(), rest) {
					t.Errorf("the error repeats the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckSecret = %v, want nil", err)
			}
			checkSignsWithKey(t, tc.secret, tc.wantKey)
		})
	}
}

// TestGeneratedSecretPassesCheck: what NewSecret makes, CheckSecret accepts.
func TestGeneratedSecretPassesCheck(t *testing.T) {
	t.Parallel()
	s, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.CheckSecret(s); err != nil {
		t.Fatalf("CheckSecret(generated) = %v", err)
	}
}

func mustStd(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkSignsWithKey: the webhook-signature of a delivery is the base64
// HMAC-SHA256 of "id.ts.body" with key, computed here, and pkg/verify
// accepts it.
func checkSignsWithKey(t *testing.T, secret string, key []byte) {
	t.Helper()
	m := hmac.New(sha256.New, key)
	m.Write([]byte(testID + "." + strconv.FormatInt(testTS, 10) + "."))
	m.Write(testBody)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	h := http.Header{}
	signing.NewSigner([]string{secret}).Sign(h, testID, testTS, testBody)
	if got := h.Get("Webhook-Signature"); got != want {
		t.Errorf("webhook-signature %s, want %s (HMAC with the decoded key)", got, want)
	}
	v, err := verify.New(secret, verify.WithClock(func() time.Time { return time.Unix(testTS, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(h, testBody); err != nil {
		t.Errorf("pkg/verify: %v", err)
	}
}
