package telemetry

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bluehq/webhooks/internal/attempt"
)

// Metrics are the pipeline's Prometheus metrics. It serves as the
// delivery.Metrics and the dispatch.Metrics, and its methods are safe for
// concurrent use and allocation-free once a label value has been seen.
//
// Label values (event types, outcomes) must come from bounded sets: the
// event-type catalogue and the attempt outcomes.
type Metrics struct {
	published  *counters // {type}
	dispatched *counters // {type}
	jobs       prometheus.Counter
	handedOver prometheus.Counter
	refused    prometheus.Counter
	outcomes   *counters // {outcome}

	attemptSeconds [2]prometheus.Observer   // [result]
	attempts       [2][6]prometheus.Counter // [result][status class]
	delivered      prometheus.Histogram
	webhooks       [3]prometheus.Gauge // healthy, unhealthy, disabled

	pending    *prometheus.GaugeVec   // {stream, consumer}
	ackPending *prometheus.GaugeVec   // {stream, consumer}
	infoErrors *prometheus.CounterVec // {stream, consumer}
}

// Attempt results and HTTP status classes, as label values.
var (
	results       = [2]string{"failure", "success"}
	statusClasses = [6]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx"}
)

// NewMetrics creates the metrics and registers them with reg; a nil reg
// registers nothing. Like prometheus.MustRegister, it panics if reg already
// holds metrics of the same names.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	published := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhooks_events_published_total",
		Help: "Events accepted and published to the EVENTS stream, by event type.",
	}, []string{"type"})
	dispatched := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhooks_events_dispatched_total",
		Help: "Events the dispatcher has fanned out to delivery jobs, by event type.",
	}, []string{"type"})
	jobs := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "webhooks_jobs_created_total",
		Help: "Delivery jobs created by the dispatcher (one per matching webhook).",
	})
	handedOver := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "webhooks_jobs_handed_over_total",
		Help: "Delivery jobs the dispatcher handed straight to a deliverer (of its own process in webhookd, over NATS otherwise) instead of storing them in DELIVERIES; minus webhooks_jobs_handoff_refused_total, the ones a deliverer took.",
	})
	refused := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "webhooks_jobs_handoff_refused_total",
		Help: "Delivery jobs offered over NATS that no deliverer could start at once (or none listened): stored in DELIVERIES instead.",
	})
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhooks_deliveries_total",
		Help: "Delivery decisions by outcome: delivered, retry, dead, parked, deferred, dropped, handed_back (endpoint at its in-flight cap).",
	}, []string{"outcome"})
	attemptSeconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "webhooks_attempt_duration_seconds",
		Help: "Duration of one HTTP delivery attempt, by result (success: 2xx).",
		// The delivery timeout is 7s by default and at most 60s.
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 7.5, 10, 30, 60},
	}, []string{"result"})
	attempts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhooks_attempts_total",
		Help: "HTTP delivery attempts by result and response status class (none: no response).",
	}, []string{"result", "status_class"})
	delivered := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "webhooks_delivery_latency_seconds",
		Help:    "Time from an event's publication to its 2xx delivery, retries included.",
		Buckets: []float64{0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	webhooks := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "webhooks_webhooks",
		Help: "Registered webhooks by state: healthy, unhealthy, disabled.",
	}, []string{"state"})
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "webhooks_consumer_pending_messages",
		Help: "Messages in the stream not yet delivered to the JetStream consumer (NumPending).",
	}, []string{"stream", "consumer"})
	ackPending := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "webhooks_consumer_ack_pending_messages",
		Help: "Messages delivered to the JetStream consumer and not yet acknowledged (NumAckPending).",
	}, []string{"stream", "consumer"})
	infoErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "webhooks_consumer_info_errors_total",
		Help: "Failed reads of JetStream consumer info by the queue-lag watcher.",
	}, []string{"stream", "consumer"})
	if reg != nil {
		reg.MustRegister(published, dispatched, jobs, handedOver, refused, outcomes, attemptSeconds, attempts,
			delivered, webhooks, pending, ackPending, infoErrors)
	}

	m := &Metrics{
		published:  newCounters(published),
		dispatched: newCounters(dispatched),
		jobs:       jobs,
		handedOver: handedOver,
		refused:    refused,
		outcomes: newCounters(outcomes,
			attempt.Delivered, attempt.Retry, attempt.Dead, attempt.Parked, attempt.Deferred, attempt.Dropped, attempt.HandedBack),
		delivered:  delivered,
		pending:    pending,
		ackPending: ackPending,
		infoErrors: infoErrors,
	}
	for r, result := range results {
		m.attemptSeconds[r] = attemptSeconds.WithLabelValues(result)
		for c, class := range statusClasses {
			m.attempts[r][c] = attempts.WithLabelValues(result, class)
		}
	}
	for i, state := range [...]string{"healthy", "unhealthy", "disabled"} {
		m.webhooks[i] = webhooks.WithLabelValues(state)
	}
	return m
}

// EventPublished counts an event published to EVENTS.
func (m *Metrics) EventPublished(eventType string) {
	m.published.get(eventType).Inc()
}

// Dispatched counts an event fanned out into jobs delivery jobs, of which
// handedOver went straight to the deliverer of the same process.
func (m *Metrics) Dispatched(eventType string, jobs, handedOver int) {
	m.dispatched.get(eventType).Inc()
	if jobs > 0 {
		m.jobs.Add(float64(jobs))
	}
	if handedOver > 0 {
		m.handedOver.Add(float64(handedOver))
	}
}

// HandoffRefused counts a job offered over NATS that was stored in
// DELIVERIES instead.
func (m *Metrics) HandoffRefused() { m.refused.Inc() }

// Outcome counts a delivery decision; outcome is one of the attempt
// package's outcomes (delivered, retry, dead, parked, deferred, dropped).
func (m *Metrics) Outcome(outcome string) {
	m.outcomes.get(outcome).Inc()
}

// Attempt records one HTTP attempt. outcome is its result, "success" (or
// attempt.Delivered) for a 2xx and anything else for a failure; status is
// the response status, 0 when there was no response.
func (m *Metrics) Attempt(outcome string, status int, latency time.Duration) {
	r := 0
	if outcome == "success" || outcome == attempt.Delivered {
		r = 1
	}
	c := 0
	if status >= 100 && status < 600 {
		c = status / 100
	}
	m.attempts[r][c].Inc()
	m.attemptSeconds[r].Observe(latency.Seconds())
}

// Delivered records the time from an event's publication to its 2xx.
func (m *Metrics) Delivered(endToEnd time.Duration) {
	m.delivered.Observe(endToEnd.Seconds())
}

// SetWebhookHealth sets how many webhooks are in each state.
func (m *Metrics) SetWebhookHealth(healthy, unhealthy, disabled int) {
	m.webhooks[0].Set(float64(healthy))
	m.webhooks[1].Set(float64(unhealthy))
	m.webhooks[2].Set(float64(disabled))
}

// counters caches the children of a one-label CounterVec in a
// copy-on-write map: reads are a lock-free map lookup with no allocation;
// the rare first sight of a value copies the map.
type counters struct {
	vec      *prometheus.CounterVec
	mu       sync.Mutex // serialises writers
	children atomic.Pointer[map[string]prometheus.Counter]
}

// newCounters pre-creates the children for known (so their series start at
// zero, and rate() sees the first increment).
func newCounters(vec *prometheus.CounterVec, known ...string) *counters {
	m := make(map[string]prometheus.Counter, len(known))
	for _, v := range known {
		m[v] = vec.WithLabelValues(v)
	}
	c := &counters{vec: vec}
	c.children.Store(&m)
	return c
}

func (c *counters) get(value string) prometheus.Counter {
	if ctr, ok := (*c.children.Load())[value]; ok {
		return ctr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.children.Load()
	if ctr, ok := old[value]; ok {
		return ctr
	}
	ctr := c.vec.WithLabelValues(value)
	next := make(map[string]prometheus.Counter, len(old)+1)
	maps.Copy(next, old)
	next[value] = ctr
	c.children.Store(&next)
	return ctr
}
