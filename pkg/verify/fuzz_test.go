package verify_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/bluehq/webhooks/pkg/verify"
)

// FuzzVerify checks that arbitrary header values and bodies never panic, and
// that a signature produced by Sign always verifies.
func FuzzVerify(f *testing.F) {
	for _, tc := range loadVectors(f) {
		f.Add(tc.Secret, tc.ID, tc.TimestampHeader, tc.WebhookSignatureHeader, tc.XSignatureHeader, []byte(tc.Body), tc.Timestamp)
	}
	f.Add("", "", "", "", "", []byte(nil), int64(0))
	f.Add("whsec_", "id", "-1", "v1,", "zz", []byte{0}, int64(-1))
	f.Add("whsec_\n", "a.b", "9223372036854775807", "v1,=", " ", []byte("x"), int64(1<<62))

	f.Fuzz(func(t *testing.T, secret, id, tsHeader, sigHeader, xHeader string, body []byte, ts int64) {
		// Arbitrary input: must not panic; errors are fine.
		now := time.Unix(1732700000, 0)
		v, err := verify.New(secret, verify.WithClock(func() time.Time { return now }))
		if err != nil {
			return // only "" and "whsec_" are rejected
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", tsHeader)
		h.Set("webhook-signature", sigHeader)
		h.Set("X-Signature", xHeader)
		_ = v.Verify(h, body)
		_ = v.VerifyXSignature(h, body)

		// Round trip: what Sign and XSignature produce must verify, at any
		// non-negative timestamp, with the clock set to that timestamp.
		if ts < 0 {
			ts = -(ts + 1)
		}
		if id == "" {
			id = "msg"
		}
		at := time.Unix(ts, 0)
		v, err = verify.New(secret, verify.WithClock(func() time.Time { return at }))
		if err != nil {
			t.Fatal(err)
		}
		h = http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
		h.Set("webhook-signature", sigHeader+" "+verify.Sign(secret, id, at, body))
		h.Set("X-Signature", verify.XSignature(secret, body))
		if err := v.Verify(h, body); err != nil {
			t.Fatalf("Verify(Sign(%q, %q, %d)) = %v", secret, id, ts, err)
		}
		if err := v.VerifyXSignature(h, body); err != nil {
			t.Fatalf("VerifyXSignature(XSignature(%q)) = %v", secret, err)
		}
	})
}
