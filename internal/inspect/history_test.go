package inspect_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

func newHistory(t *testing.T, js jetstream.JetStream, cfg inspect.HistoryConfig) *inspect.History {
	t.Helper()
	h, err := inspect.NewHistory(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A zero field takes its default; a value out of range is refused, naming
// the field, instead of being replaced by the default.
func TestHistoryConfig(t *testing.T) {
	t.Parallel()
	if got := (inspect.HistoryConfig{}).WithDefaults(); got.Window != inspect.DefaultWindow || got.MaxDeliveries != inspect.DefaultMaxDeliveries || got.Idle != inspect.DefaultIdle || got.Now == nil {
		t.Errorf("WithDefaults = %+v", got)
	}
	tests := []struct {
		name string
		cfg  inspect.HistoryConfig
		want string
	}{
		{name: "negative window", cfg: inspect.HistoryConfig{Window: -time.Hour}, want: "HistoryConfig.Window"},
		{name: "negative deliveries", cfg: inspect.HistoryConfig{MaxDeliveries: -1}, want: "HistoryConfig.MaxDeliveries"},
		{name: "negative idle", cfg: inspect.HistoryConfig{Idle: -time.Minute}, want: "HistoryConfig.Idle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := inspect.NewHistory(nil, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewHistory error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// logAttempts writes records to ATTEMPTS as the deliverer does: one message
// per webhook, its records as JSON lines.
func logAttempts(t *testing.T, n *testenv.NATS, company string, recs ...attempt.Record) {
	t.Helper()
	by := map[string][]byte{}
	var order []string
	for _, r := range recs {
		if _, ok := by[r.WebhookID]; !ok {
			order = append(order, r.WebhookID)
		}
		by[r.WebhookID] = append(r.AppendJSON(by[r.WebhookID]), '\n')
	}
	for _, hook := range order {
		if _, err := n.JS.PublishMsg(t.Context(), &nats.Msg{Subject: stream.AttemptSubject(company, hook), Data: by[hook]}); err != nil {
			t.Fatal(err)
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
}

func rec(hook, id string, attemptN int, at time.Time, outcome string, latency float64) attempt.Record {
	return attempt.Record{DeliveryID: id, WebhookID: hook, EventID: "evt_" + id, EventType: "TODO_CREATED", Attempt: attemptN, At: at, Outcome: outcome, StatusCode: 200, LatencyMs: latency}
}

func ids(p inspect.Page) []string {
	var out []string
	for _, d := range p.Deliveries {
		out = append(out, d.ID)
	}
	return out
}

// Deliveries fold their attempts, come newest first, filter and page; a
// read after more attempts were logged sees them.
func TestHistoryDeliveries(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	company := testenv.ID("co")
	now := time.Now().UTC()
	h := newHistory(t, n.JS, inspect.HistoryConfig{})
	logAttempts(t, n, company,
		rec("wh_a", "d1", 1, now.Add(-3*time.Minute), attempt.Retry, 5),
		rec("wh_a", "d2", 1, now.Add(-2*time.Minute), attempt.Delivered, 7),
		rec("wh_b", "d3", 1, now.Add(-2*time.Minute), attempt.Delivered, 7),
	)
	ctx := t.Context()
	page, err := h.Deliveries(ctx, company, "wh_a", inspect.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page); !slices.Equal(got, []string{"d2", "d1"}) {
		t.Fatalf("deliveries of wh_a = %v, want d2, d1 (newest first, none of wh_b)", got)
	}
	// d1 is retried and delivered: one delivery, two attempts.
	logAttempts(t, n, company, rec("wh_a", "d1", 2, now.Add(-time.Minute), attempt.Delivered, 9),
		rec("wh_a", "d4", 1, now.Add(-30*time.Second), attempt.Dead, 3))
	page, err = h.Deliveries(ctx, company, "wh_a", inspect.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page); !slices.Equal(got, []string{"d4", "d2", "d1"}) {
		t.Fatalf("after more attempts: %v, want d4, d2, d1", got)
	}
	d1 := page.Deliveries[2]
	if d1.Attempts != 2 || d1.Outcome != attempt.Delivered || !d1.First.Equal(now.Add(-3*time.Minute)) || !d1.Last.Equal(now.Add(-time.Minute)) {
		t.Errorf("d1 = %+v, want 2 attempts, delivered, first and last attempt times", d1)
	}
	tests := []struct {
		name string
		q    inspect.Query
		want []string
	}{
		{name: "by outcome", q: inspect.Query{Outcome: attempt.Dead}, want: []string{"d4"}},
		{name: "by type", q: inspect.Query{EventType: "TODO_DELETED"}},
		{name: "from", q: inspect.Query{From: now.Add(-150 * time.Second)}, want: []string{"d4", "d2"}},
		{name: "until", q: inspect.Query{Until: now.Add(-150 * time.Second)}, want: []string{"d1"}},
		{name: "first page", q: inspect.Query{Limit: 2}, want: []string{"d4", "d2"}},
		{name: "next page", q: inspect.Query{Limit: 2, Before: page.Deliveries[1].Seq}, want: []string{"d1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := h.Deliveries(ctx, company, "wh_a", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); !slices.Equal(got, tc.want) {
				t.Errorf("%+v: %v, want %v", tc.q, got, tc.want)
			}
			if tc.name == "first page" && p.Next != page.Deliveries[1].Seq {
				t.Errorf("first page: Next %d, want the Seq of its last (%d)", p.Next, page.Deliveries[1].Seq)
			}
		})
	}
}

// Stats count attempts by hour and outcome, with their latency; the list's
// summary has each webhook's latest delivery.
func TestHistoryStats(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	company := testenv.ID("co")
	hour := time.Now().UTC().Truncate(time.Hour)
	var recs []attempt.Record
	for i := range 100 {
		recs = append(recs, rec("wh_a", fmt.Sprint("ok", i), 1, hour.Add(-time.Hour+time.Duration(i)*time.Second), attempt.Delivered, float64(i+1)))
	}
	recs = append(recs, rec("wh_a", "bad", 1, hour.Add(time.Second), attempt.Retry, 1000), rec("wh_a", "bad", 2, hour.Add(2*time.Second), attempt.Dead, 1000),
		rec("wh_a", "parked", 1, hour.Add(3*time.Second), attempt.Parked, 0))
	logAttempts(t, n, company, recs...)
	c := &fakeClock{now: hour.Add(10 * time.Minute)}
	h := newHistory(t, n.JS, inspect.HistoryConfig{Now: c.Now})
	s, err := h.Stats(t.Context(), company, "wh_a")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Hours) != 24 || !s.Hours[23].Start.Equal(hour) || !s.Hours[22].Start.Equal(hour.Add(-time.Hour)) {
		t.Fatalf("%d hours ending %v, want 24 ending with the current hour %v", len(s.Hours), s.Hours[len(s.Hours)-1].Start, hour)
	}
	prev, cur := s.Hours[22], s.Hours[23]
	if prev.Delivered != 100 || cur.Retry != 1 || cur.Dead != 1 || cur.Parked != 1 || cur.Delivered != 0 {
		t.Errorf("hours %+v and %+v: want 100 delivered, then 1 retry, 1 dead, 1 parked", prev, cur)
	}
	// Latencies 1..100 ms: p50 about 50, p99 about 99, within the 10 % the
	// histogram promises.
	for _, q := range []struct{ q, want float64 }{{0.5, 50}, {0.99, 99}} {
		got, ok := prev.Latency(q.q)
		if !ok || math.Abs(got-q.want)/q.want > 0.1 {
			t.Errorf("p%v = %v (%v), want %v within 10 %%", q.q*100, got, ok, q.want)
		}
	}
	if _, ok := s.Hours[0].Latency(0.5); ok {
		t.Error("an hour without attempts has a latency")
	}
	if rate, ok := s.SuccessRate(); !ok || math.Abs(rate-100.0/102) > 1e-9 {
		t.Errorf("success rate %v (%v), want 100 of 102 attempts (parked ones were not attempts)", rate, ok)
	}
	sums, err := h.Summaries(t.Context(), company)
	if err != nil {
		t.Fatal(err)
	}
	if l := sums["wh_a"].Latest; l == nil || l.ID != "parked" {
		t.Errorf("latest of wh_a = %+v, want the parked delivery", l)
	}
	// An hour later the first hour has left the window.
	c.set(hour.Add(23*time.Hour + 10*time.Minute))
	s, err = h.Stats(t.Context(), company, "wh_a")
	if err != nil {
		t.Fatal(err)
	}
	if total := s.Total(); total.Delivered != 0 || total.Dead != 1 {
		t.Errorf("a day later: %+v, want the hour before the window dropped", total)
	}
}

// Deliveries begun before what the history keeps are read from ATTEMPTS
// for the query.
func TestHistoryReadsOlderDeliveriesFromTheLog(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	company := testenv.ID("co")
	start := time.Now().UTC()
	logAttempts(t, n, company, rec("wh_a", "old", 1, start, attempt.Delivered, 1))
	// The process started two days later: its window does not reach back.
	c := &fakeClock{now: start.Add(48 * time.Hour)}
	h := newHistory(t, n.JS, inspect.HistoryConfig{Now: c.Now})
	page, err := h.Deliveries(context.Background(), company, "wh_a", inspect.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Deliveries) != 0 {
		t.Errorf("window: %v, want nothing begun in the last 24 h", ids(page))
	}
	page, err = h.Deliveries(context.Background(), company, "wh_a", inspect.Query{From: start.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(page); !slices.Equal(got, []string{"old"}) {
		t.Errorf("from before the window: %v, want the old delivery from the log", got)
	}
}

// Beyond MaxDeliveries the oldest are dropped from memory, and a query
// reaching back to them reads the log.
func TestHistoryKeepsAtMostMaxDeliveries(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	company := testenv.ID("co")
	now := time.Now().UTC()
	var recs []attempt.Record
	for i := range 30 {
		recs = append(recs, rec("wh_a", fmt.Sprintf("d%02d", i), 1, now.Add(-time.Hour+time.Duration(i)*time.Minute), attempt.Delivered, 1))
	}
	logAttempts(t, n, company, recs...)
	h := newHistory(t, n.JS, inspect.HistoryConfig{MaxDeliveries: 10})
	page, err := h.Deliveries(t.Context(), company, "wh_a", inspect.Query{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Deliveries) > 10 || page.Deliveries[0].ID != "d29" {
		t.Errorf("kept %v, want at most the 10 newest", ids(page))
	}
	page, err = h.Deliveries(t.Context(), company, "wh_a", inspect.Query{Limit: 500, From: now.Add(-2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Deliveries) != 30 {
		t.Errorf("from before the oldest kept: %d deliveries, want all 30 from the log", len(page.Deliveries))
	}
}
