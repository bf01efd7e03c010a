package stream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// storeJS is a JetStream context as Store's callers make it: an ack not
// seen within two resends is given up on.
func storeJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(2*stream.Resend))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// While no stream takes a subject (as while a stream's leader is being
// elected), Store keeps sending; once one does, every message is stored,
// each once (the copies are deduplicated by their Nats-Msg-Id).
func TestStoreWaitsForTheStream(t *testing.T) {
	n := testenv.StartNATS(t, 1)
	js := storeJS(t, n.Conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var msgs []*nats.Msg
	for _, id := range []string{"a", "b", "c"} {
		msgs = append(msgs, &nats.Msg{Subject: "later." + id, Data: []byte(id), Header: nats.Header{jetstream.MsgIDHeader: {id}}})
	}
	time.AfterFunc(2*time.Second, func() {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATER", Subjects: []string{"later.>"}, Duplicates: time.Minute}); err != nil {
			t.Errorf("create stream: %v", err)
		}
	})
	start := time.Now()
	if err := stream.Store(ctx, js, msgs, 20*time.Second); err != nil {
		t.Fatalf("Store: %v", err)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Fatalf("Store returned after %s, before the stream existed", waited)
	}
	if got := n.StreamState(t, "LATER").Msgs; got != 3 {
		t.Fatalf("LATER holds %d messages, want 3 (one per id)", got)
	}
}

// Store gives up when its wait has passed, with an error that says so,
// and at once on a refusal that sending again cannot fix.
func TestStoreGivesUp(t *testing.T) {
	n := testenv.StartNATS(t, 1)
	js := storeJS(t, n.Conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := stream.Store(ctx, js, []*nats.Msg{{Subject: "nowhere.x", Data: []byte("x")}}, 2*time.Second)
	if err == nil {
		t.Fatal("Store stored a message no stream takes")
	}
	if waited := time.Since(start); waited < 2*time.Second || waited > 10*time.Second {
		t.Fatalf("Store gave up after %s, want about its 2s wait", waited)
	}
	t.Logf("gave up with: %v", err)

	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "SMALL", Subjects: []string{"small.>"}, MaxMsgSize: 16}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err = stream.Store(ctx, js, []*nats.Msg{{Subject: "small.x", Data: make([]byte, 64)}}, 20*time.Second)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("Store of a message above the stream's limit: %v, want the JetStream API error", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("Store took %s to report a permanent refusal", waited)
	}
}

// A message under Hold is not redelivered while it is held, however long
// past AckWait; once its holder stops (dies), it is redelivered.
func TestHoldKeepsAMessageFromRedelivery(t *testing.T) {
	n := testenv.StartNATS(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := n.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "HELD", Subjects: []string{"held.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	const ackWait = time.Second
	cons, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "c", AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"held", "dropped"} {
		if _, err := n.JS.Publish(ctx, "held."+id, []byte(id)); err != nil {
			t.Fatal(err)
		}
	}
	batch, err := cons.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var held jetstream.Msg
	for m := range batch.Messages() {
		if string(m.Data()) == "held" {
			held = stream.Hold(m, stream.HeartbeatFor(ackWait))
		} // "dropped" is neither acked nor held: its holder died
	}
	if held == nil {
		t.Fatal("the held message was not fetched")
	}
	// Four AckWaits later, only the dropped message came back.
	again, err := cons.Fetch(10, jetstream.FetchMaxWait(4*ackWait))
	if err != nil {
		t.Fatal(err)
	}
	var redelivered []string
	for m := range again.Messages() {
		redelivered = append(redelivered, string(m.Data()))
		_ = m.Ack()
	}
	if len(redelivered) != 1 || redelivered[0] != "dropped" {
		t.Fatalf("redelivered %v while one was held; want [dropped]", redelivered)
	}
	if err := held.Ack(); err != nil {
		t.Fatal(err)
	}
}
