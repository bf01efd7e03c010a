package portal_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/stream"
)

// BenchmarkPages serves the portal's busiest pages for a company with 100
// webhooks and 10,000 deliveries in the last day (in ATTEMPTS as the
// deliverers write it: a message per webhook per flush, here 10 records
// each), after a first read has loaded the day; each page then reads only
// what the log added since.
func BenchmarkPages(b *testing.B) {
	s := setup(b, options{})
	br := s.login(b, s.tokA)
	var hooks []string
	for i := range 100 {
		hooks = append(hooks, s.createHook(b, s.tokA, fmt.Sprint("bench-", i)))
	}
	start := time.Now().Add(-23 * time.Hour)
	for i := 0; i < 10000; i += 10 {
		hook := hooks[(i/10)%len(hooks)]
		var data []byte
		for j := range 10 {
			n := i + j
			r := attempt.Record{
				DeliveryID: fmt.Sprintf("dlv_%08x%016x_%s", n, n, hook), WebhookID: hook, EventID: fmt.Sprint("evt_", n),
				EventType: "TODO_CREATED", Attempt: 1, At: start.Add(time.Duration(n) * 8 * time.Second),
				Outcome: attempt.Delivered, StatusCode: 200, LatencyMs: float64(n%200) + 0.5,
			}
			if n%17 == 0 {
				r.Outcome, r.StatusCode = attempt.Retry, 500
			}
			data = append(r.AppendJSON(data), '\n')
		}
		if _, err := s.n.JS.PublishMsg(b.Context(), &nats.Msg{Subject: stream.AttemptSubject(s.coA, hook), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	pages := []string{"/portal/", "/portal/webhooks/" + hooks[0], "/portal/webhooks/" + hooks[0] + "/deliveries"}
	for _, path := range pages { // the first read loads the day
		began := time.Now()
		if resp := br.get(path); resp.status != http.StatusOK {
			b.Fatalf("%s: %d", path, resp.status)
		}
		b.Logf("first read of %s: %s", path, time.Since(began).Round(time.Millisecond))
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			h, err := inspect.NewHistory(s.n.JS, inspect.HistoryConfig{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := h.Summaries(b.Context(), s.coA); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, path := range pages {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				if resp := br.get(path); resp.status != http.StatusOK {
					b.Fatalf("%s: %d", path, resp.status)
				}
			}
		})
	}
}
