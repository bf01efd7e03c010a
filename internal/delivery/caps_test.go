package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// The tests of this file check a webhook's own rateLimit and maxConcurrency
// where they matter: across deliverer replicas. Each replica is what a
// separate deliverer process has: its own NATS connection, registry cache
// and Redis client (on one key prefix), consuming the same shards.

const capShards = 4

// replicas is a DELIVERIES stream, the registry, and the deliverers.
type replicas struct {
	n       *testenv.NATS
	store   *registry.Store
	company string
	caches  []*registry.Cache
	ds      []*delivery.Deliverer
	tallies []*tally
}

// tally counts one replica's outcomes.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *tally) Attempt(string, int, time.Duration) {}
func (c *tally) Delivered(time.Duration)            {}
func (c *tally) Outcome(outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[outcome]++
}

// busy is how many replicas have decided the outcome of a job.
func (r *replicas) busy() int {
	n := 0
	for _, c := range r.tallies {
		c.mu.Lock()
		if len(c.n) > 0 {
			n++
		}
		c.mu.Unlock()
	}
	return n
}

// startReplicas starts count deliverers with cfg; they stop when the test
// ends. Webhooks added later are seen once sync returns.
func startReplicas(t *testing.T, count int, cfg delivery.Config) *replicas {
	t.Helper()
	n := testenv.StartNATS(t, capShards)
	kv, box := n.Registry(t)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	r := &replicas{n: n, store: store, company: testenv.ID("co")}
	prefix := testenv.ID("caps") + ":"
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	for i := range count {
		nc, err := nats.Connect(n.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		rkv, err := js.KeyValue(t.Context(), stream.Registry)
		if err != nil {
			t.Fatal(err)
		}
		cache := registry.NewCache(rkv, registry.CacheConfig{Box: box})
		wg.Go(func() { _ = cache.Run(runCtx) })
		<-cache.Ready()
		c := cfg
		c.Shards, c.Timeout = capShards, 10*time.Second
		c.Policy = retry.Policy{Delays: []time.Duration{time.Second}}
		c.PullBatch = 2 // small batches spread one webhook's jobs over the replicas
		c.UserAgent = "replica-" + strconv.Itoa(i)
		c.Metrics = &tally{}
		d, err := delivery.New(delivery.Deps{
			JS: js, Resolver: cache, Registry: store,
			State:  state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{}),
			Client: delivery.NewClient(delivery.ClientConfig{Timeout: c.Timeout, MaxConns: 256}),
		}, c)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = d.Run(runCtx) })
		r.caches, r.ds, r.tallies = append(r.caches, cache), append(r.ds, d), append(r.tallies, c.Metrics.(*tally))
	}
	return r
}

// hook stores a webhook pointing at e, as given: the store does not
// validate, so a value above a ceiling can be stored, as it would have been
// before the ceiling was lowered.
func (r *replicas) hook(t *testing.T, e *endpoint, rate float64, conc int) *webhook.Webhook {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	w, _, err := r.store.Create(t.Context(), &webhook.Webhook{
		CompanyID: r.company, Name: "caps", URL: srv.URL, Enabled: true,
		RateLimit: rate, MaxConcurrency: conc,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// sync returns once every replica's cache has seen the registry's writes.
func (r *replicas) sync(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, c := range r.caches {
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *replicas) newJob(w *webhook.Webhook, eventID string) *job.Job {
	return &job.Job{
		DeliveryID: job.DeliveryID(eventID, w.ID, time.Now()), CompanyID: w.CompanyID,
		WebhookID: w.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
	}
}

// publish stores count first attempts for w in its DELIVERIES shard.
func (r *replicas) publish(t *testing.T, w *webhook.Webhook, count int) {
	t.Helper()
	for i := range count {
		j := r.newJob(w, fmt.Sprintf("evt_%s_%d", w.ID, i))
		if _, err := r.n.JS.PublishMsg(t.Context(), j.Msg(stream.DeliverySubject(w.ID, capShards))); err != nil {
			t.Fatal(err)
		}
	}
}

// endpoint is a customer's endpoint that takes hold to answer and records
// each request's arrival, who sent it, and how many were in flight at once.
type endpoint struct {
	hold time.Duration

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	arrivals    []time.Time
	seen        map[string]int // delivery id -> requests
	senders     map[string]int // User-Agent (the replica) -> requests
}

func (e *endpoint) ServeHTTP(_ http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.inFlight++
	e.maxInFlight = max(e.maxInFlight, e.inFlight)
	e.arrivals = append(e.arrivals, time.Now())
	if e.seen == nil {
		e.seen, e.senders = map[string]int{}, map[string]int{}
	}
	e.seen[r.Header.Get("webhook-id")]++
	e.senders[r.UserAgent()]++
	e.mu.Unlock()
	time.Sleep(e.hold) // the endpoint's latency
	e.mu.Lock()
	e.inFlight--
	e.mu.Unlock()
}

// delivered is how many distinct deliveries arrived.
func (e *endpoint) delivered() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

// stats returns the most requests seen in flight at once, the number of
// replicas that sent requests, and the arrival times in order.
func (e *endpoint) stats() (maxInFlight, senders int, arrivals []time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	arrivals = slices.Clone(e.arrivals)
	slices.SortFunc(arrivals, time.Time.Compare)
	return e.maxInFlight, len(e.senders), arrivals
}

// checkRate fails unless the arrivals kept to rate and burst over every
// window between two of them, and came at more than half the rate over
// the whole run. slack widens each window for the time between taking a
// token and the request's arrival, which varies on a loaded machine.
func checkRate(t *testing.T, arrivals []time.Time, rate float64, burst int) {
	t.Helper()
	const slack = time.Second
	for i := range arrivals {
		for j := i + burst; j < len(arrivals); j++ {
			window := arrivals[j].Sub(arrivals[i])
			if n := j - i + 1; float64(n) > rate*(window+slack).Seconds()+float64(burst) {
				t.Fatalf("%d deliveries within %s: more than %v/s with a burst of %d allows (%s of slack)", n, window, rate, burst, slack)
			}
		}
	}
	all := arrivals[len(arrivals)-1].Sub(arrivals[0])
	if got := float64(len(arrivals)) / all.Seconds(); got <= rate/2 {
		t.Errorf("%d deliveries in %s: %.1f/s, under half the rate of %v/s", len(arrivals), all, got, rate)
	}
	t.Logf("%d deliveries in %s (%.1f/s; limit %v/s, burst %d)", len(arrivals), all, float64(len(arrivals))/all.Seconds(), rate, burst)
}

// A webhook's maxConcurrency holds across replicas: three deliverers whose
// process-wide cap is 32 never have more than 2 attempts in flight to it
// together, and do reach 2. A webhook without the field gets the default.
func TestMaxConcurrencyAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 3, delivery.Config{EndpointConcurrency: 32})
	capped, free := &endpoint{hold: 50 * time.Millisecond}, &endpoint{hold: 50 * time.Millisecond}
	cw, fw := r.hook(t, capped, 0, 2), r.hook(t, free, 0, 0)
	r.sync(t)
	const jobs = 40
	r.publish(t, cw, jobs)
	testenv.Eventually(t, 60*time.Second, func() bool { return capped.delivered() == jobs }, "%d deliveries to the capped webhook", jobs)
	most, senders, _ := capped.stats()
	t.Logf("maxConcurrency 2: at most %d in flight; %d replicas sent, %d took jobs", most, senders, r.busy())
	if most > 2 {
		t.Errorf("%d attempts in flight at once to a webhook with maxConcurrency 2", most)
	}
	if most < 2 {
		t.Errorf("at most %d attempt in flight; the cap of 2 was never reached", most)
	}
	// The replica holding the slots passes them from job to job, so one
	// may send them all; the others took jobs and found the cap.
	if r.busy() < 2 {
		t.Errorf("only %d replica took the capped webhook's jobs: the cap was not shared", r.busy())
	}

	r.publish(t, fw, jobs)
	testenv.Eventually(t, 60*time.Second, func() bool { return free.delivered() == jobs }, "%d deliveries to the webhook without a cap", jobs)
	if most, _, _ := free.stats(); most <= 2 {
		t.Errorf("the webhook without maxConcurrency had at most %d in flight; the default of 32 should allow more", most)
	}
}

// A webhook's rateLimit holds across replicas: 80 jobs to a webhook with
// rateLimit 20 (burst 20) through three deliverers with no process-wide
// rate arrive within the rate, and not starved.
func TestRateLimitAcrossReplicas(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 3, delivery.Config{})
	e := &endpoint{}
	w := r.hook(t, e, 20, 0)
	r.sync(t)
	const jobs = 80
	r.publish(t, w, jobs)
	testenv.Eventually(t, 60*time.Second, func() bool { return e.delivered() == jobs }, "%d deliveries", jobs)
	_, senders, arrivals := e.stats()
	checkRate(t, arrivals, 20, 20)
	if senders < 2 {
		t.Errorf("only %d replica delivered: the limit was not shared", senders)
	}
}

// The process-wide caps are ceilings: webhooks stored with values above
// them (before the ceilings were lowered, say) are delivered at the
// ceilings, across replicas.
func TestCapsClampedToCeilings(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 2, delivery.Config{EndpointConcurrency: 3, EndpointRate: 10})
	// The rate ceiling applies to the concurrency one too: 12 jobs, the
	// first 10 on the burst, each held long enough to overlap.
	conc, fast := &endpoint{hold: 200 * time.Millisecond}, &endpoint{}
	cw, fw := r.hook(t, conc, 0, 50), r.hook(t, fast, 1000, 0)
	r.sync(t)
	r.publish(t, cw, 12)
	r.publish(t, fw, 40)
	testenv.Eventually(t, 60*time.Second, func() bool { return conc.delivered() == 12 && fast.delivered() == 40 }, "every delivery")

	if most, _, _ := conc.stats(); most != 3 {
		t.Errorf("maxConcurrency 50 under a ceiling of 3: at most %d in flight, want 3", most)
	}
	_, _, arrivals := fast.stats()
	checkRate(t, arrivals, 10, 10) // the burst of the clamped rate
}

// A job the dispatcher hands over (Take) goes through the same caps: with
// the webhook's maxConcurrency 1 under a process-wide 32, of three jobs
// one runs, one waits for its slot, and the third is stored in its shard.
func TestHandedOverJobsKeepToTheWebhooksCap(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 1, delivery.Config{EndpointConcurrency: 32, SlotWait: 5 * time.Second})
	release := make(chan struct{})
	e := &endpoint{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-release
		e.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before srv.Close, which waits for the handlers
	w, _, err := r.store.Create(t.Context(), &webhook.Webhook{CompanyID: r.company, Name: "take", URL: srv.URL, Enabled: true, MaxConcurrency: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	r.sync(t)
	var mu sync.Mutex
	settled := 0
	take := func(id string) bool {
		j := r.newJob(w, id)
		msg := j.Msg(stream.DeliverySubject(w.ID, capShards))
		msg.Header[jetstream.MsgIDHeader] = []string{id + "." + w.ID}
		return r.ds[0].Take(j, msg, func(error) { mu.Lock(); settled++; mu.Unlock() })
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return take("evt_take_0") }, "Take to start a job once the deliverer runs")
	for _, id := range []string{"evt_take_1", "evt_take_2"} {
		if !take(id) {
			t.Fatalf("Take refused %s", id)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return r.n.StreamState(t, stream.Deliveries).LastSeq == 1 }, "one handed-over job stored in its shard")
	unblock()
	testenv.Eventually(t, 20*time.Second, func() bool { return e.delivered() == 3 }, "3 deliveries")
	testenv.Eventually(t, 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return settled == 3 }, "3 jobs settled")
	if n := r.n.StreamState(t, stream.Deliveries).LastSeq; n != 1 {
		t.Errorf("DELIVERIES stored %d jobs, want 1", n)
	}
}
