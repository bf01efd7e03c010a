package telemetry_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/telemetry"
)

// The method sets of delivery.Metrics and dispatch.Metrics, restated so
// that this package does not import the roles it serves.
type (
	deliveryMetrics interface {
		Attempt(outcome string, status int, latency time.Duration)
		Delivered(endToEnd time.Duration)
		Outcome(outcome string)
	}
	dispatchMetrics interface {
		Dispatched(eventType string, jobs, handedOver int)
	}
)

var (
	_ deliveryMetrics = (*telemetry.Metrics)(nil)
	_ dispatchMetrics = (*telemetry.Metrics)(nil)
)

// sample finds the series of name with exactly labels in reg: a counter's
// or gauge's value, or a histogram's sample count and sum.
func sample(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) (value, sum float64, found bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsEqual(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), 0, true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), 0, true
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), m.GetHistogram().GetSampleSum(), true
			}
		}
	}
	return 0, 0, false
}

func labelsEqual(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := telemetry.NewMetrics(reg)

	m.EventPublished("TODO_CREATED")
	m.EventPublished("TODO_CREATED")
	m.EventPublished("TODO_DELETED")
	m.Dispatched("TODO_CREATED", 3, 2)
	m.Dispatched("TODO_CREATED", 2, 0)
	m.Dispatched("TODO_DELETED", 0, 0)
	m.Outcome(attempt.Delivered)
	m.Outcome(attempt.Retry)
	m.Outcome(attempt.Retry)
	m.Outcome(attempt.Dead)
	m.Attempt("success", 200, 150*time.Millisecond)
	m.Attempt("failure", 503, 2*time.Second)
	m.Attempt("failure", 0, 7*time.Second)
	m.Delivered(1500 * time.Millisecond)
	m.SetWebhookHealth(10, 2, 1)

	tests := []struct {
		name    string
		metric  string
		labels  map[string]string
		want    float64 // value, or sample count
		wantSum float64 // histograms
	}{
		{name: "published", metric: "webhooks_events_published_total", labels: map[string]string{"type": "TODO_CREATED"}, want: 2},
		{name: "published other type", metric: "webhooks_events_published_total", labels: map[string]string{"type": "TODO_DELETED"}, want: 1},
		{name: "dispatched", metric: "webhooks_events_dispatched_total", labels: map[string]string{"type": "TODO_CREATED"}, want: 2},
		{name: "dispatched to no webhook", metric: "webhooks_events_dispatched_total", labels: map[string]string{"type": "TODO_DELETED"}, want: 1},
		{name: "jobs", metric: "webhooks_jobs_created_total", want: 5},
		{name: "jobs handed over", metric: "webhooks_jobs_handed_over_total", want: 2},
		{name: "delivered", metric: "webhooks_deliveries_total", labels: map[string]string{"outcome": "delivered"}, want: 1},
		{name: "retry", metric: "webhooks_deliveries_total", labels: map[string]string{"outcome": "retry"}, want: 2},
		{name: "dead", metric: "webhooks_deliveries_total", labels: map[string]string{"outcome": "dead"}, want: 1},
		{name: "parked exists at zero", metric: "webhooks_deliveries_total", labels: map[string]string{"outcome": "parked"}, want: 0},
		{name: "attempt 2xx", metric: "webhooks_attempts_total", labels: map[string]string{"result": "success", "status_class": "2xx"}, want: 1},
		{name: "attempt 5xx", metric: "webhooks_attempts_total", labels: map[string]string{"result": "failure", "status_class": "5xx"}, want: 1},
		{name: "attempt without response", metric: "webhooks_attempts_total", labels: map[string]string{"result": "failure", "status_class": "none"}, want: 1},
		{name: "attempt duration success", metric: "webhooks_attempt_duration_seconds", labels: map[string]string{"result": "success"}, want: 1, wantSum: 0.15},
		{name: "attempt duration failure", metric: "webhooks_attempt_duration_seconds", labels: map[string]string{"result": "failure"}, want: 2, wantSum: 9},
		{name: "end to end", metric: "webhooks_delivery_latency_seconds", want: 1, wantSum: 1.5},
		{name: "healthy", metric: "webhooks_webhooks", labels: map[string]string{"state": "healthy"}, want: 10},
		{name: "unhealthy", metric: "webhooks_webhooks", labels: map[string]string{"state": "unhealthy"}, want: 2},
		{name: "disabled", metric: "webhooks_webhooks", labels: map[string]string{"state": "disabled"}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, sum, found := sample(t, reg, tt.metric, tt.labels)
			if !found {
				t.Fatalf("no series %s%v", tt.metric, tt.labels)
			}
			if got != tt.want || sum != tt.wantSum {
				t.Errorf("%s%v = %v (sum %v), want %v (sum %v)", tt.metric, tt.labels, got, sum, tt.want, tt.wantSum)
			}
		})
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsAttemptStatusClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		outcome string
		status  int
		result  string
		class   string
	}{
		{name: "ok", outcome: "success", status: 200, result: "success", class: "2xx"},
		{name: "no content", outcome: "success", status: 204, result: "success", class: "2xx"},
		{name: "delivered counts as success", outcome: attempt.Delivered, status: 201, result: "success", class: "2xx"},
		{name: "redirect", outcome: "failure", status: 301, result: "failure", class: "3xx"},
		{name: "not found", outcome: "failure", status: 404, result: "failure", class: "4xx"},
		{name: "too many requests", outcome: "failure", status: 429, result: "failure", class: "4xx"},
		{name: "unavailable", outcome: "failure", status: 503, result: "failure", class: "5xx"},
		{name: "informational", outcome: "failure", status: 101, result: "failure", class: "1xx"},
		{name: "transport error", outcome: "failure", status: 0, result: "failure", class: "none"},
		{name: "nonsense status", outcome: "failure", status: 999, result: "failure", class: "none"},
		{name: "negative status", outcome: "failure", status: -1, result: "failure", class: "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewPedanticRegistry()
			telemetry.NewMetrics(reg).Attempt(tt.outcome, tt.status, time.Millisecond)
			labels := map[string]string{"result": tt.result, "status_class": tt.class}
			if got, _, _ := sample(t, reg, "webhooks_attempts_total", labels); got != 1 {
				t.Errorf("webhooks_attempts_total%v = %v, want 1", labels, got)
			}
		})
	}
}

func TestMetricsConcurrentNewLabels(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := telemetry.NewMetrics(reg)
	const goroutines, types, rounds = 8, 20, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range rounds * types {
				typ := fmt.Sprintf("TYPE_%d", i%types)
				m.EventPublished(typ)
				m.Dispatched(typ, 1, 0)
				m.Outcome("unlisted")
			}
		})
	}
	wg.Wait()
	for i := range types {
		labels := map[string]string{"type": fmt.Sprintf("TYPE_%d", i)}
		if got, _, _ := sample(t, reg, "webhooks_events_published_total", labels); got != goroutines*rounds {
			t.Errorf("published%v = %v, want %d", labels, got, goroutines*rounds)
		}
	}
	if got, _, _ := sample(t, reg, "webhooks_jobs_created_total", nil); got != goroutines*rounds*types {
		t.Errorf("jobs = %v, want %d", got, goroutines*rounds*types)
	}
	if got, _, _ := sample(t, reg, "webhooks_deliveries_total", map[string]string{"outcome": "unlisted"}); got != goroutines*rounds*types {
		t.Errorf("unlisted outcome = %v, want %d", got, goroutines*rounds*types)
	}
}

func TestNewMetricsWithoutRegistry(t *testing.T) {
	t.Parallel()
	m := telemetry.NewMetrics(nil)
	m.Outcome(attempt.Delivered)
	m.Attempt("success", 200, time.Millisecond)
	m.SetWebhookHealth(1, 0, 0)
	// Two sets of metrics in two registries do not collide.
	telemetry.NewMetrics(prometheus.NewRegistry())
	telemetry.NewMetrics(prometheus.NewRegistry())
}

func BenchmarkMetricsOutcome(b *testing.B) {
	m := telemetry.NewMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.Outcome(attempt.Delivered)
	}
}

func BenchmarkMetricsAttempt(b *testing.B) {
	m := telemetry.NewMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	for b.Loop() {
		m.Attempt("success", 200, 120*time.Millisecond)
	}
}

func BenchmarkMetricsDispatched(b *testing.B) {
	m := telemetry.NewMetrics(prometheus.NewRegistry())
	m.Dispatched("TODO_CREATED", 0, 0)
	b.ReportAllocs()
	for b.Loop() {
		m.Dispatched("TODO_CREATED", 3, 2)
	}
}

func BenchmarkMetricsOutcomeParallel(b *testing.B) {
	m := telemetry.NewMetrics(prometheus.NewRegistry())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.Outcome(attempt.Retry)
		}
	})
}
