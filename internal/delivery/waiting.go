package delivery

import (
	"slices"
	"sync"
	"time"

	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/state"
)

// waiting holds, per endpoint, the jobs that found the endpoint at its
// in-flight cap while this process has attempts to it under way. When one
// of those attempts succeeds, its lease passes straight to the oldest
// waiting job: no hand-back to JetStream, no redelivery, no round trip to
// the shared state to release and take the slot again.
//
// A job waits only where the wait should be short: at most maxWait, and
// only as many jobs as the endpoint's running attempts can take in that
// time at their recent latency (none behind an endpoint that hangs). A job
// waits without a goroutine or a process-wide slot; what it holds is its
// place in its shard's ack-pending, which is why the wait is bounded.
// Jobs that outwait maxWait, that wait behind a failure, or that are left
// when the last running attempt ends are handed back as before.
//
// When no job waits, a lease that may still pass is kept idle for linger
// and taken by the endpoint's next job, again without the shared state (see
// claim); not where the endpoint was at its cap lately (see contendedFor).
// An idle lease still counts in the shared state, so the cap holds across
// replicas; it goes back after linger, or at close.
type waiting struct {
	maxWait time.Duration

	mu sync.Mutex
	// linger is how long an idle lease is kept (defaultLinger).
	linger    time.Duration
	endpoints map[string]*line
	lingering map[string]*line // the lines with idle leases
	closed    bool
}

// line is one endpoint's attempts in this process and the jobs behind them.
type line struct {
	running int           // attempts holding a lease of the endpoint
	latency time.Duration // moving average of their latency; 0: none yet
	jobs    []waiter      // oldest first
	last    time.Time     // when an attempt last ended
	idle    []idleSlot    // leases no attempt uses, oldest first
	// refusedAt is when the shared state last refused a job of ours a
	// slot; zero once a slot of ours was freed since.
	refusedAt time.Time
	// capAt is when the endpoint was last found at its cap here: refused
	// by the shared state, or all of limit taken by our own attempts.
	capAt time.Time
}

// idleSlot is a lease of ours kept for the endpoint's next job.
type idleSlot struct {
	s     *slot
	since time.Time
}

// defaultLinger is how long an idle lease is kept. A next job within it
// saves a release and an acquire, two round trips to the shared state;
// other replicas find the slot taken for at most linger+lingerSweep after
// our last attempt, a fraction of their hand-back delay (50-250ms).
const (
	defaultLinger = 25 * time.Millisecond
	lingerSweep   = 10 * time.Millisecond
)

// refusedFor is how long a refusal of the shared state is believed while
// attempts of ours to the endpoint run: a job that comes within it joins
// the line without asking again (a job the line has no room for still
// asks). Another replica's freed slot is missed for at most that long.
const refusedFor = 10 * time.Millisecond

// contendedFor is how long after the endpoint was last found at its cap no
// lease of it is kept idle. Where the cap binds, other replicas are likely
// refused too, and a slot we keep for our next job is one they cannot take:
// kept leases would pass from job to job of ours (up to maxPasses), and a
// replica left without one hands back every job it pulls for the endpoint
// (about 2.5 times the hand-backs with two replicas at saturation, in
// BenchmarkDeliver). Below the cap, a kept lease costs other replicas
// nothing.
const contendedFor = time.Second

// idleLine is how long the line of an endpoint with no attempt running is
// kept (for its latency) before it is forgotten.
const idleLine = time.Minute

// waiter is a job that passed every check but the endpoint's in-flight cap.
type waiter struct {
	m     message
	j     *job.Job
	entry *registry.Entry
	log   *jobLog
	since time.Time
}

// maxWaiters bounds one endpoint's line whatever its latency; a shard's
// MaxAckPending bounds what can reach it anyway.
const maxWaiters = 4096

func newWaiting(maxWait time.Duration) *waiting {
	return &waiting{maxWait: maxWait, linger: defaultLinger, endpoints: make(map[string]*line), lingering: make(map[string]*line)}
}

// started counts an attempt that took a lease of key from the shared state.
func (w *waiting) started(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.endpoints[key]
	if l == nil {
		l = &line{}
		w.endpoints[key] = l
	}
	l.running++
}

// holds returns how many slots of key this process holds (running
// attempts and idle leases) and how many jobs wait for one.
func (w *waiting) holds(key string) (held, waiters int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.endpoints[key]
	if l == nil {
		return 0, 0
	}
	return l.running + len(l.idle), len(l.jobs)
}

// enqueue puts a job that the shared state refused a slot in key's line
// if an attempt of this process will free a slot soon enough; false means
// the caller hands the job back. The refusal is remembered for refusedFor.
func (w *waiting) enqueue(key string, wt waiter) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.endpoints[key]
	if l == nil && !w.closed {
		l = &line{last: wt.since} // kept for idleLine, to remember the refusal
		w.endpoints[key] = l
	}
	if l != nil {
		l.refusedAt, l.capAt = wt.since, wt.since
	}
	return w.enqueueLocked(l, wt)
}

// claimed is what a job does, according to claim, before it asks the
// shared state for a slot.
type claimed int

const (
	askShared claimed = iota // ask the shared state
	reused                   // take the idle lease claim returned
	joined                   // wait in the line
	atCap                    // hand it back: the cap is known to be reached and the line cannot take it
)

// claim decides for a job of key, before it asks the shared state for a
// slot: it takes an idle lease of ours if one may serve it (counted as a
// pass, so the passable rules hold), or else it joins the line when the
// shared state is known to be at the cap (see join).
func (w *waiting) claim(key string, wt waiter, limit int, ttl time.Duration) (*slot, claimed) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.endpoints[key]
	if s := w.reuseLocked(key, l, limit, ttl, wt.since); s != nil {
		return s, reused
	}
	return nil, w.joinLocked(l, wt, limit)
}

// join puts a job at the end of key's line without asking the shared state
// for a slot, when that is known to be at the cap: jobs are waiting already
// (and a newcomer must not overtake them), this process alone holds limit
// slots, or the shared state refused one less than refusedFor ago. False:
// ask the shared state. (claim also hands back, without asking, a job that
// comes within refusedFor of a refusal when no attempt of ours runs: other
// replicas hold the cap, and asking could only be refused again.)
func (w *waiting) join(key string, wt waiter, limit int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.joinLocked(w.endpoints[key], wt, limit) == joined
}

func (w *waiting) joinLocked(l *line, wt waiter, limit int) claimed {
	switch {
	case l == nil:
		return askShared
	case l.running == 0:
		if wt.since.Sub(l.refusedAt) < refusedFor {
			return atCap // refused just now, and no attempt of ours to wait for
		}
		return askShared
	case l.running >= limit:
		// Asking could only be refused: our own attempts hold the cap.
		l.capAt = wt.since
		if w.enqueueLocked(l, wt) {
			return joined
		}
		return atCap
	case len(l.jobs) > 0 || wt.since.Sub(l.refusedAt) < refusedFor:
		if w.enqueueLocked(l, wt) {
			return joined
		}
	}
	return askShared
}

// reuseLocked takes the newest idle lease of key that may serve one more
// job (the older ones linger out), unless this process runs limit attempts
// already (the webhook's cap was lowered since the lease was taken).
func (w *waiting) reuseLocked(key string, l *line, limit int, ttl time.Duration, now time.Time) *slot {
	if l == nil || w.closed || l.running >= limit {
		return nil
	}
	for i := len(l.idle) - 1; i >= 0; i-- {
		s := l.idle[i].s
		if !s.passable(ttl, now) {
			continue // for lingered to give back
		}
		l.idle = slices.Delete(l.idle, i, i+1)
		if len(l.idle) == 0 {
			delete(w.lingering, key)
		}
		s.passes++
		l.running++
		return s
	}
	return nil
}

func (w *waiting) enqueueLocked(l *line, wt waiter) bool {
	if w.closed || l == nil || l.running == 0 || len(l.jobs) >= l.capacity(w.maxWait) {
		return false
	}
	l.jobs = append(l.jobs, wt)
	return true
}

// capacity is how many jobs the running attempts take within maxWait at
// their recent latency: one per attempt until a latency is known.
func (l *line) capacity(maxWait time.Duration) int {
	if l.latency <= 0 {
		return l.running
	}
	return min(maxWaiters, l.running*int(maxWait/l.latency))
}

// done ends an attempt of key that held a lease. With pass (the attempt
// succeeded and its slot may be reused) the oldest waiting job is returned
// and inherits the slot; otherwise the attempt stops running. orphans are
// the jobs that must be handed back now: all of the line after a failure
// (they go through the circuit breaker again), or what is left when no
// attempt runs any more.
func (w *waiting) done(key string, latency time.Duration, ok, pass bool, now time.Time) (next *waiter, orphans []waiter) {
	next, orphans, _ = w.end(key, nil, latency, ok, pass, now)
	return next, orphans
}

// end is done for the attempt's slot s: when it may pass but no job waits
// for it, it is kept idle for the endpoint's next job (kept) instead of
// going back to the shared state, unless the endpoint was at its cap here
// less than contendedFor ago.
func (w *waiting) end(key string, s *slot, latency time.Duration, ok, pass bool, now time.Time) (next *waiter, orphans []waiter, kept bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.endpoints[key]
	if l == nil || l.running == 0 { // not counted by started: nothing to do
		return nil, nil, false
	}
	l.last = now
	switch {
	case latency <= 0: // no attempt made
	case l.latency == 0:
		l.latency = latency
	default:
		l.latency += (latency - l.latency) / 8
	}
	pass = ok && pass && !w.closed
	if pass && len(l.jobs) > 0 {
		wt := l.jobs[0]
		l.jobs[0] = waiter{}
		l.jobs = l.jobs[1:]
		return &wt, nil, false
	}
	l.running--
	l.refusedAt = time.Time{} // the slot is free, here or in the shared state
	if pass && s != nil && now.Sub(l.capAt) >= contendedFor {
		l.idle = append(l.idle, idleSlot{s: s, since: now})
		w.lingering[key] = l
		kept = true
	}
	if !ok || l.running == 0 {
		orphans, l.jobs = l.jobs, nil
	}
	return nil, orphans, kept
}

// lingered takes out the idle leases kept for linger or longer, those that
// may serve no more jobs and those of an endpoint found at its cap since,
// for the caller to give back to the shared state; after close, all of
// them.
func (w *waiting) lingered(now time.Time, ttl time.Duration) []*slot {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*slot
	for key, l := range w.lingering {
		keep := l.idle[:0]
		for _, is := range l.idle {
			if w.closed || now.Sub(is.since) >= w.linger || !is.s.passable(ttl, now) || now.Sub(l.capAt) < contendedFor {
				out = append(out, is.s)
			} else {
				keep = append(keep, is)
			}
		}
		clear(l.idle[len(keep):])
		if l.idle = keep; len(keep) == 0 {
			delete(w.lingering, key)
		}
	}
	return out
}

// expired takes out the jobs that have waited maxWait or longer, and
// forgets the endpoints idle for a while.
func (w *waiting) expired(now time.Time) []waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []waiter
	for key, l := range w.endpoints {
		if l.running == 0 && len(l.jobs) == 0 && len(l.idle) == 0 && now.Sub(l.last) >= idleLine {
			delete(w.endpoints, key)
			continue
		}
		n := 0
		for n < len(l.jobs) && now.Sub(l.jobs[n].since) >= w.maxWait {
			n++
		}
		if n > 0 {
			out = append(out, l.jobs[:n]...)
			l.jobs = append(l.jobs[:0:0], l.jobs[n:]...)
		}
	}
	return out
}

// close refuses new waiters and idle leases, and returns everything still
// waiting; lingered then returns the idle leases.
func (w *waiting) close() []waiter {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	var out []waiter
	for _, l := range w.endpoints {
		out = append(out, l.jobs...)
		l.jobs = nil
	}
	return out
}

// maxPasses bounds how many jobs in a row one slot serves before it is
// renewed in the shared state, the moment it goes to a replica holding
// fewer of the endpoint's slots that was refused one (see
// Deliverer.renew). Otherwise the replica that holds
// an endpoint's slots keeps them all while the endpoint stays busy, and
// every job that another replica pulls for it finds the cap and is handed
// back.
const maxPasses = 64

// slot is an endpoint lease this process holds.
type slot struct {
	lease  state.Lease
	at     time.Time // when it was taken from the shared state
	passes int       // jobs it served after the first, passed or reused
}

// passable reports whether s may serve one more job without a renewal:
// not too many in a row, and its lease is fresh (the shared state expires
// it after ttl; a chain renews it once half of that has gone).
func (s *slot) passable(ttl time.Duration, now time.Time) bool {
	return s.passes < maxPasses && now.Sub(s.at) < ttl/2
}
