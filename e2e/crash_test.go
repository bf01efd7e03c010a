package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/testenv"
)

// TestCrashesLoseNothing kills a deliverer and the dispatcher with SIGKILL
// in the middle of a few thousand deliveries, restarts nats-server, and
// empties Redis; every event the ingest acknowledged must still reach every
// matching webhook. Duplicates are allowed (at least once) and reported.
func TestCrashesLoseNothing(t *testing.T) {
	t.Parallel()
	// A Redis database of its own, so emptying it cannot disturb other tests.
	opts, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = 12
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	redisURL := fmt.Sprintf("redis://%s/%d", opts.Addr, opts.DB)
	if opts.Password != "" {
		redisURL = fmt.Sprintf("redis://:%s@%s/%d", opts.Password, opts.Addr, opts.DB)
	}

	s := startStack(t, redisURL, "DELIVERY_TIMEOUT=2s", "ACK_WAIT=5s", "DELIVERY_RETRY_SCHEDULE=1s,2s,5s,10s,10s", "LOG_LEVEL=warn")
	rc := newReceiver(t)
	var hooks []hook
	for i := range 3 {
		hooks = append(hooks, s.c.createHook(t, s.token, s.company, map[string]any{"name": fmt.Sprint("h", i), "url": fmt.Sprintf("%s/crash/%d", rc.srv.URL, i)}))
	}

	const batches, perBatch = 40, 25
	events := makeEvents(t, batches*perBatch, []string{s.company}, []string{"p1", "p2"})
	chaos := map[int]func(){
		6:  func() { s.kill("deliverer-1") },
		12: func() { s.kill("dispatcher") },
		14: func() { s.restart("dispatcher", "dispatcher") },
		18: func() { s.restart("deliverer-1", "deliverer") },
		22: func() { s.restartNATS() },
		30: func() {
			if err := rdb.FlushDB(context.Background()).Err(); err != nil {
				t.Errorf("FLUSHDB: %v", err)
			}
		},
	}
	var acked []map[string]any
	for b := range batches {
		if f := chaos[b]; f != nil {
			f()
		}
		batch := events[b*perBatch : (b+1)*perBatch]
		if publishUntilAccepted(t, s.c, batch, 60*time.Second) {
			acked = append(acked, batch...)
		}
		time.Sleep(100 * time.Millisecond) // pace the load across the chaos
	}
	t.Logf("%d of %d events acknowledged by the ingest", len(acked), len(events))

	want := map[string]bool{}
	for _, e := range acked {
		for _, h := range hooks {
			want[e["id"].(string)+"/"+h.ID] = true
		}
	}
	got := map[string]int{}
	count := func() int {
		clear(got)
		for _, r := range rc.snapshot() {
			got[r.key()]++
		}
		n := 0
		for k := range want {
			if got[k] > 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(120 * time.Second)
	for count() < len(want) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	delivered := count()
	dups := 0
	for _, n := range got {
		dups += max(0, n-1)
	}
	t.Logf("expected %d deliveries, delivered %d, lost %d, duplicates %d", len(want), delivered, len(want)-delivered, dups)
	if delivered != len(want) {
		t.Errorf("%d acknowledged deliveries lost", len(want)-delivered)
	}
	byID := map[string]hook{}
	for _, h := range hooks {
		byID[h.ID] = h
	}
	for _, r := range rc.snapshot() {
		_, wid := r.ids()
		checkDelivery(t, byID[wid], r)
	}
}

// publishUntilAccepted retries a batch (same ids: deduplicated) until the
// ingest answers 202, as a publisher should; false if it never did.
func publishUntilAccepted(t *testing.T, c client, batch []map[string]any, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		code, _ := c.do(t, http.MethodPost, c.ingestURL+"/v1/events", c.ingestToken, batch)
		if code == http.StatusAccepted {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}
