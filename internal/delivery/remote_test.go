package delivery

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/handoff"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// dispatcherSide is what a dispatcher process has of the handoff: a
// connection of its own and a handoff.Client on it.
func dispatcherSide(t *testing.T, rig *deliveryRig, silence time.Duration) *handoff.Client {
	t.Helper()
	nc, err := nats.Connect(rig.n.URL)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(2*stream.Resend))
	if err != nil {
		t.Fatal(err)
	}
	c, err := handoff.NewClient(nc, handoff.Config{Publisher: js, Silence: silence})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); nc.Close() })
	return c
}

// serveHandoffs runs the rig's deliverer's ServeHandoffs on a connection
// of its own, as a deliverer process does, until the test ends.
func serveHandoffs(t *testing.T, rig *deliveryRig) {
	t.Helper()
	nc, err := nats.Connect(rig.n.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := rig.d.ServeHandoffs(ctx, nc); err != nil {
			t.Errorf("ServeHandoffs: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait(); nc.Close() })
	// Served once an offer reaches it: until then they are refused (no
	// responders) and stored.
	probe, err := nats.Connect(rig.n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	testenv.Eventually(t, 10*time.Second, func() bool {
		_, err := probe.Request(handoff.Subject, nil, time.Second)
		return !errors.Is(err, nats.ErrNoResponders)
	}, "the deliverer to listen for offers")
}

// offer hands eventID's first attempt to c as the dispatcher would.
func (r *deliveryRig) offer(c *handoff.Client, eventID string, s *settlements) bool {
	j := &job.Job{
		DeliveryID: job.DeliveryID(eventID, r.hook.ID, time.Now()), CompanyID: r.hook.CompanyID,
		WebhookID: r.hook.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
	}
	msg := j.Msg(stream.DeliverySubject(r.hook.ID, 1))
	msg.Header[jetstream.MsgIDHeader] = []string{eventID + "." + r.hook.ID}
	return c.Take(j, msg, s.settle(j.DeliveryID))
}

// Jobs a dispatcher in another process offers over NATS are delivered by
// the deliverer without being stored in DELIVERIES: each once, each
// settled once. One whose attempt outlasts the silence limit is not
// given up on: the deliverer reports it working.
func TestOfferedJobsSkipTheStream(t *testing.T) {
	rcv := &receiver{seen: map[string]int{}, hold: func() { time.Sleep(2 * time.Millisecond) }} // the endpoint's latency
	rig := startRig(t, rcv, nil, Config{EndpointConcurrency: 128, Heartbeat: 200 * time.Millisecond})
	serveHandoffs(t, rig)
	c := dispatcherSide(t, rig, time.Second)
	var s settlements
	for i := range 100 {
		if !rig.offer(c, "evt_offer"+strconv.Itoa(i), &s) {
			t.Fatalf("offer %d not sent", i)
		}
	}
	testenv.Eventually(t, 20*time.Second, func() bool { ok, _, _ := s.count(); return ok == 100 }, "100 jobs settled")
	if d, total := rcv.count(); d != 100 || total != 100 {
		t.Errorf("receiver got %d deliveries of %d ids, want 100 of 100", total, d)
	}
	if ok, failed, twice := s.count(); ok != 100 || failed != 0 || twice != 0 {
		t.Errorf("settled: %d ok, %d failed, %d twice; want 100, 0, 0", ok, failed, twice)
	}
	if n := rig.stored(t); n != 0 {
		t.Errorf("DELIVERIES stored %d messages; offered jobs the deliverer took should not be stored", n)
	}

	// A slow attempt, three times the silence limit.
	rcv.mu.Lock()
	rcv.hold = func() { time.Sleep(3 * time.Second) }
	rcv.mu.Unlock()
	var slow settlements
	if !rig.offer(c, "evt_slow", &slow) {
		t.Fatal("offer not sent")
	}
	testenv.Eventually(t, 20*time.Second, func() bool { ok, failed, _ := slow.count(); return ok+failed == 1 }, "the slow job settled")
	if ok, failed, _ := slow.count(); ok != 1 || failed != 0 {
		t.Errorf("the slow job settled %d ok, %d failed; want it delivered, not given up", ok, failed)
	}
}

// An offer no deliverer listens for is stored in DELIVERIES, with the
// dispatcher's Nats-Msg-Id, settled once stored, and delivered from its
// shard. An offer whose deliverer goes silent (it died) fails, so that
// its event is dispatched again.
func TestOffersNobodyTakes(t *testing.T) {
	rcv := &receiver{seen: map[string]int{}}
	rig := startRig(t, rcv, nil, Config{})
	c := dispatcherSide(t, rig, time.Second)
	var s settlements
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.offer(c, "evt_nobody", &s) }, "offer sent")
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _, _ := s.count(); return ok == 1 }, "the job settled once stored")
	if n := rig.stored(t); n != 1 {
		t.Fatalf("DELIVERIES stored %d messages, want the refused job", n)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d == 1 }, "the stored job delivered from its shard")

	// A deliverer that takes offers and never answers.
	mute, err := nats.Connect(rig.n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	if _, err := mute.QueueSubscribe(handoff.Subject, handoff.Queue, func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := mute.Flush(); err != nil {
		t.Fatal(err)
	}
	var lost settlements
	start := time.Now()
	if !rig.offer(c, "evt_mute", &lost) {
		t.Fatal("offer not sent")
	}
	testenv.Eventually(t, 10*time.Second, func() bool { _, failed, _ := lost.count(); return failed == 1 }, "the unanswered job failed")
	if waited := time.Since(start); waited < time.Second {
		t.Errorf("failed after %s, before the 1s silence limit", waited)
	}
	lost.mu.Lock()
	for _, errs := range lost.got {
		if !errors.Is(errs[0], handoff.ErrSilent) {
			t.Errorf("failed with %v, want handoff.ErrSilent", errs[0])
		}
	}
	lost.mu.Unlock()
}

// batchOffers makes n first attempts of the rig's webhook, for TakeBatch.
func (r *deliveryRig) batchOffers(prefix string, n int, s *settlements) []dispatch.Offer {
	offers := make([]dispatch.Offer, n)
	for i := range offers {
		eventID := prefix + strconv.Itoa(i)
		j := &job.Job{
			DeliveryID: job.DeliveryID(eventID, r.hook.ID, time.Now()), CompanyID: r.hook.CompanyID,
			WebhookID: r.hook.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
		}
		msg := j.Msg(stream.DeliverySubject(r.hook.ID, 1))
		msg.Header[jetstream.MsgIDHeader] = []string{eventID + "." + r.hook.ID}
		offers[i] = dispatch.Offer{Job: j, Msg: msg, Settle: s.settle(j.DeliveryID)}
	}
	return offers
}

// The jobs of one event offered together reach one deliverer in one
// message, and those it can start are delivered without being stored:
// each once, each settled once.
func TestOfferedBatches(t *testing.T) {
	rcv := &receiver{seen: map[string]int{}, hold: func() { time.Sleep(2 * time.Millisecond) }} // the endpoint's latency
	rig := startRig(t, rcv, nil, Config{EndpointConcurrency: 128, Heartbeat: 200 * time.Millisecond})
	serveHandoffs(t, rig)
	c := dispatcherSide(t, rig, time.Second)
	var s settlements
	if sent := c.TakeBatch(rig.batchOffers("evt_batch", 20, &s)); sent != 20 {
		t.Fatalf("TakeBatch sent %d of 20", sent)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { ok, _, _ := s.count(); return ok == 20 }, "20 jobs settled")
	if d, total := rcv.count(); d != 20 || total != 20 {
		t.Errorf("receiver got %d deliveries of %d ids, want 20 of 20", total, d)
	}
	if ok, failed, twice := s.count(); ok != 20 || failed != 0 || twice != 0 {
		t.Errorf("settled: %d ok, %d failed, %d twice; want 20, 0, 0", ok, failed, twice)
	}
	if n := rig.stored(t); n != 0 {
		t.Errorf("DELIVERIES stored %d messages; a batch the deliverer took whole should not be stored", n)
	}
}

// The jobs of a batch a deliverer cannot start (here: one attempt slot,
// taken by the first job) are refused and stored, settled once stored,
// and delivered from their shard: each once, each settled once.
func TestOfferedBatchesPartlyRefused(t *testing.T) {
	held := make(chan struct{})
	release := sync.OnceFunc(func() { close(held) })
	var first sync.Once
	rcv := &receiver{seen: map[string]int{}, hold: func() { first.Do(func() { <-held }) }}
	rig := startRig(t, rcv, nil, Config{MaxInFlight: 1, EndpointConcurrency: 128, Heartbeat: 200 * time.Millisecond})
	serveHandoffs(t, rig)
	c := dispatcherSide(t, rig, time.Second)
	defer release() // before the receiver stops, whatever failed
	var s settlements
	if sent := c.TakeBatch(rig.batchOffers("evt_part", 5, &s)); sent != 5 {
		t.Fatalf("TakeBatch sent %d of 5", sent)
	}
	// The first job holds the only slot: the other four are refused,
	// stored, and settled once stored.
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _, _ := s.count(); return ok == 4 }, "the 4 refused jobs settled")
	if n := rig.stored(t); n != 4 {
		t.Errorf("DELIVERIES stored %d messages, want the 4 refused jobs", n)
	}
	release()
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d == 5 }, "all 5 delivered")
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _, _ := s.count(); return ok == 5 }, "all 5 settled")
	if _, total := rcv.count(); total != 5 {
		t.Errorf("receiver got %d deliveries, want 5", total)
	}
	if ok, failed, twice := s.count(); ok != 5 || failed != 0 || twice != 0 {
		t.Errorf("settled: %d ok, %d failed, %d twice; want 5, 0, 0", ok, failed, twice)
	}
}

// A batch's Done comes once, after the last of its taken jobs settled,
// and lists the ones that failed with why.
func TestBatchAnswerListsFailures(t *testing.T) {
	n := testenv.StartNATS(t, 1)
	answers, err := n.Conn.SubscribeSync("answers.batch")
	if err != nil {
		t.Fatal(err)
	}
	b := &batchAnswer{answering: answering{nc: n.Conn, reply: "answers.batch"}, failed: make(map[int]string)}
	b.open.Store(3) // two jobs and the offer's hold
	first, second := b.settler(0), b.settler(2)
	first(errors.New("stream: no leader"))
	b.release(true)
	if m, err := answers.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("answered %q %q with a job still held", m.Header.Get(handoff.HeaderStatus), m.Data)
	}
	second(nil)
	m, err := answers.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if status := m.Header.Get(handoff.HeaderStatus); status != handoff.Done || string(m.Data) != "0 stream: no leader\n" {
		t.Errorf("answer %s %q, want done %q", status, m.Data, "0 stream: no leader\n")
	}
	if m, err := answers.NextMsg(100 * time.Millisecond); err == nil {
		t.Errorf("a second answer %q", m.Data)
	}
}
