package delivery_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// An endpoint that failed UnhealthyAfter times in a row is marked
// UNHEALTHY while it stays enabled: the mark comes from the failure count,
// long before DisableAfter would disable it.
func TestFailuresMarkUnhealthy(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(0)
	rcv.status = func(http.Header) int { return http.StatusInternalServerError }
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{Threshold: 100}), delivery.Config{
		UnhealthyAfter: 2, DisableAfter: time.Hour,
		Policy: retry.Policy{Delays: []time.Duration{time.Second, time.Hour}},
	})
	if w := rig.webhook(t); w.Status != webhook.StatusHealthy {
		t.Fatalf("new webhook is %s, want %s", w.Status, webhook.StatusHealthy)
	}
	rig.publish(t, "evt_failing", 1)
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Retry) == 2 }, "two failed attempts, each retried")
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.webhook(t).Status == webhook.StatusUnhealthy }, "UNHEALTHY after two failures in a row")
	if w := rig.webhook(t); !w.Enabled || w.DisabledAt != nil {
		t.Errorf("webhook enabled %v, disabled at %v; want it marked UNHEALTHY and still enabled", w.Enabled, w.DisabledAt)
	}
	if n := len(rcv.arrivals()); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}
