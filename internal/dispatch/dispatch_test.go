package dispatch

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// An event dispatched twice (its dispatcher died before acking it, and it
// was redelivered) gives one job per webhook: the jobs carry Nats-Msg-Id
// "<event id>.<webhook id>" and DELIVERIES drops the second copies.
func TestRedispatchIsDeduplicated(t *testing.T) {
	n := testenv.StartNATS(t, 2)
	kv, box := n.Registry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now().UTC()
	hooks := []string{"wh_dedup_a", "wh_dedup_b"}
	for _, id := range hooks {
		w := webhook.Webhook{
			ID: id, UID: "u", CompanyID: "co_dedup", Name: "dedup", URL: "https://example.com/hook",
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
	d, err := New(n.JS, cache, Config{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}

	cat, _ := event.LoadCatalogue()
	var e event.Envelope
	for _, typ := range cat.Types() {
		if typ.Name == "TODO_CREATED" {
			if err := json.Unmarshal(typ.Example, &e); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.ID, e.CompanyID = event.NewID(), "co_dedup"
	for range 2 {
		if jobs, err := d.Dispatch(ctx, &e, nats.Header{}, now); err != nil || jobs != len(hooks) {
			t.Fatalf("Dispatch = %d, %v; want %d jobs", jobs, err, len(hooks))
		}
	}

	s, err := n.JS.Stream(ctx, stream.Deliveries)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(hooks)) {
		t.Fatalf("DELIVERIES holds %d jobs, want %d", info.State.Msgs, len(hooks))
	}
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
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
