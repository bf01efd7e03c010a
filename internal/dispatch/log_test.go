package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// A filter that fails at run time is logged with the event's context, so
// that the line carries the event's trace.
func TestSelectorLogsWithTheEventContext(t *testing.T) {
	t.Parallel()
	filters, err := filter.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	p, err := filters.Compile(`event.currentValue.missing.id == "x"`)
	if err != nil {
		t.Fatal(err)
	}
	w := &registry.Entry{Webhook: &webhook.Webhook{ID: "wh_1"}, Filter: p}
	e := &event.Envelope{ID: "evt_1", Type: "TODO_CREATED", CurrentValue: json.RawMessage(`{}`)}
	logs := &testenv.Traces{}
	ctx := testenv.WithTrace(t.Context())
	if NewSelector(e, slog.New(logs)).Selects(ctx, w) {
		t.Fatal("a filter that fails selected the event")
	}
	if got := logs.Of("dispatch: filter did not evaluate; webhook not selected"); got != testenv.TraceID {
		t.Errorf("logged with trace %q, want the event's", got)
	}
}

// An event left for redelivery is logged with its own trace, taken from
// its message, although the job that failed was settled after dispatch
// returned.
func TestEventLeftForRedeliveryIsLoggedWithItsTrace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, cache := registryWith(ctx, t, "co_logged", []string{"wh_logged"})
	h := &holdingHandoff{}
	logs := &testenv.Traces{}
	d, err := New(n.JS, cache, Config{Shards: 2, Workers: 1, Handoff: h, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	e := exampleEvent(t, "co_logged")
	data, _ := json.Marshal(&e)
	msg := nats.NewMsg(stream.EventSubject(e.CompanyID, e.ProjectID, e.Type))
	msg.Data = data
	telemetry.Inject(testenv.WithTrace(ctx), msg.Header)
	if _, err := n.JS.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return h.taken() == 1 }, "the job handed over")
	h.settleJob(0, errors.New("could not store the job"))
	testenv.Eventually(t, 10*time.Second, func() bool { return logs.Of("dispatch failed; event left for redelivery") == testenv.TraceID },
		"the event left for redelivery, logged with its trace")
	testenv.Eventually(t, 10*time.Second, func() bool { return h.taken() == 2 }, "the event redelivered")
	h.settleJob(1, nil)
}
