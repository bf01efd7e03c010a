package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// steadyLoad publishes one event per request through the ingest at a
// steady pace, retrying each until it is accepted (same id), as a
// publisher should; it records when each event was first sent.
type steadyLoad struct {
	c      client
	events []map[string]any

	mu      sync.Mutex
	sent    map[string]time.Time // event id -> first sent
	acked   []map[string]any
	refused int           // answers other than 202
	slowest time.Duration // longest wait for a 202
	stop    chan struct{}
	done    chan struct{}
}

func startLoad(t *testing.T, c client, company string, every time.Duration, max int) *steadyLoad {
	l := &steadyLoad{c: c, events: makeEvents(t, max, []string{company}, []string{"p1"}), sent: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for _, e := range l.events {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			l.publish(e)
		}
	}()
	return l
}

func (l *steadyLoad) publish(e map[string]any) {
	first := time.Now()
	l.mu.Lock()
	l.sent[e["id"].(string)] = first
	l.mu.Unlock()
	body, _ := json.Marshal(e)
	for time.Since(first) < 60*time.Second {
		code := l.post(body)
		l.mu.Lock()
		if code == http.StatusAccepted {
			l.acked = append(l.acked, e)
			l.slowest = max(l.slowest, time.Since(first))
			l.mu.Unlock()
			return
		}
		l.refused++
		l.mu.Unlock()
		time.Sleep(100 * time.Millisecond) // pace the re-sends, as a publisher backs off
	}
}

// post sends one request and returns its status, 0 when it got none
// within 30 s.
func (l *steadyLoad) post(body []byte) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.c.ingestURL+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.c.ingestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// end stops publishing and returns the accepted events.
func (l *steadyLoad) end() []map[string]any {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

// mark returns the ingest's refusals and its slowest accept since the
// last mark, to report them per phase.
func (l *steadyLoad) mark() (refused int, slowest time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, s := l.refused, l.slowest
	l.refused, l.slowest = 0, 0
	return r, s
}

// elections records when JetStream announced a new stream or consumer
// leader, from its advisories.
type elections struct {
	mu  sync.Mutex
	at  []time.Time
	sub *nats.Subscription
}

func watchElections(t *testing.T, nc *nats.Conn) *elections {
	el := &elections{}
	sub, err := nc.Subscribe("$JS.EVENT.ADVISORY.*.LEADER_ELECTED.>", func(*nats.Msg) {
		el.mu.Lock()
		el.at = append(el.at, time.Now())
		el.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return el
}

// last is the latest election in [from, to]; zero if none.
func (el *elections) last(from, to time.Time) time.Time {
	el.mu.Lock()
	defer el.mu.Unlock()
	var out time.Time
	for _, at := range el.at {
		if !at.Before(from) && !at.After(to) && at.After(out) {
			out = at
		}
	}
	return out
}

// phaseStats is what one failure cost, seen from the receiver.
type phaseStats struct {
	stall     time.Duration // longest gap between deliveries
	stallEnd  time.Time
	tail      time.Duration // slowest delivery of an event sent around the failure
	delivered int
}

// measure reads the receiver's deliveries between from and to. The stall
// is the longest gap between consecutive deliveries that overlaps the
// window; the tail is the slowest first delivery of an event sent in it
// or in the two seconds before (whose jobs were under way at the failure).
func measure(rc *receiver, l *steadyLoad, from, to time.Time) phaseStats {
	var st phaseStats
	rs := rc.snapshot()
	slices.SortFunc(rs, func(a, b received) int { return a.at.Compare(b.at) })
	prev := time.Time{}
	for _, r := range rs {
		if r.at.Before(from.Add(-time.Second)) {
			prev = r.at
			continue
		}
		if r.at.After(to) {
			break
		}
		st.delivered++
		if !prev.IsZero() && r.at.Sub(prev) > st.stall {
			st.stall, st.stallEnd = r.at.Sub(prev), r.at
		}
		prev = r.at
	}
	first := map[string]time.Time{}
	for _, r := range rs {
		if k := r.key(); first[k].IsZero() {
			first[k] = r.at
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, at := range first {
		id, _, _ := strings.Cut(k, "/")
		sent, ok := l.sent[id]
		if ok && !sent.Before(from.Add(-2*time.Second)) && !sent.After(to) {
			st.tail = max(st.tail, at.Sub(sent))
		}
	}
	return st
}

// TestClusterFailover runs the split deployment (two dispatchers, two
// deliverers) on a 3-node JetStream cluster with every stream replicated
// three times, under a steady load through the ingest. In turn it stops a
// node leading the streams, a node leading only consumers and a node
// leading nothing, each with SIGKILL (a crash) and with SIGTERM (a planned
// restart), then kills a deliverer and a dispatcher. Every event the
// ingest accepted must reach every webhook. What each failure cost (the
// longest gap between deliveries, how long after the last leader election
// they resumed, the slowest delivery of an event sent around it, the
// ingest's refusals and its slowest accept) is logged.
func TestClusterFailover(t *testing.T) {
	cl := startCluster(t, 3)
	s := startRoles(t, cl.urls(), testenv.RedisURL(), "STREAM_REPLICAS=3", "LOG_LEVEL=info", "DELIVERY_TIMEOUT=2s")
	s.restart("dispatcher-2", "dispatcher")
	el := watchElections(t, cl.nc)
	rc := newReceiver(t)
	rc.status = func(*http.Request, int) int {
		time.Sleep(30 * time.Millisecond) // attempts are under way when a process dies
		return http.StatusOK
	}
	var hooks []hook
	for i := range 2 {
		hooks = append(hooks, s.c.createHook(t, s.token, s.company, map[string]any{"name": fmt.Sprint("h", i), "url": fmt.Sprintf("%s/failover/%d", rc.srv.URL, i)}))
	}
	load := startLoad(t, s.c, s.company, 20*time.Millisecond, 100000)
	time.Sleep(3 * time.Second) // the load runs steadily for a while before the first failure: a baseline, not a wait for an event

	streams := []string{"EVENTS", "DELIVERIES", "KV_webhooks"}
	leadingStreams := func() string {
		name := cl.leaders()["DELIVERIES"]
		for _, st := range streams {
			cl.moveLeadersTo(st, name)
		}
		return name
	}
	// The consumers every delivery of the test goes through: the
	// dispatchers' and the shards of the two webhooks.
	consumers := []string{"EVENTS/" + stream.DispatchConsumer}
	for _, h := range hooks {
		consumers = append(consumers, "DELIVERIES/"+stream.ShardConsumer(stream.Shard(h.ID, stream.DefaultConfig().Shards)))
	}
	leadingConsumers := func() string {
		name := cl.other(cl.leaders()["DELIVERIES"])
		cl.moveLeadersOff(name, cl.other(name), true)
		for _, c := range consumers {
			cl.moveLeadersTo(c, name)
		}
		return name
	}
	leadingNothing := func() string {
		name := cl.other(cl.leaders()["DELIVERIES"])
		cl.moveLeadersOff(name, cl.other(name), false)
		return name
	}
	stopNode := func(pick func() string, sig syscall.Signal) func() func() {
		return func() func() {
			name := pick()
			t.Logf("stopping %s (%s), leading %v", name, sig, cl.led(name))
			cl.stop(name, sig)
			return func() { cl.restart(name) }
		}
	}
	killRole := func(name, bin string) func() func() {
		return func() func() {
			s.kill(name)
			return func() { s.restart(name, bin) }
		}
	}
	phases := []struct {
		name string
		fail func() (recover func())
	}{
		{"kill -9 of a node leading the streams", stopNode(leadingStreams, syscall.SIGKILL)},
		{"kill -9 of a node leading only consumers", stopNode(leadingConsumers, syscall.SIGKILL)},
		{"kill -9 of a node leading nothing", stopNode(leadingNothing, syscall.SIGKILL)},
		{"SIGTERM of a node leading the streams", stopNode(leadingStreams, syscall.SIGTERM)},
		{"SIGTERM of a node leading only consumers", stopNode(leadingConsumers, syscall.SIGTERM)},
		{"SIGTERM of a node leading nothing", stopNode(leadingNothing, syscall.SIGTERM)},
		{"lame duck of a node leading the streams", stopNode(leadingStreams, syscall.SIGUSR2)},
		{"kill -9 of a deliverer", killRole("deliverer-1", "deliverer")},
		{"kill -9 of a dispatcher", killRole("dispatcher", "dispatcher")},
	}
	var report []string
	for _, ph := range phases {
		_, _ = load.mark()
		at := time.Now()
		recover := ph.fail()
		time.Sleep(10 * time.Second) // the failure lasts longer than an election
		recover()
		time.Sleep(4 * time.Second) // the load runs on after the recovery, so that measure sees deliveries resume
		refused, slowest := load.mark()
		st := measure(rc, load, at, time.Now())
		resumed := "-"
		if elected := el.last(at, st.stallEnd); !elected.IsZero() {
			resumed = st.stallEnd.Sub(elected).Round(time.Millisecond).String()
		}
		report = append(report, fmt.Sprintf("%-42s stall %7s  resumed after last election %7s  tail %7s  ingest refused %d, slowest accept %s",
			ph.name, st.stall.Round(time.Millisecond), resumed, st.tail.Round(time.Millisecond), refused, slowest.Round(time.Millisecond)))
	}
	acked := load.end()
	t.Logf("failover costs, seen from the receiver:\n%s", strings.Join(report, "\n"))
	checkNothingLost(t, rc, acked, hooks, 120*time.Second)
}
