package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// TestCrashesLoseNothing kills a deliverer and the dispatcher with SIGKILL
// in the middle of a few thousand deliveries, restarts nats-server, and
// empties Redis of everything the stack stored there; every event the
// ingest acknowledged must still reach every matching webhook. Duplicates
// are allowed (at least once) and reported.
func TestCrashesLoseNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_TIMEOUT=2s", "ACK_WAIT=5s", "DELIVERY_RETRY_SCHEDULE=1s,2s,5s,10s,10s", "LOG_LEVEL=warn")
	rdb := testenv.Redis(t)
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
		30: func() { // what a FLUSHALL would do to the stack, without touching anyone else's keys
			if n, err := testenv.DeleteKeys(context.Background(), rdb, s.redisPrefix); err != nil || n == 0 {
				t.Errorf("deleting the stack's Redis keys (%s*): %d deleted, %v", s.redisPrefix, n, err)
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
	checkNothingLost(t, rc, acked, hooks, 120*time.Second)
}

// checkNothingLost waits, up to within, until every acknowledged event
// reached every hook, then fails the test for each pair that did not, and
// checks the signature and body of every request received.
func checkNothingLost(t *testing.T, rc *receiver, acked []map[string]any, hooks []hook, within time.Duration) {
	t.Helper()
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
	deadline := time.Now().Add(within)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for count() < len(want) && time.Now().Before(deadline) {
		<-tick.C
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

// TestWebhookdCrashLosesNothing kills webhookd (SIGKILL) twice while it
// delivers to a slow receiver, and starts it again on the same data
// directory. Its dispatcher hands most jobs straight to its deliverer
// (never stored in DELIVERIES), so jobs of unacked events are in flight
// at each kill; every event the ingest acknowledged must still reach
// every webhook, from the events' redelivery.
func TestWebhookdCrashLosesNothing(t *testing.T) {
	t.Parallel()
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	env := []string{
		"DATA_DIR=" + t.TempDir(), "NATS_URL=", "REDIS_URL=",
		"API_ADDR=" + apiAddr, "PUBLISHER_ADDR=" + pubAddr,
		"WEBHOOKS_API_TOKENS=tokC=coC", "DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
		"DELIVERY_TIMEOUT=2s", "ACK_WAIT=5s", "DELIVERY_RETRY_SCHEDULE=1s,2s,5s,10s,10s", "LOG_LEVEL=warn",
	}
	startd := func(name string) *proc {
		p := start(t, name, "webhookd", env)
		p.waitReady(t, "http://"+apiAddr+"/readyz")
		return p
	}
	p := startd("webhookd")
	c := client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr}
	rc := newReceiver(t)
	var inFlight atomic.Int32 // requests received and not answered yet
	rc.status = func(*http.Request, int) int {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		time.Sleep(200 * time.Millisecond) // the endpoint's latency: attempts are under way at each kill
		return http.StatusOK
	}
	var hooks []hook
	for i := range 3 {
		hooks = append(hooks, c.createHook(t, "tokC", "coC", map[string]any{"name": fmt.Sprint("h", i), "url": fmt.Sprintf("%s/crash/%d", rc.srv.URL, i)}))
	}

	const batches, perBatch = 30, 20
	events := makeEvents(t, batches*perBatch, []string{"coC"}, []string{"p1", "p2"})
	var acked []map[string]any
	for b := range batches {
		batch := events[b*perBatch : (b+1)*perBatch]
		if publishUntilAccepted(t, c, batch, 60*time.Second) {
			acked = append(acked, batch...)
		}
		if b == 8 || b == 20 {
			if handed := scrape(t, c.apiURL+"/metrics", "webhooks_jobs_handed_over_total", nil); handed == 0 {
				t.Errorf("no job handed over before kill %d: the test does not exercise the handoff", b)
			}
			testenv.Eventually(t, 10*time.Second, func() bool { return inFlight.Load() > 0 }, "attempts under way before kill %d", b)
			p.stop(t, syscall.SIGKILL)
			p = startd(fmt.Sprint("webhookd-", b))
		}
		time.Sleep(100 * time.Millisecond) // pace the load across the kills
	}
	t.Logf("%d of %d events acknowledged by the ingest", len(acked), len(events))
	checkNothingLost(t, rc, acked, hooks, 120*time.Second)
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
		time.Sleep(200 * time.Millisecond) // pace the re-sends, as a publisher backs off
	}
	return false
}

// A job in the hands of a deliverer that dies is delivered again within
// seconds (ACK_WAIT, 5 s by default), while a job whose attempt is slow
// but alive, longer than ACK_WAIT, is not delivered twice: deliverers
// report progress on every job they hold.
func TestCrashedDelivererJobsComeBackInSeconds(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_TIMEOUT=20s", "LOG_LEVEL=info")
	s.procs["deliverer-2"].stop(t, syscall.SIGTERM) // one deliverer holds every job
	rc := newReceiver(t)
	arrived := make(chan string, 10)
	ended := make(chan struct{})
	defer close(ended) // before any clean-up: the held requests are answered and every role can stop
	rc.status = func(r *http.Request, _ int) int {
		arrived <- r.URL.Path
		hold := map[string]time.Duration{
			"/slow":  12 * time.Second, // over two AckWaits, within the timeout
			"/crash": 30 * time.Second, // still under way when its deliverer dies
		}[r.URL.Path]
		select {
		case <-time.After(hold):
		case <-ended:
		}
		return http.StatusOK
	}
	slow := s.c.createHook(t, s.token, s.company, map[string]any{"name": "slow", "url": rc.srv.URL + "/slow", "events": []string{"TODO_CREATED"}})
	s.c.createHook(t, s.token, s.company, map[string]any{"name": "crash", "url": rc.srv.URL + "/crash", "events": []string{"COMMENT_CREATED"}})
	ev := examples(t)["TODO_CREATED"]
	ev["id"], ev["companyId"], ev["projectId"] = testenv.ID("evt_slow"), s.company, "p1"
	s.c.publish(t, []map[string]any{ev})
	if p := <-arrived; p != "/slow" {
		t.Fatalf("first request to %s, want /slow", p)
	}
	testenv.Eventually(t, 30*time.Second, func() bool { return len(arrivals(rc, "/slow")) >= 1 && rc.answered("/slow") }, "the slow attempt answered")
	if n := len(arrivals(rc, "/slow")); n != 1 {
		t.Errorf("the slow attempt was made %d times, want once: its job was redelivered while under way", n)
	}
	checkDelivery(t, slow, arrivals(rc, "/slow")[0])

	ev = examples(t)["COMMENT_CREATED"]
	ev["id"], ev["companyId"], ev["projectId"] = testenv.ID("evt_crash"), s.company, "p1"
	s.c.publish(t, []map[string]any{ev})
	if p := <-arrived; p != "/crash" {
		t.Fatalf("request to %s, want /crash", p)
	}
	s.kill("deliverer-1")
	killed := time.Now()
	s.restart("deliverer-2", "deliverer")
	testenv.Eventually(t, 30*time.Second, func() bool { return len(arrivals(rc, "/crash")) >= 2 }, "the crashed deliverer's job delivered again")
	t.Logf("the job of the killed deliverer was attempted again %s after the kill", time.Since(killed).Round(100*time.Millisecond))
}
