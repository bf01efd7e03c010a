package delivery

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/testenv"
)

// stateDown is a shared state whose breaker and health counters are
// unavailable.
type stateDown struct{ state.State }

func (stateDown) Admit(context.Context, string, time.Time) (state.Admission, error) {
	return state.Admission{}, errStateDown
}

func (stateDown) Failure(context.Context, string, time.Time) (state.Health, error) {
	return state.Health{}, errStateDown
}

var errStateDown = errors.New("shared state unavailable")

// The lines logged about a failed delivery carry the trace of the event it
// delivers (the dispatcher's, from the job's traceparent): the deliverer
// logs with the job's context, from which the log handler takes trace_id.
func TestFailedDeliveryLogsCarryTraceID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		st      state.State
		attempt int
		outcome string   // counted once every line below is logged
		lines   []string // each must carry the event's trace
	}{
		{name: "410 parks", status: http.StatusGone, attempt: 1, outcome: attempt.Parked,
			lines: []string{"endpoint answered 410 Gone: disabling webhook", "webhook disabled: delivery parked"}},
		// The breaker is asked before the attempt's span starts.
		{name: "failure with shared state down is retried", status: http.StatusInternalServerError, attempt: 1, outcome: attempt.Retry,
			st: stateDown{state.NewMemory(state.BreakerPolicy{})},
			lines: []string{"delivery: breaker state unavailable; attempting anyway", "delivery: health state unavailable",
				"delivery failed; retry scheduled"}},
		{name: "last failure is dead-lettered", status: http.StatusServiceUnavailable, attempt: 2, outcome: attempt.Dead,
			lines: []string{"delivery failed; attempts exhausted: dead-lettered"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tp := sdktrace.NewTracerProvider()
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			logs := &testenv.Traces{}
			rcv := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(tt.status) })
			rig := startRig(t, rcv, tt.st, Config{Logger: slog.New(logs), Tracer: tp.Tracer("test")})
			eventID := testenv.ID("evt_traced")
			j := job.Job{
				DeliveryID: job.DeliveryID(eventID, rig.hook.ID, time.Now()), CompanyID: rig.hook.CompanyID,
				WebhookID: rig.hook.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: tt.attempt, Body: []byte(`{}`),
				Header: nats.Header{},
			}
			telemetry.Inject(testenv.WithTrace(t.Context()), j.Header)
			if _, err := rig.n.JS.PublishMsg(t.Context(), j.Msg(stream.DeliverySubject(rig.hook.ID, 1))); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, func() bool { return rig.count.get(tt.outcome) == 1 }, "outcome %s", tt.outcome)
			for _, line := range tt.lines {
				if got := logs.Of(line); got != testenv.TraceID {
					t.Errorf("%q was logged with trace %q, want the event's %s", line, got, testenv.TraceID)
				}
			}
		})
	}
}
