package delivery

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// settlements records what Take's settle reports, per delivery id.
type settlements struct {
	mu  sync.Mutex
	got map[string][]error
}

func (s *settlements) settle(id string) func(error) {
	return func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.got == nil {
			s.got = map[string][]error{}
		}
		s.got[id] = append(s.got[id], err)
	}
}

// count returns the jobs settled once with nil, those settled with an
// error, and those settled more than once.
func (s *settlements) count() (ok, failed, twice int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, errs := range s.got {
		switch {
		case len(errs) > 1:
			twice++
		case errs[0] == nil:
			ok++
		default:
			failed++
		}
	}
	return ok, failed, twice
}

// handOver offers Take the first attempt of eventID's delivery as the
// dispatcher builds it: its shard subject, and Nats-Msg-Id
// "<event id>.<webhook id>".
func (r *deliveryRig) handOver(eventID string, s *settlements) (*job.Job, bool) {
	j := &job.Job{
		DeliveryID: job.DeliveryID(eventID, r.hook.ID, time.Now()), CompanyID: r.hook.CompanyID,
		WebhookID: r.hook.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
	}
	msg := j.Msg(stream.DeliverySubject(r.hook.ID, 1))
	msg.Header[jetstream.MsgIDHeader] = []string{eventID + "." + r.hook.ID}
	return j, r.d.Take(j, msg, s.settle(j.DeliveryID))
}

// stored is how many messages DELIVERIES has ever stored.
func (r *deliveryRig) stored(t *testing.T) uint64 {
	t.Helper()
	return r.n.StreamState(t, stream.Deliveries).LastSeq
}

// Jobs handed over by the dispatcher of the same process are delivered
// without passing through DELIVERIES: each once, each settled once, and
// the stream never stores one.
func TestHandedOverJobsSkipTheStream(t *testing.T) {
	rcv := &receiver{seen: map[string]int{}, hold: func() { time.Sleep(2 * time.Millisecond) }} // the endpoint's latency
	// A cap above the burst: no job has to wait for a slot or go back.
	rig := startRig(t, rcv, nil, Config{EndpointConcurrency: 128})
	var s settlements
	testenv.Eventually(t, 10*time.Second, func() bool { _, ok := rig.handOver("evt_first", &s); return ok }, "Take to start a job once the deliverer runs")
	for i := range 100 {
		if _, ok := rig.handOver("evt_take"+strconv.Itoa(i), &s); !ok {
			t.Fatalf("Take refused job %d with attempt slots free", i)
		}
	}
	testenv.Eventually(t, 20*time.Second, func() bool { ok, _, _ := s.count(); return ok == 101 }, "101 jobs settled")
	// Each job is counted by the receiver before it settles, and nothing
	// is stored to be redelivered (checked below): nothing more can come.
	if d, total := rcv.count(); d != 101 || total != 101 {
		t.Errorf("receiver got %d deliveries of %d ids, want 101 of 101", total, d)
	}
	if ok, failed, twice := s.count(); ok != 101 || failed != 0 || twice != 0 {
		t.Errorf("settled: %d ok, %d failed, %d twice; want 101, 0, 0", ok, failed, twice)
	}
	if got := rig.count.get(attempt.Delivered); got != 101 {
		t.Errorf("delivered outcomes = %d, want 101", got)
	}
	if n := rig.stored(t); n != 0 {
		t.Errorf("DELIVERIES stored %d messages; handed-over jobs should not be stored", n)
	}
}

// A handed-over job that cannot start now (its endpoint is at its cap and
// no slot will pass to it) goes to its shard in DELIVERIES, with the
// dispatcher's Nats-Msg-Id, and is settled once stored there, not when it
// is delivered. The shard delivers it later, once.
func TestHandedOverJobThatCannotStartIsStored(t *testing.T) {
	release := make(chan struct{})
	rcv := &receiver{seen: map[string]int{}, hold: func() { <-release }}
	rig := startRig(t, rcv, nil, Config{EndpointConcurrency: 1, SlotWait: 5 * time.Second})
	var s settlements
	testenv.Eventually(t, 10*time.Second, func() bool { _, ok := rig.handOver("evt_a", &s); return ok }, "Take to start the first job")
	// One of the three holds the endpoint's only slot, one waits for it
	// (one waiter per running attempt while no latency is known), and one
	// has no place and goes to its shard; which is which depends on the
	// order their goroutines start in.
	for _, id := range []string{"evt_b", "evt_c"} {
		if _, ok := rig.handOver(id, &s); !ok {
			t.Fatalf("Take refused %s", id)
		}
	}
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _, _ := s.count(); return ok == 1 }, "one job settled once stored")
	if n := rig.stored(t); n != 1 {
		t.Fatalf("DELIVERIES stored %d messages, want 1", n)
	}
	st, err := rig.n.JS.Stream(t.Context(), stream.Deliveries)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	msgID := m.Header.Get(jetstream.MsgIDHeader)
	if evt, _, _ := strings.Cut(msgID, "."); !strings.HasPrefix(msgID, "evt_") || evt+"."+rig.hook.ID != msgID {
		t.Errorf("stored job's Nats-Msg-Id = %q, want the dispatcher's <event id>.<webhook id>", msgID)
	}
	// A re-dispatch of its event (say, the event's ack was lost) stores
	// nothing more.
	copied := &nats.Msg{Subject: m.Subject, Header: m.Header, Data: m.Data}
	if again, err := rig.n.JS.PublishMsg(t.Context(), copied); err != nil || !again.Duplicate {
		t.Errorf("re-publishing the stored job: %+v, %v; want a duplicate", again, err)
	}

	close(release)
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d == 3 }, "3 deliveries")
	// Once the stored job is acked and gone from the work queue, nothing
	// can be redelivered: a duplicate would have arrived before.
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.n.StreamState(t, stream.Deliveries).Msgs == 0 }, "the stored job acked")
	testenv.Eventually(t, 10*time.Second, func() bool { ok, failed, _ := s.count(); return ok+failed == 3 }, "the handed-over jobs settled")
	if d, total := rcv.count(); total != d {
		t.Errorf("%d deliveries for %d delivery ids: duplicates", total, d)
	}
	if ok, failed, twice := s.count(); ok != 3 || failed != 0 || twice != 0 {
		t.Errorf("settled: %d ok, %d failed, %d twice; want 3, 0, 0", ok, failed, twice)
	}
}

// A handed-over job whose attempt fails is settled once its retry is
// scheduled in DELIVERIES; the retry is delivered from there. While the
// endpoint has failed and not succeeded since, Take refuses its jobs, so
// the dispatcher stores them instead of holding their events.
func TestHandedOverJobFailureSchedulesRetry(t *testing.T) {
	var calls atomic.Int32
	rcv := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	rig := startRig(t, rcv, nil, Config{})
	var s settlements
	testenv.Eventually(t, 10*time.Second, func() bool { _, ok := rig.handOver("evt_fail", &s); return ok }, "Take to start the job")
	testenv.Eventually(t, 10*time.Second, func() bool { ok, _, _ := s.count(); return ok == 1 }, "the job settled once its retry is scheduled")
	if calls.Load() != 1 {
		t.Fatalf("%d attempts before settling, want 1", calls.Load())
	}
	if n := rig.stored(t); n == 0 {
		t.Fatal("the retry was not stored in DELIVERIES")
	}
	if _, ok := rig.handOver("evt_next", &s); ok {
		t.Error("Take started a job for an endpoint that failed and has not succeeded since")
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return rig.count.get(attempt.Delivered) == 1 }, "the retry delivered")
	if got := rig.count.get(attempt.Retry); got != 1 {
		t.Errorf("retry outcomes = %d, want 1", got)
	}
	if calls.Load() != 2 {
		t.Errorf("%d attempts, want 2", calls.Load())
	}
}
