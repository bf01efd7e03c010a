package delivery_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// The tests of this file each guard one delivery feature by what is seen
// from outside the deliverer (the receiver, the streams, the shared
// state): removing the feature makes them fail.

// soloRig is one deliverer on one shard, with one webhook pointing at its
// receiver, whose Run the test may end (stop) before the test does.
type soloRig struct {
	n     *testenv.NATS
	store *registry.Store
	cache *registry.Cache
	hook  *webhook.Webhook
	tally *tally
	stop  context.CancelFunc
	done  chan struct{} // closed when Run has returned
}

// startSolo starts the rig with the shared state st and cfg (Shards,
// Timeout and Metrics are set here; a nil Policy.Delays is one retry after
// a second).
func startSolo(t *testing.T, rcv http.Handler, st state.State, cfg delivery.Config) *soloRig {
	t.Helper()
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	n := testenv.StartNATS(t, 1)
	kv, box := n.Registry(t)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	hook, _, err := store.Create(t.Context(), &webhook.Webhook{
		CompanyID: testenv.ID("co"), Name: "solo", URL: srv.URL, Enabled: true,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	cache := registry.NewCache(kv, registry.CacheConfig{Box: box})
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = cache.Run(runCtx) })
	<-cache.Ready()

	r := &soloRig{n: n, store: store, cache: cache, hook: hook, tally: &tally{}, stop: stop, done: make(chan struct{})}
	cfg.Shards, cfg.Timeout, cfg.Metrics = 1, 10*time.Second, r.tally
	if cfg.Policy.Delays == nil {
		cfg.Policy = retry.Policy{Delays: []time.Duration{time.Second}}
	}
	d, err := delivery.New(delivery.Deps{
		JS: n.JS, Resolver: cache, Registry: store, State: st,
		Client: delivery.NewClient(delivery.ClientConfig{Timeout: cfg.Timeout, MaxConns: 64}),
	}, cfg)
	if err != nil {
		stop()
		wg.Wait()
		t.Fatal(err)
	}
	wg.Go(func() { _ = d.Run(runCtx); close(r.done) })
	t.Cleanup(func() { stop(); wg.Wait() })
	return r
}

// webhook reads the rig's webhook from the registry.
func (r *soloRig) webhook(t *testing.T) *webhook.Webhook {
	t.Helper()
	w, err := r.store.Get(t.Context(), r.hook.CompanyID, r.hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// publish stores count first attempts of new deliveries and returns
// their delivery ids.
func (r *soloRig) publish(t *testing.T, prefix string, count int) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for i := range count {
		eventID := prefix + "_" + string(rune('a'+i))
		j := job.Job{
			DeliveryID: job.DeliveryID(eventID, r.hook.ID, time.Now()), CompanyID: r.hook.CompanyID,
			WebhookID: r.hook.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
		}
		if _, err := r.n.JS.PublishMsg(t.Context(), j.Msg(stream.DeliverySubject(r.hook.ID, 1))); err != nil {
			t.Fatal(err)
		}
		ids[j.DeliveryID] = true
	}
	return ids
}

func (c *tally) get(outcome string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[outcome]
}

// arrival is one request a recorder received.
type arrival struct {
	id string // webhook-id: the delivery id
	at time.Time
}

// recorder is an endpoint that answers with what status says (200 when
// nil; it may set response headers, and is called under mu) after hold,
// and records each request's arrival and whether its answer was written
// in full or the request was cancelled before.
type recorder struct {
	hold   time.Duration
	status func(h http.Header) int

	mu        sync.Mutex
	arrived   []arrival
	completed map[string]int // delivery id -> answers written
	aborted   map[string]int // delivery id -> requests the client gave up during hold
}

func (e *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("webhook-id")
	e.mu.Lock()
	e.arrived = append(e.arrived, arrival{id: id, at: time.Now()})
	e.mu.Unlock()
	if e.hold > 0 {
		// The endpoint's latency, cut short if the deliverer gives up.
		timer := time.NewTimer(e.hold)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			e.mu.Lock()
			e.aborted[id]++
			e.mu.Unlock()
			return
		}
	}
	code := http.StatusOK
	e.mu.Lock()
	if e.status != nil {
		code = e.status(w.Header())
	}
	e.mu.Unlock()
	w.WriteHeader(code)
	w.(http.Flusher).Flush()
	e.mu.Lock()
	e.completed[id]++
	e.mu.Unlock()
}

func newRecorder(hold time.Duration) *recorder {
	return &recorder{hold: hold, completed: map[string]int{}, aborted: map[string]int{}}
}

func (e *recorder) arrivals() []arrival {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]arrival(nil), e.arrived...)
}

// of is how many requests arrived for the delivery ids in ids.
func (e *recorder) of(ids map[string]bool) int {
	n := 0
	for _, a := range e.arrivals() {
		if ids[a.id] {
			n++
		}
	}
	return n
}

// Config.EndpointRate is the rate of a webhook without its own rateLimit,
// across replicas: 40 jobs to such a webhook through two deliverers
// arrive within 10/s (burst 10), and at more than half of it.
func TestEndpointRateIsTheDefaultRate(t *testing.T) {
	t.Parallel()
	r := startReplicas(t, 2, delivery.Config{EndpointRate: 10})
	e := &endpoint{}
	w := r.hook(t, e, 0, 0)
	r.sync(t)
	const jobs = 40
	r.publish(t, w, jobs)
	testenv.Eventually(t, 60*time.Second, func() bool { return e.delivered() == jobs }, "%d deliveries", jobs)
	_, _, arrivals := e.stats()
	checkRate(t, arrivals, 10, 10)
}

// Stopping the deliverer lets the attempts in flight finish: each answer
// is read to its end (the receiver wrote it whole, nothing was cancelled)
// and its job acked (DELIVERIES, a work queue, is empty), so nothing is
// delivered again.
func TestStopLetsAttemptsInFlightComplete(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(time.Second)
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{}), delivery.Config{})
	const jobs = 5
	ids := rig.publish(t, "evt_stop", jobs)
	testenv.Eventually(t, 10*time.Second, func() bool { return rcv.of(ids) == jobs }, "%d attempts under way", jobs)
	rig.stop()
	select {
	case <-rig.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return within 20 s of its context ending")
	}
	rcv.mu.Lock()
	completed, aborted := len(rcv.completed), len(rcv.aborted)
	for id, n := range rcv.completed {
		if n != 1 {
			t.Errorf("delivery %s answered %d times", id, n)
		}
	}
	rcv.mu.Unlock()
	if completed != jobs || aborted != 0 {
		t.Errorf("of %d attempts in flight at stop, %d completed and %d were cancelled; want all completed", jobs, completed, aborted)
	}
	// DELIVERIES is a work queue: an acked job leaves it, a job handed back
	// stays for another deliverer.
	testenv.Eventually(t, 5*time.Second, func() bool { return rig.n.StreamState(t, stream.Deliveries).Msgs == 0 }, "DELIVERIES empty after stop: every completed attempt's job acked")
	if got := rig.tally.get(attempt.Delivered); got != jobs {
		t.Errorf("delivered outcomes = %d, want %d", got, jobs)
	}
}

// An endpoint whose circuit opened gets no attempt while it is open: its
// jobs are deferred (not attempted, not counted as attempts) and come
// back, and are delivered, once it may close.
func TestOpenCircuitDefersJobs(t *testing.T) {
	t.Parallel()
	st := state.NewMemory(state.BreakerPolicy{Threshold: 2, BaseOpen: 3 * time.Second})
	failing := true
	rcv := newRecorder(0)
	rcv.status = func(http.Header) int { // called under rcv.mu
		if failing {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	// No retries: a failed job goes to DEAD and stays out of the way.
	rig := startSolo(t, rcv, st, delivery.Config{Policy: retry.Policy{Delays: []time.Duration{}}})

	failed := rig.publish(t, "evt_fail", 2)
	var openUntil time.Time
	testenv.Eventually(t, 10*time.Second, func() bool {
		h, err := st.Health(t.Context(), rig.hook.ID)
		openUntil = h.OpenUntil
		return err == nil && rcv.of(failed) == 2 && openUntil.After(time.Now())
	}, "2 failed attempts opening the circuit")
	rcv.mu.Lock()
	failing = false
	rcv.mu.Unlock()

	held := rig.publish(t, "evt_held", 3)
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Deferred) >= 3 }, "3 jobs deferred by the open circuit")
	if n := rcv.of(held); n != 0 && time.Now().Before(openUntil) {
		t.Fatalf("%d attempts reached the endpoint while its circuit was open", n)
	}
	// Held until the circuit may close; one is released as the probe, the
	// rest when it succeeded.
	testenv.Eventually(t, 40*time.Second, func() bool { return rcv.of(held) == 3 }, "3 deferred jobs delivered once the circuit may close")
	for _, a := range rcv.arrivals() {
		if held[a.id] && a.at.Before(openUntil) {
			t.Errorf("delivery %s arrived %s before the circuit could close", a.id, openUntil.Sub(a.at))
		}
	}
	// The receiver counts a request before the deliverer has its response.
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Delivered) == 3 }, "3 delivered outcomes")
}

// Retry-After on a failure sets the delay of the next attempt instead of
// the schedule: a 503 asking for 4 s is retried about 4 s later, not after
// the schedule's 1 s.
func TestRetryAfterSetsTheNextAttempt(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(0)
	first := true
	rcv.status = func(h http.Header) int { // called under rcv.mu
		if first {
			first = false
			h.Set("Retry-After", "4")
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{}), delivery.Config{Policy: retry.Policy{Delays: []time.Duration{time.Second}}})
	rig.publish(t, "evt_later", 1)
	testenv.Eventually(t, 20*time.Second, func() bool { return rig.tally.get(attempt.Delivered) == 1 }, "the retry delivered")
	got := rcv.arrivals()
	if len(got) != 2 {
		t.Fatalf("%d attempts, want 2", len(got))
	}
	// The schedule's 1 s, rounded up to the next whole second, is under 2 s.
	if gap := got[1].at.Sub(got[0].at); gap < 3500*time.Millisecond {
		t.Errorf("retry came %s after a 503 with Retry-After: 4; want about 4 s", gap)
	}
}

// 410 Gone disables the webhook at once and parks the job in DEAD; a job
// that comes while the webhook is disabled is parked too, never attempted.
func TestGoneDisablesAndParks(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(0)
	rcv.status = func(http.Header) int { return http.StatusGone }
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{}), delivery.Config{})
	rig.publish(t, "evt_gone", 1)
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Parked) == 1 }, "the job parked after 410")
	if w := rig.webhook(t); w.Enabled {
		t.Fatal("webhook still enabled after its endpoint answered 410")
	}
	if n := rig.n.StreamState(t, stream.Dead).Msgs; n != 1 {
		t.Errorf("DEAD holds %d jobs after 410, want 1", n)
	}
	if n := len(rcv.arrivals()); n != 1 {
		t.Errorf("%d attempts for a 410, want 1 (no retry)", n)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := rig.cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	rig.publish(t, "evt_parked", 1)
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Parked) == 2 }, "the job for a disabled webhook parked")
	if n := len(rcv.arrivals()); n != 1 {
		t.Errorf("%d attempts, want 1: a job for a disabled webhook was attempted", n)
	}
	if n := rig.n.StreamState(t, stream.Dead).Msgs; n != 2 {
		t.Errorf("DEAD holds %d jobs, want 2", n)
	}
}

// An endpoint failing for longer than DisableAfter is disabled (after
// UnhealthyAfter failures it shows UNHEALTHY), and its job parked.
func TestFailingTooLongDisables(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(0)
	rcv.status = func(http.Header) int { return http.StatusInternalServerError }
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{Threshold: 100}), delivery.Config{
		UnhealthyAfter: 1, DisableAfter: 1500 * time.Millisecond,
		Policy: retry.Policy{Delays: []time.Duration{time.Second, time.Second, time.Second, time.Second}},
	})
	rig.publish(t, "evt_broken", 1)
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.webhook(t).Status == webhook.StatusUnhealthy }, "UNHEALTHY after a failure")
	testenv.Eventually(t, 20*time.Second, func() bool { return !rig.webhook(t).Enabled }, "disabled after failing for DisableAfter")
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Parked) == 1 }, "the job parked")
	if n := len(rcv.arrivals()); n < 2 {
		t.Errorf("disabled after %d attempt(s); the failing streak must span DisableAfter", n)
	}
	if n := rig.tally.get(attempt.Dead); n != 0 {
		t.Errorf("%d jobs dead-lettered, want the job parked before its attempts ran out", n)
	}
}

// The delivery client runs the SSRF guard at dial time, after DNS: a
// request to a loopback receiver is refused before it connects (a name
// passes the create-time check, so only the dial can catch what it
// resolves to), unless the allow-list admits loopback.
func TestClientGuardsEveryDial(t *testing.T) {
	t.Parallel()
	var hits sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { hits.Store(r.URL.Path, true) }))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		allow   []netip.Prefix
		host    string
		allowed bool
	}{
		{name: "loopback address", host: "127.0.0.1"},
		{name: "name resolving to loopback", host: "localhost"},
		{name: "loopback on the allow-list", allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, host: "localhost", allowed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := delivery.NewClient(delivery.ClientConfig{Timeout: 5 * time.Second, MaxConns: 4, Guard: netguard.New(tc.allow)})
			t.Cleanup(c.CloseIdleConnections)
			path := "/" + strings.ReplaceAll(tc.name, " ", "-")
			u := &url.URL{Scheme: "http", Host: net.JoinHostPort(tc.host, port), Path: path}
			resp, err := delivery.Post(t.Context(), c, u, http.Header{}, []byte(`{}`))
			if resp != nil {
				resp.Body.Close()
			}
			_, hit := hits.Load(path)
			switch {
			case tc.allowed && (err != nil || !hit):
				t.Fatalf("allowed: err %v, reached the receiver %v", err, hit)
			case !tc.allowed && (!errors.Is(err, netguard.ErrForbidden) || hit):
				t.Fatalf("err %v, reached the receiver %v; want netguard.ErrForbidden and no request", err, hit)
			}
		})
	}
}

// A job whose attempts are spent is copied to DEAD (where redeliver and
// recover find it), with its delivery id and body, and acked.
func TestExhaustedJobIsDeadLettered(t *testing.T) {
	t.Parallel()
	rcv := newRecorder(0)
	rcv.status = func(http.Header) int { return http.StatusInternalServerError }
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{}), delivery.Config{Policy: retry.Policy{Delays: []time.Duration{time.Second}}})
	ids := rig.publish(t, "evt_dead", 1)
	testenv.Eventually(t, 20*time.Second, func() bool { return rig.tally.get(attempt.Dead) == 1 }, "the job dead-lettered after 2 attempts")
	if n := rcv.of(ids); n != 2 {
		t.Errorf("%d attempts, want 2 (one retry)", n)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.n.StreamState(t, stream.Deliveries).Msgs == 0 }, "the job acked")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	dead, err := rig.n.JS.Stream(ctx, stream.Dead)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dead.GetLastMsgForSubject(ctx, "dead.>")
	if err != nil {
		t.Fatalf("DEAD holds no dead letter: %v", err)
	}
	j, err := job.FromMsg(m.Header, m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if !ids[j.DeliveryID] || string(j.Body) != `{}` || m.Header.Get(job.HeaderDeadReason) != "exhausted" {
		t.Errorf("dead letter %s (reason %q, body %s), want delivery %v, reason exhausted, body {}", j.DeliveryID, m.Header.Get(job.HeaderDeadReason), j.Body, ids)
	}
}

// An attempt's span continues the trace the job carries (the dispatcher's
// fan-out span, from its headers), and the receiver gets that trace in
// traceparent.
func TestTraceReachesTheReceiver(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider()
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	got := make(chan string, 1)
	rcv := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.Header.Get("traceparent"):
		default:
		}
	})
	rig := startSolo(t, rcv, state.NewMemory(state.BreakerPolicy{}), delivery.Config{Tracer: tp.Tracer("test"), SendTraceparent: true})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	j := job.Job{
		DeliveryID: job.DeliveryID("evt_traced", rig.hook.ID, time.Now()), CompanyID: rig.hook.CompanyID,
		WebhookID: rig.hook.ID, EventID: "evt_traced", EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
		Header: nats.Header{"traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}},
	}
	if _, err := rig.n.JS.PublishMsg(t.Context(), j.Msg(stream.DeliverySubject(rig.hook.ID, 1))); err != nil {
		t.Fatal(err)
	}
	select {
	case parent := <-got:
		parts := strings.Split(parent, "-")
		if len(parts) != 4 || parts[1] != traceID || parts[2] == "00f067aa0ba902b7" {
			t.Errorf("traceparent %q, want trace %s with the attempt's own span id", parent, traceID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery within 10 s")
	}
}
