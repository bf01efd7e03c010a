package delivery

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/testenv"
)

func TestIdleLeases(t *testing.T) {
	t0 := time.Now()
	const (
		key = "wh_a"
		ttl = 10 * time.Second
	)
	// running starts an attempt of key holding a new lease, as acquire does.
	leases := 0
	running := func(w *waiting) *slot {
		w.started(key)
		leases++
		return &slot{lease: state.Lease{Key: key, ID: strconv.Itoa(leases)}, at: t0}
	}

	t.Run("with nobody waiting a lease is kept for the next job", func(t *testing.T) {
		w := newWaiting(time.Second)
		s := running(w)
		if _, _, kept := w.end(key, s, time.Millisecond, true, true, t0); !kept {
			t.Fatal("the lease of a successful attempt nobody waits for went back")
		}
		got, c := w.claim(key, waiterFor("d1", t0), 4, ttl)
		if c != reused || got != s || got.passes != 1 {
			t.Fatalf("claim = %v, %v; want the kept lease, reused once", got, c)
		}
		if _, c := w.claim(key, waiterFor("d2", t0), 4, ttl); c != askShared {
			t.Fatalf("a second job claimed %v; the only kept lease is taken", c)
		}
	})

	t.Run("a lease goes back after linger, or at close", func(t *testing.T) {
		w := newWaiting(time.Second)
		old, fresh := running(w), running(w)
		w.end(key, old, time.Millisecond, true, true, t0)
		w.end(key, fresh, time.Millisecond, true, true, t0.Add(defaultLinger/2))
		if got := w.lingered(t0.Add(defaultLinger), ttl); len(got) != 1 || got[0] != old {
			t.Fatalf("lingered = %v, want the lease idle for linger", got)
		}
		w.close()
		if got := w.lingered(t0.Add(defaultLinger), ttl); len(got) != 1 || got[0] != fresh {
			t.Fatalf("lingered after close = %v, want every idle lease", got)
		}
		if _, _, kept := w.end(key, running(w), time.Millisecond, true, true, t0); kept {
			t.Fatal("a lease kept after close")
		}
	})

	t.Run("no lease is kept that may not pass", func(t *testing.T) {
		w := newWaiting(time.Second)
		if _, _, kept := w.end(key, running(w), time.Millisecond, false, true, t0); kept {
			t.Fatal("kept the lease of a failed attempt")
		}
		if _, _, kept := w.end(key, running(w), time.Millisecond, true, false, t0); kept {
			t.Fatal("kept a lease that may not pass")
		}
	})

	t.Run("a kept lease serves under the passable rules", func(t *testing.T) {
		w := newWaiting(time.Second)
		s := running(w)
		w.end(key, s, time.Millisecond, true, true, t0)
		if _, c := w.claim(key, waiterFor("d1", t0.Add(ttl/2)), 4, ttl); c == reused {
			t.Fatal("reused a lease half its TTL old")
		}
		if got := w.lingered(t0.Add(ttl/2), ttl); len(got) != 1 {
			t.Fatalf("lingered = %v, want the stale lease back", got)
		}
		s = running(w)
		s.passes = maxPasses - 1
		w.end(key, s, time.Millisecond, true, true, t0)
		if _, c := w.claim(key, waiterFor("d2", t0), 4, ttl); c != reused || s.passes != maxPasses {
			t.Fatalf("claim = %v (passes %d); want the last pass", c, s.passes)
		}
	})

	t.Run("no reuse above a lowered cap", func(t *testing.T) {
		w := newWaiting(time.Second)
		running(w)
		w.end(key, running(w), time.Millisecond, true, true, t0)
		if _, c := w.claim(key, waiterFor("d1", t0), 1, ttl); c == reused {
			t.Fatal("reused a lease while the attempts running hold the cap")
		}
	})

	t.Run("no lease is kept for an endpoint found at its cap lately", func(t *testing.T) {
		w := newWaiting(time.Second)
		s := running(w)
		w.enqueue(key, waiterFor("refused", t0)) // the shared state refused it
		next, _, kept := w.end(key, s, time.Millisecond, true, true, t0)
		if next == nil {
			t.Fatal("the refused job waiting was not passed the slot")
		}
		if _, _, kept = w.end(key, s, time.Millisecond, true, true, t0.Add(contendedFor/2)); kept {
			t.Fatal("kept a lease the other replicas are refused")
		}
		s = running(w)
		if _, _, kept = w.end(key, s, time.Millisecond, true, true, t0.Add(contendedFor)); !kept {
			t.Fatal("no lease kept contendedFor after the last refusal")
		}
		w.enqueue(key, waiterFor("refused again", t0.Add(contendedFor))) // no attempt runs: not enqueued
		if got := w.lingered(t0.Add(contendedFor), ttl); len(got) != 1 {
			t.Fatalf("lingered = %v, want the idle lease back once the endpoint was refused", got)
		}
	})
}

// A refusal of the shared state is believed for refusedFor while an attempt
// of ours runs, and forgotten once a slot of ours is freed.
func TestRefusalRemembered(t *testing.T) {
	t0 := time.Now()
	const key = "wh_a"
	w := newWaiting(time.Second)
	w.started(key)
	w.done(key, time.Millisecond, true, true, t0) // a latency: room in the line
	w.started(key)
	w.started(key)
	w.enqueue(key, waiterFor("refused", t0))
	w.done(key, time.Millisecond, true, true, t0) // passed to "refused": the line is empty again
	if _, c := w.claim(key, waiterFor("d1", t0.Add(refusedFor/2)), 4, time.Minute); c != joined {
		t.Fatalf("claim within refusedFor = %v, want joined without asking", c)
	}
	w.done(key, time.Millisecond, true, true, t0) // passed to d1
	if _, c := w.claim(key, waiterFor("d2", t0.Add(refusedFor)), 4, time.Minute); c != askShared {
		t.Fatalf("claim after refusedFor = %v, want to ask", c)
	}
	w.enqueue(key, waiterFor("refused again", t0))
	w.done(key, time.Millisecond, true, false, t0) // a slot of ours goes back; "refused again" still waits
	if _, c := w.claim(key, waiterFor("d3", t0), 4, time.Minute); c != joined {
		t.Fatalf("claim behind a waiting job = %v, want joined", c)
	}
	w.done(key, time.Millisecond, true, true, t0)
	w.done(key, time.Millisecond, true, true, t0) // the line is empty again
	if _, c := w.claim(key, waiterFor("d4", t0), 4, time.Minute); c != askShared {
		t.Fatalf("claim after a slot of ours went back = %v, want to ask", c)
	}
}

// Where no attempt of ours runs (other replicas hold the endpoint's cap),
// a job that comes within refusedFor of a refusal is handed back without
// asking the shared state again; after refusedFor, or once a slot of ours
// was freed since, it asks.
func TestRefusalWithoutAttemptsOfOurs(t *testing.T) {
	t0 := time.Now()
	const key = "wh_a"
	w := newWaiting(time.Second)
	if _, c := w.claim(key, waiterFor("d1", t0), 4, time.Minute); c != askShared {
		t.Fatalf("first claim = %v, want to ask", c)
	}
	if w.enqueue(key, waiterFor("d1", t0)) {
		t.Fatal("a refused job joined a line no attempt of ours serves")
	}
	if _, c := w.claim(key, waiterFor("d2", t0.Add(refusedFor/2)), 4, time.Minute); c != atCap {
		t.Fatalf("claim within refusedFor of a refusal = %v, want handed back without asking", c)
	}
	if _, c := w.claim(key, waiterFor("d3", t0.Add(refusedFor)), 4, time.Minute); c != askShared {
		t.Fatalf("claim after refusedFor = %v, want to ask", c)
	}
	w.enqueue(key, waiterFor("d3", t0.Add(refusedFor)))
	w.started(key)
	w.done(key, time.Millisecond, true, false, t0.Add(refusedFor)) // a slot of ours went back
	if _, c := w.claim(key, waiterFor("d4", t0.Add(refusedFor)), 4, time.Minute); c != askShared {
		t.Fatalf("claim after a slot of ours was freed = %v, want to ask", c)
	}
}

// uncountedIndex is a shared state that writes the recent attempts through
// index.
type uncountedIndex struct {
	state.State
	index state.State
}

func (u uncountedIndex) AddAttempts(ctx context.Context, key string, records [][]byte, keep int) error {
	return u.index.AddAttempts(ctx, key, records, keep)
}

// A stream of jobs to one endpoint, each coming after the last one's
// attempt and before its kept lease lingered out, costs the deliverer far
// fewer than the two Redis commands per delivery (acquire, release) it
// took without reuse.
func TestRedisCommandsPerDelivery(t *testing.T) {
	rdb, cmds := countedRedis(t, 2)
	rcv := &receiver{seen: map[string]int{}}
	prefix := testenv.ID("cmds") + ":"
	// The recent-attempts index is written once per flush, as many times
	// per delivery as the machine's load spaces the jobs apart: it is not
	// counted.
	st := uncountedIndex{state.NewRedis(rdb, prefix, state.BreakerPolicy{}), state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{})}
	rig := startRig(t, rcv, st, Config{})
	// The next job may come more than defaultLinger after the last one
	// ended on a loaded machine; a long linger makes each one come within it.
	rig.d.waiting.mu.Lock()
	rig.d.waiting.linger = 2 * time.Second
	rig.d.waiting.mu.Unlock()
	rig.publish(t, "evt_warm", 5) // a connection, the scripts loaded
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.count.get(attempt.Delivered) == 5 }, "warm-up deliveries")

	const jobs = 300
	before := cmds.n.Load()
	// Each job is published once the last one's attempt ended and kept its
	// lease: jobs published at a fixed pace pile up on a loaded machine and
	// take leases of their own, up to the cap.
	for i := range jobs {
		rig.publish(t, "evt_steady"+strconv.Itoa(i)+"_", 1)
		testenv.Eventually(t, 10*time.Second, func() bool { return rig.count.get(attempt.Delivered) == 5+i+1 }, "delivery %d", i)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d == 5+jobs }, "%d deliveries", jobs)
	perDelivery := float64(cmds.n.Load()-before) / jobs
	t.Logf("%.2f Redis commands per delivery", perDelivery)
	if perDelivery >= 0.8 {
		t.Errorf("%.2f Redis commands per delivery of a stream; want well under 2 (acquire and release each)", perDelivery)
	}
}

// replica starts another deliverer for r's webhook, as a separate process
// would be, with the state st (on the same Redis keys as r's, to share the
// endpoint's caps). It runs on a JetStream server of its own, whose
// registry is a copy of r's, so that the jobs published to it are its own.
func (r *deliveryRig) replica(t *testing.T, st state.State, cfg Config) *deliveryRig {
	t.Helper()
	ctx := t.Context()
	n := testenv.StartNATS(t, 1)
	from, _ := r.n.Registry(t)
	to, _ := n.Registry(t)
	keys, err := from.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		e, err := from.Get(ctx, k)
		if err == nil {
			_, err = to.Put(ctx, k, e.Value())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return runRig(t, n, r.hook, st, cfg)
}

// The lease a replica keeps idle is free for another replica soon after:
// with a cap of 1, replica B's job is delivered within linger (and its
// hand-back delay) after replica A's last delivery, not when the lease
// expires (the attempt timeout and 5 s: 15 s here).
func TestIdleLeaseFreedForAnotherReplica(t *testing.T) {
	prefix := testenv.ID("idle") + ":"
	rcv := &receiver{seen: map[string]int{}}
	a := startRig(t, rcv, state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{}), Config{EndpointConcurrency: 1})
	b := a.replica(t, state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{}), Config{EndpointConcurrency: 1})

	a.publish(t, "evt_a", 1)
	testenv.Eventually(t, 10*time.Second, func() bool { d, _ := rcv.count(); return d == 1 }, "replica A's delivery")
	idle := time.Now()
	b.publish(t, "evt_b", 1)
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d == 2 }, "replica B's delivery")
	took := time.Since(idle)
	t.Logf("replica B delivered %s after replica A's delivery (%d handed back)", took, b.count.get(attempt.HandedBack))
	// A hand-back waits up to 250ms; a second one, when the sweep ran
	// late, as long again.
	if limit := defaultLinger + lingerSweep + 500*time.Millisecond + time.Second; took > limit {
		t.Errorf("replica B's job took %s, more than %s: the idle lease was not given back", took, limit)
	}
}

// kept returns the newest lease of key that r's deliverer keeps idle, if any.
func (r *deliveryRig) kept(key string) *slot {
	w := r.d.waiting
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := w.endpoints[key]; l != nil && len(l.idle) > 0 {
		return l.idle[len(l.idle)-1].s
	}
	return nil
}

// A kept lease holds its slot across replicas: while replica A keeps the
// only slot of an endpoint idle, another replica's acquire is refused.
func TestKeptLeaseHoldsTheSlot(t *testing.T) {
	ctx := t.Context()
	prefix := testenv.ID("kept") + ":"
	rcv := &receiver{seen: map[string]int{}}
	a := startRig(t, rcv, state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{}), Config{EndpointConcurrency: 1})
	other := state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{})
	key := a.hook.ID
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	// A trial is conclusive when the lease is still kept after the other
	// replica asked (the sweep may give it back in between).
	for trial := range 20 {
		a.publish(t, "evt_kept"+strconv.Itoa(trial)+"_", 1)
		var s *slot
		for deadline := time.Now().Add(10 * time.Second); s == nil; s = a.kept(key) {
			if time.Now().After(deadline) {
				t.Fatal("replica A kept no lease after a delivery")
			}
			<-poll.C
		}
		lease, ok, err := other.Acquire(ctx, key, 1, 0, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if err := other.Release(ctx, lease); err != nil {
				t.Fatal(err)
			}
		}
		if a.kept(key) != s {
			continue // given back meanwhile: try again
		}
		if ok {
			t.Fatalf("trial %d: another replica took the only slot while replica A kept it", trial)
		}
		return
	}
	t.Fatal("no conclusive trial: the kept lease was always given back before the other replica asked")
}

// A replica that holds none of a busy endpoint's slots gets one while the
// replica holding them all still has a long line: its refusal is
// remembered in the shared state, and the next chain of the other replica
// to renew its slot gives it up (Deliverer.renew). Renewed regardless,
// the slots stayed with replica A until its line was done, and replica B's
// job came back to a full endpoint until then.
func TestRenewalGivesWayToAReplicaWithoutSlots(t *testing.T) {
	prefix := testenv.ID("share") + ":"
	rcv := &receiver{seen: map[string]int{}, hold: func() { time.Sleep(10 * time.Millisecond) }} // the endpoint's latency
	cfg := Config{EndpointConcurrency: 4, SlotWait: 10 * time.Second}
	a := startRig(t, rcv, state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{}), cfg)
	b := a.replica(t, state.NewRedis(testenv.Redis(t), prefix, state.BreakerPolicy{}), cfg)

	// 1,600 jobs at 4 in flight and 10 ms each: 4 s or more of A holding
	// all four slots, 100 passes a second per slot, so that a chain renews
	// after about 0.7 s. B's job, handed back for 50-250 ms, then 100-500,
	// then 200-1,000, comes back within 1.75 s after three refusals.
	const burst = 1600
	a.publish(t, "evt_a", burst)
	testenv.Eventually(t, 20*time.Second, func() bool { d, _ := rcv.count(); return d >= 40 }, "replica A delivering")
	b.publish(t, "evt_b", 1)
	testenv.Eventually(t, 30*time.Second, func() bool { return b.count.get(attempt.Delivered) == 1 }, "replica B's delivery")
	d, _ := rcv.count()
	left := burst + 1 - d
	t.Logf("replica B delivered with %d of replica A's jobs left (%d handed back by B)", left, b.count.get(attempt.HandedBack))
	if left < burst/4 {
		t.Errorf("replica B's job was delivered with %d of replica A's %d jobs left: A kept every slot of its endpoint", left, burst)
	}
	a.allAcked(t)
	if d, total := rcv.count(); d != burst+1 || total != d {
		t.Errorf("%d deliveries for %d delivery ids, want %d once each", total, d, burst+1)
	}
}
