package verify_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/bluehq/webhooks/pkg/verify"
)

// This example shows a webhook receiver. The handler reads the raw body
// with io.ReadAll and verifies it before decoding anything. The test part at
// the end signs two requests with verify.Sign, one of them then tampered with,
// and sends them to the handler.
func ExampleVerifier_Verify() {
	// Use the signing secret from the dashboard (usually an env var).
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v, err := verify.New(secret)
	if err != nil {
		log.Fatal(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Verify the raw bytes as received, and cap the size.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			if errors.Is(err, verify.ErrTimestampTooOld) || errors.Is(err, verify.ErrTimestampTooNew) {
				log.Printf("webhook rejected, check this server's clock: %v", err)
			}
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// Authentic. Now json.Unmarshal(body, ...) and handle the event,
		// de-duplicating on r.Header.Get("webhook-id").
		w.WriteHeader(http.StatusNoContent)
	})

	// Simulate deliveries.
	send := func(body, signedBody string) {
		now := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewBufferString(body))
		req.Header.Set("webhook-id", "msg_1")
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", verify.Sign(secret, "msg_1", now, []byte(signedBody)))
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	send(`{"type":"invoice.paid"}`, `{"type":"invoice.paid"}`)
	send(`{"type":"invoice.paid","amount":1}`, `{"type":"invoice.paid"}`)

	// Output:
	// 204
	// 401
}
