package telemetry

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerSource looks up JetStream consumers; a jetstream.JetStream is one.
type ConsumerSource interface {
	Consumer(ctx context.Context, stream, consumer string) (jetstream.Consumer, error)
}

// DefaultWatchInterval is WatchConsumers' period when it is given none.
const DefaultWatchInterval = 15 * time.Second

// WatchConsumers reports queue lag until ctx ends: at once and then every
// interval (DefaultWatchInterval if every <= 0), it reads the info of each
// consumer (stream name -> consumer names) and sets
// webhooks_consumer_pending_messages and
// webhooks_consumer_ack_pending_messages. It blocks; run it in its own
// goroutine.
//
// A failed read is not returned: it counts in
// webhooks_consumer_info_errors_total and removes that consumer's gauges
// until a read succeeds, so a stale value is never shown as current.
func (m *Metrics) WatchConsumers(ctx context.Context, js ConsumerSource, every time.Duration, consumers map[string][]string) {
	if every <= 0 {
		every = DefaultWatchInterval
	}
	type target struct{ stream, consumer string }
	var targets []target
	for _, stream := range slices.Sorted(maps.Keys(consumers)) {
		for _, consumer := range consumers[stream] {
			targets = append(targets, target{stream, consumer})
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for _, t := range targets {
			if ctx.Err() != nil {
				return
			}
			m.readConsumer(ctx, js, t.stream, t.consumer)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *Metrics) readConsumer(ctx context.Context, js ConsumerSource, stream, consumer string) {
	// Consumer fetches the info: one request, its timeout the JetStream
	// context's default unless ctx has a deadline.
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		if ctx.Err() == nil {
			m.infoErrors.WithLabelValues(stream, consumer).Inc()
			m.pending.DeleteLabelValues(stream, consumer)
			m.ackPending.DeleteLabelValues(stream, consumer)
		}
		return
	}
	info := c.CachedInfo()
	m.pending.WithLabelValues(stream, consumer).Set(float64(info.NumPending))
	m.ackPending.WithLabelValues(stream, consumer).Set(float64(info.NumAckPending))
}
