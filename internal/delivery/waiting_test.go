package delivery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

func waiterFor(id string, since time.Time) waiter {
	return waiter{j: &job.Job{DeliveryID: id}, since: since}
}

func ids(ws []waiter) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.j.DeliveryID)
	}
	return out
}

func TestWaitingLine(t *testing.T) {
	t0 := time.Now()
	const key = "wh_a"

	t.Run("no attempt of ours runs: nobody waits", func(t *testing.T) {
		w := newWaiting(time.Second)
		if w.enqueue(key, waiterFor("d1", t0)) {
			t.Fatal("a job waits although no attempt will pass it a slot")
		}
	})

	t.Run("one waiter per attempt until a latency is known", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.started(key)
		for i, want := range []bool{true, true, false} {
			if got := w.enqueue(key, waiterFor(strconv.Itoa(i), t0)); got != want {
				t.Fatalf("enqueue %d = %v, want %v", i, got, want)
			}
		}
	})

	t.Run("slots pass oldest first; the last attempt leaves nothing behind", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.done(key, 10*time.Millisecond, true, true, t0) // a latency is known: 1 x 1s/10ms = 100 may wait
		w.started(key)
		for _, id := range []string{"d1", "d2", "d3"} {
			if !w.enqueue(key, waiterFor(id, t0)) {
				t.Fatalf("%s refused", id)
			}
		}
		next, orphans := w.done(key, 10*time.Millisecond, true, true, t0)
		if next == nil || next.j.DeliveryID != "d1" || orphans != nil {
			t.Fatalf("done(pass) = %v, %v; want d1 and no orphans", next, ids(orphans))
		}
		// The lease is stale (or the attempt failed): d2 and d3 have no
		// attempt left to pass them a slot, so they go back.
		next, orphans = w.done(key, 10*time.Millisecond, true, false, t0)
		if next != nil || len(orphans) != 2 || orphans[0].j.DeliveryID != "d2" {
			t.Fatalf("done(no pass) = %v, %v; want the two left", next, ids(orphans))
		}
		if w.enqueue(key, waiterFor("d4", t0)) {
			t.Fatal("a job waits after the last attempt ended")
		}
		if w.expired(t0.Add(idleLine)); len(w.endpoints) != 0 {
			t.Fatal("an idle endpoint's line is kept forever")
		}
	})

	t.Run("a slot that may not pass leaves the line to the other attempts", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.done(key, 10*time.Millisecond, true, true, t0)
		w.started(key)
		w.started(key)
		w.enqueue(key, waiterFor("d1", t0))
		if next, orphans := w.done(key, 10*time.Millisecond, true, false, t0); next != nil || orphans != nil {
			t.Fatalf("done(ok, no pass) = %v, %v; want d1 left waiting", next, ids(orphans))
		}
		if next, _ := w.done(key, 10*time.Millisecond, true, true, t0); next == nil || next.j.DeliveryID != "d1" {
			t.Fatalf("the other attempt's slot did not pass to d1: %v", next)
		}
	})

	t.Run("a slot passes a bounded number of times, while its lease is fresh", func(t *testing.T) {
		const ttl = 10 * time.Second
		s := &slot{at: t0}
		if !s.passable(ttl, t0.Add(4*time.Second)) || s.passable(ttl, t0.Add(5*time.Second)) {
			t.Error("a lease may pass until half its TTL has gone, not after")
		}
		s.passes = maxPasses
		if s.passable(ttl, t0) {
			t.Errorf("a slot passed %d times passes again", maxPasses)
		}
	})

	t.Run("a newcomer joins a line without asking for a slot only behind others or a full cap", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.done(key, 10*time.Millisecond, true, true, t0)
		w.started(key)
		if w.join(key, waiterFor("d1", t0), 2) {
			t.Fatal("joined an empty line with a slot possibly free")
		}
		if !w.join(key, waiterFor("d1", t0), 1) {
			t.Fatal("did not join although this process holds the whole cap")
		}
		if !w.join(key, waiterFor("d2", t0), 2) {
			t.Fatal("did not join behind a waiting job")
		}
		if next, _ := w.done(key, 10*time.Millisecond, true, true, t0); next == nil || next.j.DeliveryID != "d1" {
			t.Fatalf("next = %v, want d1 first", next)
		}
	})

	t.Run("a failure sends the whole line back", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.started(key)
		w.enqueue(key, waiterFor("d1", t0))
		_, orphans := w.done(key, time.Millisecond, false, true, t0)
		if len(orphans) != 1 {
			t.Fatalf("orphans = %v, want d1", ids(orphans))
		}
	})

	t.Run("nobody waits behind an endpoint slower than the wait", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.started(key)
		w.done(key, 3*time.Second, true, true, t0)
		if w.enqueue(key, waiterFor("d1", t0)) {
			t.Fatal("a job waits behind attempts that take 3s")
		}
	})

	t.Run("waits end at maxWait", func(t *testing.T) {
		w := newWaiting(time.Second)
		w.started(key)
		w.done(key, time.Millisecond, true, true, t0)
		w.started(key)
		w.enqueue(key, waiterFor("old", t0))
		w.enqueue(key, waiterFor("new", t0.Add(500*time.Millisecond)))
		if got := ids(w.expired(t0.Add(time.Second))); len(got) != 1 || got[0] != "old" {
			t.Fatalf("expired = %v, want [old]", got)
		}
		if got := ids(w.close()); len(got) != 1 || got[0] != "new" {
			t.Fatalf("close = %v, want [new]", got)
		}
		if w.enqueue(key, waiterFor("late", t0)) {
			t.Fatal("enqueue after close")
		}
		if next, _ := w.done(key, time.Millisecond, true, true, t0); next != nil {
			t.Fatal("a slot passed after close")
		}
	})
}

// outcomes counts the deliverer's decisions.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) Attempt(string, int, time.Duration) {}
func (o *outcomes) Delivered(time.Duration)            {}
func (o *outcomes) Outcome(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[outcome]++
}

func (o *outcomes) get(outcome string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[outcome]
}

// receiver counts each delivery id it is sent, after calling hold.
type receiver struct {
	mu   sync.Mutex
	seen map[string]int
	hold func()
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.hold != nil {
		r.hold()
	}
	r.mu.Lock()
	r.seen[req.Header.Get("webhook-id")]++
	r.mu.Unlock()
}

func (r *receiver) count() (distinct, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.seen {
		total += n
	}
	return len(r.seen), total
}

// deliveryRig is a deliverer on a real JetStream and in-process state,
// with one webhook pointing at rcv.
type deliveryRig struct {
	n     *testenv.NATS
	hook  *webhook.Webhook
	count *outcomes
	d     *Deliverer
}

// startRig starts it with the shared state st (nil: in-process).
func startRig(t *testing.T, rcv http.Handler, st state.State, cfg Config) *deliveryRig {
	t.Helper()
	ctx := t.Context()
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	n := testenv.StartNATS(t, 1)
	kv, box := n.Registry(t)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	hook, _, err := store.Create(ctx, &webhook.Webhook{
		CompanyID: testenv.ID("co"), Name: "line", URL: srv.URL, Enabled: true, Events: []string{"TODO_CREATED"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return runRig(t, n, hook, st, cfg)
}

// runRig starts a deliverer on n, whose registry holds hook.
func runRig(t *testing.T, n *testenv.NATS, hook *webhook.Webhook, st state.State, cfg Config) *deliveryRig {
	t.Helper()
	kv, box := n.Registry(t)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	cache := registry.NewCache(kv, registry.CacheConfig{Box: box})
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = cache.Run(runCtx) })
	<-cache.Ready()

	if st == nil {
		st = state.NewMemory(state.BreakerPolicy{})
	}
	rig := &deliveryRig{n: n, hook: hook, count: &outcomes{}}
	cfg.Shards, cfg.Metrics = 1, rig.count
	cfg.Timeout = 10 * time.Second
	cfg.Policy = retry.Policy{Delays: []time.Duration{time.Second}}
	d, err := New(Deps{
		JS: n.JS, Resolver: cache, Registry: store, State: st,
		Client: NewClient(ClientConfig{Timeout: cfg.Timeout, MaxConns: 64}),
	}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rig.d = d
	wg.Go(func() { _ = d.Run(runCtx) })
	t.Cleanup(func() { stop(); wg.Wait() })
	return rig
}

// publish sends count first attempts of new deliveries to the rig's webhook.
func (r *deliveryRig) publish(t *testing.T, prefix string, count int) {
	t.Helper()
	for i := range count {
		eventID := prefix + strconv.Itoa(i)
		j := job.Job{
			DeliveryID: job.DeliveryID(eventID, r.hook.ID, time.Now()), CompanyID: r.hook.CompanyID,
			WebhookID: r.hook.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
		}
		if _, err := r.n.JS.PublishMsg(t.Context(), j.Msg(stream.DeliverySubject(r.hook.ID, 1))); err != nil {
			t.Fatal(err)
		}
	}
}

// allAcked waits until DELIVERIES, a work queue, holds no job: each was
// acked, none is left to be delivered again, so the receiver's counts are
// final.
func (r *deliveryRig) allAcked(t *testing.T) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, func() bool { return r.n.StreamState(t, stream.Deliveries).Msgs == 0 }, "every job acked")
}

// Jobs that find their endpoint at its in-flight cap wait for a slot of
// ours instead of going back to JetStream: a burst of 400 jobs to an
// endpoint taking 4 at a time is delivered exactly once each, with few
// handed back. Each slot serves 100 jobs in a row, past maxPasses, so the
// chains renew their slots (Deliverer.renew): ended at maxPasses instead,
// each chain left its slot unused while the line waited, and the jobs
// still waiting when the last chain ended went back (140 of the 400).
func TestJobsWaitForTheirEndpointsSlot(t *testing.T) {
	for name, newState := range map[string]func() state.State{
		"memory": func() state.State { return nil },
		"redis": func() state.State {
			return state.NewRedis(testenv.Redis(t), testenv.ID("wait:")+":", state.BreakerPolicy{})
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := newState()
			rcv := &receiver{seen: map[string]int{}, hold: func() { time.Sleep(2 * time.Millisecond) }} // the endpoint's latency
			rig := startRig(t, rcv, st, Config{EndpointConcurrency: 4, SlotWait: 2 * time.Second})

			// A latency for the line's estimate, from enough attempts that the
			// first (a new connection, slow under -race) weighs little in it.
			rig.publish(t, "evt_warm", 20)
			testenv.Eventually(t, 10*time.Second, func() bool { d, _ := rcv.count(); return d == 20 }, "warm-up deliveries")
			warmBack := rig.count.get(attempt.HandedBack)
			// The warm-up's leases linger out (defaultLinger), so the burst's
			// chains start afresh.
			testenv.Eventually(t, 5*time.Second, func() bool {
				rig.d.waiting.mu.Lock()
				defer rig.d.waiting.mu.Unlock()
				return len(rig.d.waiting.lingering) == 0
			}, "the warm-up's idle leases given back")
			rig.publish(t, "evt_burst", 400)
			testenv.Eventually(t, 30*time.Second, func() bool { d, _ := rcv.count(); return d == 420 }, "420 deliveries")
			rig.allAcked(t)
			if d, total := rcv.count(); total != d {
				t.Errorf("%d deliveries for %d delivery ids: duplicates", total, d)
			}
			if got := rig.count.get(attempt.Delivered); got != 420 {
				t.Errorf("delivered outcomes = %d, want 420", got)
			}
			hb := rig.count.get(attempt.HandedBack) - warmBack
			t.Logf("%d of the burst's 400 jobs handed back", hb)
			if hb >= 40 {
				t.Errorf("%d jobs handed back for 400 (cap 4); want under a tenth", hb)
			}
		})
	}
}

// Nobody waits long behind an endpoint that hangs: the one job allowed to
// wait (no latency known yet) goes back after SlotWait, the others at
// once, and all are delivered, once, when the endpoint answers again.
func TestWaitingEndsBehindAHangingEndpoint(t *testing.T) {
	release := make(chan struct{})
	var hanging atomic.Bool
	hanging.Store(true)
	rcv := &receiver{seen: map[string]int{}, hold: func() {
		if hanging.Load() {
			<-release
		}
	}}
	rig := startRig(t, rcv, nil, Config{EndpointConcurrency: 1, SlotWait: 300 * time.Millisecond})

	rig.publish(t, "evt_hang", 4)
	// One attempt hangs; the other three go back and come back, again and
	// again, the one that waited included (after SlotWait).
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.count.get(attempt.HandedBack) >= 6 }, "jobs handed back while the endpoint hangs")
	hanging.Store(false)
	close(release)
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d == 4 }, "4 deliveries once the endpoint answers")
	rig.allAcked(t)
	if d, total := rcv.count(); total != d {
		t.Errorf("%d deliveries for %d delivery ids: duplicates", total, d)
	}
}

// With a rate limit, a job the slot passes to still takes a rate token;
// one that gets none goes back, and every job is delivered once.
func TestWaitingWithARateLimit(t *testing.T) {
	rcv := &receiver{seen: map[string]int{}, hold: func() { time.Sleep(2 * time.Millisecond) }} // the endpoint's latency
	rig := startRig(t, rcv, nil, Config{EndpointConcurrency: 2, EndpointRate: 100, EndpointBurst: 5})

	rig.publish(t, "evt_rate", 60)
	testenv.Eventually(t, 30*time.Second, func() bool { d, _ := rcv.count(); return d == 60 }, "60 deliveries")
	rig.allAcked(t)
	if d, total := rcv.count(); total != d {
		t.Errorf("%d deliveries for %d delivery ids: duplicates", total, d)
	}
	if got := rig.count.get(attempt.Delivered); got != 60 {
		t.Errorf("delivered outcomes = %d, want 60", got)
	}
}
