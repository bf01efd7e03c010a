package handoff

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// outcomes records how each job of a test was settled.
type outcomes struct {
	mu  sync.Mutex
	got map[int][]error
}

func (o *outcomes) settle(i int) func(error) {
	return func(err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.got[i] = append(o.got[i], err)
	}
}

func (o *outcomes) settled() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.got)
}

// jobOffers makes n offers of jobs to shard 0 with data of size bytes.
func jobOffers(n, size int, o *outcomes) []dispatch.Offer {
	offers := make([]dispatch.Offer, n)
	for i := range offers {
		id := "evt_" + testenv.ID("b")
		offers[i] = dispatch.Offer{
			Msg:    &nats.Msg{Subject: "deliveries.0.wh_batch", Header: nats.Header{jetstream.MsgIDHeader: {id}}, Data: bytes.Repeat([]byte{'x'}, size)},
			Settle: o.settle(i),
		}
	}
	return offers
}

// A batch is one message to one deliverer, at most maxBatchJobs jobs and
// half the server's payload limit; its answers settle each job once: a
// refused job is stored in DELIVERIES and settled once stored, a job Done
// lists as failed fails with the deliverer's reason, the others succeed.
func TestBatchOffersAndAnswers(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	c, err := NewClient(n.Conn, Config{Publisher: n.JS, Silence: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	// A deliverer that refuses job 1 of each batch and fails job 0.
	deliverer, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer deliverer.Close()
	var mu sync.Mutex
	var sizes []int
	if _, err := deliverer.QueueSubscribe(BatchSubject, Queue, func(m *nats.Msg) {
		jobs, err := DecodeBatch(m.Data)
		if err != nil {
			t.Errorf("batch: %v", err)
			return
		}
		mu.Lock()
		sizes = append(sizes, len(jobs))
		mu.Unlock()
		_ = deliverer.PublishMsg(Answer(m.Reply, Refused, string(Indices([]int{1}))))
		_ = deliverer.PublishMsg(Answer(m.Reply, Done, string(Failures(map[int]string{0: "no leader"}))))
	}); err != nil {
		t.Fatal(err)
	}
	if err := deliverer.Flush(); err != nil {
		t.Fatal(err)
	}

	o := &outcomes{got: map[int][]error{}}
	if sent := c.TakeBatch(jobOffers(70, 100, o)); sent != 70 {
		t.Fatalf("TakeBatch sent %d of 70", sent)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return o.settled() == 70 }, "70 jobs settled")
	mu.Lock()
	if len(sizes) != 2 || sizes[0] != 64 || sizes[1] != 6 {
		t.Errorf("batches of %v jobs, want [64 6]", sizes)
	}
	mu.Unlock()
	o.mu.Lock()
	for i, errs := range o.got {
		switch {
		case len(errs) != 1:
			t.Errorf("job %d settled %d times", i, len(errs))
		case i == 0 || i == 64:
			if errs[0] == nil || !strings.Contains(errs[0].Error(), "no leader") {
				t.Errorf("job %d (failed by the deliverer) settled with %v", i, errs[0])
			}
		case errs[0] != nil:
			t.Errorf("job %d settled with %v, want success", i, errs[0])
		}
	}
	o.mu.Unlock()
	if got := n.StreamState(t, stream.Deliveries).Msgs; got != 2 {
		t.Errorf("DELIVERIES holds %d jobs, want the 2 refused ones", got)
	}

	// Jobs too large to share a message go one to a message.
	mu.Lock()
	sizes = nil
	mu.Unlock()
	big := &outcomes{got: map[int][]error{}}
	if sent := c.TakeBatch(jobOffers(3, int(n.Conn.MaxPayload())/3, big)); sent != 3 {
		t.Fatalf("TakeBatch sent %d of 3", sent)
	}
	testenv.Eventually(t, 10*time.Second, func() bool { return big.settled() == 3 }, "the large jobs settled")
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) != 0 {
		t.Errorf("large jobs went in batches of %v; one to a message is a single offer", sizes)
	}
}

// A batch no deliverer listens for is stored whole; one whose deliverer
// goes silent fails whole, so that its event is dispatched again.
func TestBatchWithoutDeliverer(t *testing.T) {
	t.Parallel()
	n := testenv.StartNATS(t, 1)
	c, err := NewClient(n.Conn, Config{Publisher: n.JS, Silence: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	nobody := &outcomes{got: map[int][]error{}}
	c.TakeBatch(jobOffers(5, 10, nobody))
	testenv.Eventually(t, 10*time.Second, func() bool { return nobody.settled() == 5 }, "the batch nobody took settled")
	if got := n.StreamState(t, stream.Deliveries).Msgs; got != 5 {
		t.Errorf("DELIVERIES holds %d jobs, want the batch's 5", got)
	}

	mute, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	if _, err := mute.QueueSubscribe(BatchSubject, Queue, func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := mute.Flush(); err != nil {
		t.Fatal(err)
	}
	lost := &outcomes{got: map[int][]error{}}
	c.TakeBatch(jobOffers(5, 10, lost))
	testenv.Eventually(t, 10*time.Second, func() bool { return lost.settled() == 5 }, "the unanswered batch failed")
	lost.mu.Lock()
	defer lost.mu.Unlock()
	for i, errs := range lost.got {
		if len(errs) != 1 || errs[0] != ErrSilent {
			t.Errorf("job %d settled with %v, want ErrSilent once", i, errs)
		}
	}
}
