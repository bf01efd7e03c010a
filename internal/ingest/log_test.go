package ingest_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/ingest"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/publish"
)

// The line logged for a request carries its trace: the handler logs with
// the request's context, from which the log handler takes trace_id.
func TestPublishFailureIsLoggedWithTheRequestTrace(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	pub, err := publish.New(n.Conn, publish.WithWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.JS.DeleteStream(t.Context(), stream.Events); err != nil {
		t.Fatal(err)
	}
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
