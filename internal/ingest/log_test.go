package ingest_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/bluehq/webhooks/internal/ingest"
	"github.com/bluehq/webhooks/internal/testenv"
)

// The line logged for a request carries its trace: the handler logs with
// the request's context, from which the log handler takes trace_id.
func TestPublishFailureIsLoggedWithTheRequestTrace(t *testing.T) {
	t.Parallel()
	pub := publisherWithoutEvents(t)
	logs := &testenv.Traces{}
	h := newHandler(t, pub, ingest.Config{Logger: slog.New(logs)})
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/events", bytes.NewReader(mustJSON(t, envelope(testenv.ID("co")))))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+testenv.TraceID+"-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503; body %s", rec.Code, rec.Body)
	}
	if got := logs.Of("ingest: publish failed"); got != testenv.TraceID {
		t.Errorf("the publish failure was logged with trace %q, want the request's %s", got, testenv.TraceID)
	}
}
