package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// An event dispatched twice (its dispatcher died before acking it, and it
// was redelivered) gives one job per webhook: the jobs carry Nats-Msg-Id
// "<event id>.<webhook id>" and DELIVERIES drops the second copies.
func TestRedispatchIsDeduplicated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hooks := []string{"wh_dedup_a", "wh_dedup_b"}
	n, cache := registryWith(ctx, t, "co_dedup", hooks)
	d, err := New(n.JS, cache, Config{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := exampleEvent(t, "co_dedup")
	now := time.Now()
	for range 2 {
		if jobs, err := d.Dispatch(ctx, &e, nats.Header{}, now); err != nil || jobs != len(hooks) {
			t.Fatalf("Dispatch = %d, %v; want %d jobs", jobs, err, len(hooks))
		}
	}

	state := n.StreamState(t, stream.Deliveries)
	if state.Msgs != uint64(len(hooks)) {
		t.Fatalf("DELIVERIES holds %d jobs, want %d", state.Msgs, len(hooks))
	}
	s, err := n.JS.Stream(ctx, stream.Deliveries)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= state.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		if id != e.ID+".wh_dedup_a" && id != e.ID+".wh_dedup_b" {
			t.Errorf("job %d has Nats-Msg-Id %q", seq, id)
		}
	}
}

// registryWith starts a NATS server with two shards and a registry cache
// holding enabled webhooks with ids hooks, of company co, for every event.
func registryWith(ctx context.Context, t *testing.T, co string, hooks []string) (*testenv.NATS, *registry.Cache) {
	t.Helper()
	n := testenv.StartNATS(t, 2)
	kv, box := n.Registry(t)
	now := time.Now().UTC()
	for _, id := range hooks {
		w := webhook.Webhook{
			ID: id, UID: "u", CompanyID: co, Name: id, URL: "https://example.com/hook",
			Status: webhook.StatusHealthy, Enabled: true, CreatedAt: now, UpdatedAt: now,
			Secrets: []webhook.Secret{{Sealed: box.Seal([]byte("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))}},
		}
		data, _ := json.Marshal(&w)
		if _, err := kv.Put(ctx, w.Key(), data); err != nil {
			t.Fatal(err)
		}
	}
	cache := registry.NewCache(kv, registry.CacheConfig{Box: box})
	go func() { _ = cache.Run(ctx) }()
	<-cache.Ready()
	return n, cache
}

// exampleEvent is the catalogue's TODO_CREATED example with a new id, for
// company co.
func exampleEvent(t *testing.T, co string) event.Envelope {
	t.Helper()
	cat, err := event.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	var e event.Envelope
	for _, typ := range cat.Types() {
		if typ.Name == "TODO_CREATED" {
			if err := json.Unmarshal(typ.Example, &e); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.ID, e.CompanyID = event.NewID(), co
	return e
}

// holdingHandoff takes every job (or none, with refuse) and keeps its
// settle function for the test to call.
type holdingHandoff struct {
	refuse bool
	mu     sync.Mutex
	jobs   []*job.Job
	settle []func(error)
}

func (h *holdingHandoff) Take(j *job.Job, _ *nats.Msg, settle func(error)) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refuse {
		return false
	}
	h.jobs, h.settle = append(h.jobs, j), append(h.settle, settle)
	return true
}

func (h *holdingHandoff) taken() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.jobs)
}

func (h *holdingHandoff) settleJob(i int, err error) {
	h.mu.Lock()
	f := h.settle[i]
	h.mu.Unlock()
	f(err)
}

// An event whose jobs were handed over is acked only when the last of
// them is settled, and is redelivered when one of them could not be: then
// only that job is made again, not the ones already settled. Nothing is stored in DELIVERIES; with a
// Handoff that takes nothing, the jobs are stored and the event acked.
func TestHandedOverEventIsAckedWhenItsJobsSettle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hooks := []string{"wh_hand_a", "wh_hand_b"}
	n, cache := registryWith(ctx, t, "co_hand", hooks)
	h := &holdingHandoff{}
	d, err := New(n.JS, cache, Config{Shards: 2, Workers: 2, Handoff: h})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	cons, err := n.JS.Consumer(ctx, stream.Events, stream.DispatchConsumer)
	if err != nil {
		t.Fatal(err)
	}
	ackPending := func() int {
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ci.NumAckPending
	}
	publish := func(e event.Envelope) {
		data, _ := json.Marshal(&e)
		if _, err := n.JS.Publish(ctx, stream.EventSubject(e.CompanyID, e.ProjectID, e.Type), data); err != nil {
			t.Fatal(err)
		}
	}

	publish(exampleEvent(t, "co_hand"))
	testenv.Eventually(t, 10*time.Second, func() bool { return h.taken() == 2 }, "both jobs handed over")
	h.settleJob(0, nil)
	// An early ack would have been written by settleJob, on this
	// connection: after a flush the server has processed it.
	if err := n.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := ackPending(); got != 1 {
		t.Fatalf("ack pending = %d with one job unsettled, want the event still pending", got)
	}
	h.settleJob(1, nil)
	testenv.Eventually(t, 10*time.Second, func() bool { return ackPending() == 0 }, "the event acked once both jobs settled")

	publish(exampleEvent(t, "co_hand"))
	testenv.Eventually(t, 10*time.Second, func() bool { return h.taken() == 4 }, "the second event's jobs handed over")
	h.settleJob(2, errors.New("could not store the job"))
	h.settleJob(3, nil)
	testenv.Eventually(t, 10*time.Second, func() bool { return h.taken() >= 5 }, "the event redelivered and its unsettled job handed over again")
	h.settleJob(4, nil)
	testenv.Eventually(t, 10*time.Second, func() bool { return ackPending() == 0 }, "the redelivered event acked")
	if h.jobs[4].DeliveryID != h.jobs[2].DeliveryID {
		t.Errorf("the redelivered event's job has delivery id %s, want the failed job's %s", h.jobs[4].DeliveryID, h.jobs[2].DeliveryID)
	}
	if got := h.taken(); got != 5 {
		t.Errorf("%d jobs handed over, want 5: the settled job of the redelivered event was made again", got)
	}

	if stored := n.StreamState(t, stream.Deliveries).LastSeq; stored != 0 {
		t.Errorf("DELIVERIES stored %d messages; handed-over jobs should not be stored", stored)
	}

	h.mu.Lock()
	h.refuse = true
	h.mu.Unlock()
	publish(exampleEvent(t, "co_hand"))
	testenv.Eventually(t, 10*time.Second, func() bool {
		return n.StreamState(t, stream.Deliveries).Msgs == 2 && ackPending() == 0
	}, "the refused jobs stored and the event acked")
}

// batchHandoff takes the first take of each batch it is offered and
// keeps their settle functions; it records the size of each batch.
type batchHandoff struct {
	take    int
	mu      sync.Mutex
	batches []int
	settle  []func(error)
}

func (h *batchHandoff) Take(*job.Job, *nats.Msg, func(error)) bool {
	panic("a BatchHandoff is offered batches, not single jobs")
}

func (h *batchHandoff) TakeBatch(offers []Offer) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.batches = append(h.batches, len(offers))
	n := min(h.take, len(offers))
	for _, o := range offers[:n] {
		h.settle = append(h.settle, o.Settle)
	}
	return n
}

// A BatchHandoff is offered all of an event's jobs in one call; those it
// does not take are stored, and the event is acked once the taken ones
// settle.
func TestBatchHandoffIsOfferedTheEventsJobsAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hooks := []string{"wh_batch_a", "wh_batch_b", "wh_batch_c"}
	n, cache := registryWith(ctx, t, "co_batch", hooks)
	h := &batchHandoff{take: 2}
	d, err := New(n.JS, cache, Config{Shards: 2, Workers: 2, Handoff: h})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = d.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	e := exampleEvent(t, "co_batch")
	data, _ := json.Marshal(&e)
	if _, err := n.JS.Publish(ctx, stream.EventSubject(e.CompanyID, e.ProjectID, e.Type), data); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return n.StreamState(t, stream.Deliveries).Msgs == 1 }, "the job not taken stored")
	h.mu.Lock()
	if len(h.batches) != 1 || h.batches[0] != 3 {
		t.Errorf("offered batches of %v jobs, want one of 3", h.batches)
	}
	settle := h.settle
	h.mu.Unlock()
	cons, err := n.JS.Consumer(ctx, stream.Events, stream.DispatchConsumer)
	if err != nil {
		t.Fatal(err)
	}
	ackPending := func() int {
		ci, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ci.NumAckPending
	}
	settle[0](nil)
	if err := n.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := ackPending(); got != 1 {
		t.Fatalf("ack pending = %d with a taken job unsettled, want the event still pending", got)
	}
	settle[1](nil)
	testenv.Eventually(t, 10*time.Second, func() bool { return ackPending() == 0 }, "the event acked once the taken jobs settled")
}
