package delivery

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/state"
)

// admit asks the endpoint's circuit breaker. When the circuit is open the
// job is held until it may close (see hold.go), without counting an
// attempt.
func (d *Deliverer) admit(ctx context.Context, m message, j job.Job, log *jobLog) bool {
	now := time.Now()
	adm, err := d.local.admission(j.WebhookID, now, func() (state.Admission, error) {
		return d.deps.State.Admit(ctx, j.WebhookID, now)
	})
	if err != nil {
		log.WarnContext(ctx, "delivery: breaker state unavailable; attempting anyway", "err", err)
		return true
	}
	if adm.Allowed {
		return true
	}
	log.DebugContext(ctx, "circuit open: job held", "retry_at", adm.RetryAt)
	d.cfg.Metrics.Outcome(attempt.Deferred)
	d.finish(ctx, m, log, d.hold(ctx, m, j), "hold")
	return false
}

// allow takes a rate token of the endpoint, if it has a rate limit. A job
// that must wait for one is handed back (see backOff).
func (d *Deliverer) allow(ctx context.Context, w *waiter) bool {
	rate := w.entry.EffectiveRate(d.limits)
	if rate <= 0 {
		return true
	}
	burst := d.cfg.EndpointBurst
	if w.entry.RateLimit > 0 {
		burst = max(1, int(rate))
	}
	wait, err := d.deps.State.Allow(ctx, w.j.WebhookID, rate, burst, time.Now())
	if err != nil {
		w.log.WarnContext(ctx, "delivery: rate state unavailable; attempting anyway", "err", err)
		return true
	}
	if wait > 0 {
		d.backOff(ctx, w.m, wait, w.log)
		return false
	}
	return true
}

// acquire takes an in-flight slot of the endpoint: an idle one of ours, or
// one from the shared state. A job that finds the endpoint at its cap
// waits in this process when an attempt of ours will pass it a slot soon
// (see waiting); otherwise it is handed back with a short delay. It is
// never held longer.
func (d *Deliverer) acquire(ctx context.Context, w *waiter) (*slot, bool) {
	now := time.Now()
	w.since = now
	limit := w.entry.EffectiveConcurrency(d.limits)
	s, c := d.waiting.claim(w.j.WebhookID, *w, limit, d.leaseTTL())
	switch c {
	case reused:
		return s, true
	case joined:
		return nil, false
	case atCap:
		d.handBack(ctx, w.m, w.log)
		return nil, false
	}
	held, _ := d.waiting.holds(w.j.WebhookID)
	lease, ok, err := d.deps.State.Acquire(ctx, w.j.WebhookID, limit, held, d.leaseTTL(), now)
	if err != nil {
		w.log.WarnContext(ctx, "delivery: in-flight state unavailable; attempting anyway", "err", err)
		return nil, true
	}
	if !ok {
		if !d.waiting.enqueue(w.j.WebhookID, *w) {
			d.handBack(ctx, w.m, w.log)
		}
		return nil, false
	}
	d.waiting.started(w.j.WebhookID)
	return &slot{lease: lease, at: now}, true
}

// leaseTTL is how long the shared state keeps an endpoint slot whose
// holder died without releasing it.
func (d *Deliverer) leaseTTL() time.Duration { return d.cfg.Timeout + 5*time.Second }

// attemptEnd is how the use of an endpoint slot ended, for release.
type attemptEnd int

const (
	// attemptSucceeded: the slot may pass to the next job.
	attemptSucceeded attemptEnd = iota
	// attemptFailed: the jobs waiting for the endpoint are handed back
	// (they go through the circuit breaker again).
	attemptFailed
	// noAttempt: the slot was not used (the job it passed to had no rate
	// token); it goes back, and the line waits for our other attempts.
	noAttempt
)

// release ends the use of slot s of endpoint key (limit slots in all).
// After a success the slot passes to the oldest job waiting for the
// endpoint, if any; a slot that has served its share (see passable) is
// renewed for it first. With none waiting, it is kept idle for the
// endpoint's next job (see waiting). Otherwise it goes back to the shared
// state. Jobs left waiting behind a failure, or behind no attempt running
// any more, are handed back.
func (d *Deliverer) release(ctx context.Context, key string, s *slot, limit int, latency time.Duration, end attemptEnd) *waiter {
	now := time.Now()
	ok, mayPass, released := end != attemptFailed, end == attemptSucceeded, false
	if mayPass && !s.passable(d.leaseTTL(), now) {
		mayPass, released = d.renew(ctx, key, s, limit, now)
	}
	next, orphans, kept := d.waiting.end(key, s, latency, ok, mayPass, now)
	switch {
	case next != nil:
		s.passes++
	case !kept && !released:
		d.giveBack(ctx, s)
	}
	for _, o := range orphans {
		d.handBack(ctx, o.m, o.log)
	}
	return next
}

// renew keeps slot s, which has served its share, for the jobs waiting
// for its endpoint, unless a process holding at least two fewer of the
// endpoint's slots was refused one since (see state.State.Renew): then it
// is released (released), and that process takes it when it asks again.
// A chain of passes so ends only where another process needs the slot.
// Ended at a fixed length, every chain left a slot free that no job of
// ours asked for while others waited (they join the line instead): the
// running attempts dwindled until the line was handed back.
func (d *Deliverer) renew(ctx context.Context, key string, s *slot, limit int, now time.Time) (renewed, released bool) {
	held, waiters := d.waiting.holds(key)
	if waiters == 0 {
		return false, false
	}
	ok, err := d.deps.State.Renew(ctx, s.lease, limit, held, d.leaseTTL(), now)
	if err != nil {
		d.log.WarnContext(ctx, "delivery: renewing endpoint slot failed; giving it back", "webhook_id", key, "err", err)
		return false, false
	}
	if !ok {
		return false, true
	}
	s.at, s.passes = now, 0
	return true, false
}

// giveBack releases the slots to the shared state.
func (d *Deliverer) giveBack(ctx context.Context, slots ...*slot) {
	for _, s := range slots {
		if err := d.deps.State.Release(context.WithoutCancel(ctx), s.lease); err != nil {
			d.log.WarnContext(ctx, "delivery: releasing endpoint slot failed (it expires by itself)", "webhook_id", s.lease.Key, "err", err)
		}
	}
}

// handBack returns a job that found its endpoint at the in-flight cap, to
// be delivered again in a moment (to this or another replica), later each
// time it comes back to a full endpoint (see handBackDelay). A wait of
// seconds is a message schedule (see backOff), so that a backlog of one
// slow endpoint does not hold its shard's ack-pending and starve the
// other endpoints of that shard.
func (d *Deliverer) handBack(ctx context.Context, m message, log *jobLog) {
	d.cfg.Metrics.Outcome(attempt.HandedBack)
	d.backOff(ctx, m, handBackDelay(m.deliveries()), log)
}

// handBackDelay is how long a job handed back for the n-th time waits: 50
// to 250 ms the first time, doubling each time after, at most
// maxHandBackDelay. An endpoint slower than its traffic builds a backlog
// that would otherwise bounce between the shard and the deliverers every
// 150 ms on average, costing every other endpoint CPU.
func handBackDelay(n uint64) time.Duration {
	lo := 50 * time.Millisecond << min(max(n, 1)-1, 8)
	return min(lo+rand.N(4*lo), maxHandBackDelay)
}

// maxHandBackDelay bounds handBackDelay.
const maxHandBackDelay = 10 * time.Second

// backOff returns a job that may not run yet: a short wait is a Nak with
// delay (the message stays in the stream, this worker moves on); a long one
// is a message schedule, so the consumer's ack-pending is not held.
func (d *Deliverer) backOff(ctx context.Context, m message, wait time.Duration, log *jobLog) {
	if wait < 2*time.Second {
		_ = m.requeue(wait)
		return
	}
	j, err := job.FromMsg(natsHeader(m), m.Data())
	if err != nil {
		_ = m.requeue(wait)
		return
	}
	d.finish(ctx, m, log, d.schedule(ctx, m.Subject(), j, scheduleTime(time.Now().Add(wait))), "reschedule")
}
