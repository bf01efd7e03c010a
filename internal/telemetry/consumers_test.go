package telemetry_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/testenv"
)

var _ telemetry.ConsumerSource = jetstream.JetStream(nil)

func TestWatchConsumers(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 2)
	reg := prometheus.NewPedanticRegistry()
	m := telemetry.NewMetrics(reg)

	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		m.WatchConsumers(ctx, n.JS, 10*time.Millisecond, map[string][]string{
			stream.Events:     {stream.DispatchConsumer, "missing"},
			stream.Deliveries: {stream.ShardConsumer(0), stream.ShardConsumer(1)},
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("WatchConsumers did not return after its context ended")
		}
	})

	gauge := func(name, streamName, consumer string) (float64, bool) {
		v, _, ok := sample(t, reg, name, map[string]string{"stream": streamName, "consumer": consumer})
		return v, ok
	}
	pending := func(s, c string) (float64, bool) { return gauge("webhooks_consumer_pending_messages", s, c) }
	ackPending := func(s, c string) (float64, bool) { return gauge("webhooks_consumer_ack_pending_messages", s, c) }

	for range 3 {
		if _, err := n.JS.Publish(t.Context(), "events.c.p.TODO_CREATED", []byte(`{}`)); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		v, ok := pending(stream.Events, stream.DispatchConsumer)
		return ok && v == 3
	}, "dispatch consumer pending gauge is not 3")
	for _, c := range []string{stream.ShardConsumer(0), stream.ShardConsumer(1)} {
		if v, ok := pending(stream.Deliveries, c); !ok || v != 0 {
			t.Errorf("pending{DELIVERIES,%s} = %v (present %v), want 0", c, v, ok)
		}
	}

	// Two messages handed to a worker and not acked: one pending, two
	// awaiting an ack.
	cons, err := n.JS.Consumer(t.Context(), stream.Events, stream.DispatchConsumer)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range batch.Messages() {
		got++
	}
	if got != 2 {
		t.Fatalf("fetched %d messages, want 2", got)
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		p, ok1 := pending(stream.Events, stream.DispatchConsumer)
		a, ok2 := ackPending(stream.Events, stream.DispatchConsumer)
		return ok1 && ok2 && p == 1 && a == 2
	}, "dispatch consumer gauges are not pending 1, ack pending 2")

	// A consumer that does not exist is counted as an error and has no gauge.
	testenv.Eventually(t, 10*time.Second, func() bool {
		v, _, _ := sample(t, reg, "webhooks_consumer_info_errors_total", map[string]string{"stream": stream.Events, "consumer": "missing"})
		return v >= 1
	}, "no info error counted for the missing consumer")
	if _, ok := pending(stream.Events, "missing"); ok {
		t.Error("the missing consumer has a pending gauge")
	}
}
