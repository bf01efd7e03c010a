package dispatch

import (
	"sync"
	"sync/atomic"
	"time"
)

// settledJobs remembers, for each event left for redelivery, the webhooks
// whose handed-over jobs were already settled (delivered, rescheduled,
// dead-lettered or stored in DELIVERIES), so that dispatching the event
// again makes only the other jobs. (A job the dispatcher stored itself
// needs no memory: storing it again is deduplicated by its Nats-Msg-Id.) Without it, one job that could not be stored sends every
// delivered job of its event again: under overload, a storm of duplicates.
//
// It is this process's memory, bounded in size and age: an event
// redelivered to another dispatcher, or after a restart, is dispatched
// whole, which is still at least once.
type settledJobs struct {
	n       atomic.Int32 // entries, read without the lock on the hot path
	mu      sync.Mutex
	byEvent map[string]settledEntry
	order   []string // event ids, oldest first
}

type settledEntry struct {
	hooks map[string]struct{}
	at    time.Time
}

const (
	// settledMax bounds the events remembered; the oldest go first.
	settledMax = 10_000
	// settledAge bounds how long an event is remembered: a redelivery
	// comes a second after the event was left, or not to this process.
	settledAge = 10 * time.Minute
)

// remember records hooks as the settled jobs of event id.
func (s *settledJobs) remember(id string, hooks map[string]struct{}, now time.Time) {
	if len(hooks) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byEvent == nil {
		s.byEvent = make(map[string]settledEntry)
	}
	for len(s.order) > 0 && (len(s.byEvent) >= settledMax || len(s.order) > 2*settledMax || now.Sub(s.byEvent[s.order[0]].at) > settledAge) {
		delete(s.byEvent, s.order[0])
		s.order = s.order[1:]
	}
	if _, ok := s.byEvent[id]; !ok {
		s.order = append(s.order, id)
	}
	s.byEvent[id] = settledEntry{hooks: hooks, at: now}
	s.n.Store(int32(len(s.byEvent)))
}

// take returns and forgets the settled jobs of event id (nil: none).
func (s *settledJobs) take(id string) map[string]struct{} {
	if s.n.Load() == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byEvent[id]
	if !ok {
		return nil
	}
	delete(s.byEvent, id) // its id stays in order until it ages out
	s.n.Store(int32(len(s.byEvent)))
	return e.hooks
}
