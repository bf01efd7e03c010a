package state

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"
)

// defaultMaxKeys bounds each of Memory's tables.
const defaultMaxKeys = 100_000

// Memory is the State of a single process (webhookd without Redis). It
// follows Redis's rules exactly; expiry is honoured lazily, on access and
// when a table is full, against the callers' now (the attempts index, whose
// operations take no now, ages on the wall clock). Each table holds at most
// a fixed number of keys: when a full table has nothing expired, arbitrary
// keys are dropped, which resets their state, as losing Redis would.
type Memory struct {
	policy BreakerPolicy
	wall   func() time.Time

	mu       sync.Mutex
	seq      uint64
	leases   table[*leaseSet]
	buckets  table[float64] // GCRA theoretical arrival time µs
	health   table[memHealth]
	attempts table[memAttempts]
}

type memHealth struct {
	fails                       int
	first, openUntil, probeTill int64 // µs
	opens                       int
	expires                     int64 // µs
}

type memAttempts struct {
	records [][]byte // oldest first
	expires time.Time
}

var _ State = (*Memory)(nil)

// NewMemory returns an empty in-process state. It panics on an invalid
// policy (see BreakerPolicy).
func NewMemory(p BreakerPolicy) *Memory {
	m := &Memory{policy: mustPolicy(p), wall: time.Now}
	m.setMaxKeys(defaultMaxKeys)
	return m
}

func (m *Memory) setMaxKeys(n int) {
	m.leases.max, m.buckets.max, m.health.max, m.attempts.max = n, n, n, n
}

// Acquire implements State.
func (m *Memory) Acquire(_ context.Context, key string, limit, held int, ttl time.Duration, now time.Time) (Lease, bool, error) {
	if err := checkAcquire(limit, ttl); err != nil {
		return Lease{}, false, err
	}
	us := micros(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.leaseSet(key, limit, us)
	if len(set.ids) >= limit && set.prune(us) >= limit {
		if set.refusedUntil <= us || held < set.refusedHeld {
			set.refusedUntil, set.refusedHeld = us+ttl.Microseconds(), held
		}
		return Lease{}, false, nil
	}
	m.seq++
	id := strconv.FormatUint(m.seq, 36)
	exp := us + ttl.Microseconds()
	set.ids[id] = exp
	set.next = min(set.next, exp)
	return Lease{Key: key, ID: id}, true, nil
}

// leaseSet returns key's set of leases, made if it has none.
func (m *Memory) leaseSet(key string, limit int, now int64) *leaseSet {
	set, ok := m.leases.m[key]
	if !ok {
		m.leases.makeRoom(func(h *leaseSet) bool { return h.prune(now) == 0 })
		set = &leaseSet{ids: make(map[string]int64, limit), next: math.MaxInt64}
		m.leases.put(key, set)
	}
	return set
}

// leaseSet is one key's leases: id -> expiry µs. next is at or before the
// earliest expiry, so a full set is only scanned when one may have passed.
// A refused Acquire is remembered until refusedUntil (µs; 0: none) with
// refusedHeld, the slots its asker held; the neediest refusal wins.
type leaseSet struct {
	ids          map[string]int64
	next         int64
	refusedUntil int64
	refusedHeld  int
}

// prune drops the expired leases and returns how many are left.
func (h *leaseSet) prune(now int64) int {
	if now < h.next {
		return len(h.ids)
	}
	h.next = math.MaxInt64
	for id, exp := range h.ids {
		if exp <= now {
			delete(h.ids, id)
		} else {
			h.next = min(h.next, exp)
		}
	}
	return len(h.ids)
}

// Release implements State.
func (m *Memory) Release(_ context.Context, lease Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if set, ok := m.leases.m[lease.Key]; ok {
		m.dropLease(set, lease)
	}
	return nil
}

// dropLease removes lease from its key's set, and the set once it
// holds neither a lease nor a refusal to remember.
func (m *Memory) dropLease(set *leaseSet, lease Lease) {
	delete(set.ids, lease.ID)
	if len(set.ids) == 0 && set.refusedUntil == 0 {
		delete(m.leases.m, lease.Key)
	}
}

// Renew implements State.
func (m *Memory) Renew(_ context.Context, lease Lease, limit, held int, ttl time.Duration, now time.Time) (bool, error) {
	if err := checkAcquire(limit, ttl); err != nil {
		return false, err
	}
	us := micros(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.leaseSet(lease.Key, limit, us)
	if set.refusedUntil > us && set.refusedHeld < held-1 {
		set.refusedUntil = 0
		m.dropLease(set, lease)
		return false, nil
	}
	if exp, mine := set.ids[lease.ID]; !mine || exp <= us {
		delete(set.ids, lease.ID)
		if set.prune(us) >= limit {
			return false, nil
		}
	}
	exp := us + ttl.Microseconds()
	set.ids[lease.ID] = exp
	set.next = min(set.next, exp)
	return true, nil
}

// Allow implements State. It is GCRA, as in Redis: a bucket is one
// theoretical arrival time, and a bucket whose time has passed is full.
func (m *Memory) Allow(_ context.Context, key string, rate float64, burst int, now time.Time) (time.Duration, error) {
	if err := checkAllow(rate, burst); err != nil {
		return 0, err
	}
	us := float64(micros(now))
	interval := 1e6 / rate
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok := m.buckets.m[key]
	if !ok || tat < us {
		tat = us
	}
	newTat := tat + interval
	if allowAt := newTat - float64(burst)*interval; us < allowAt {
		return time.Duration(math.Ceil(allowAt-us)) * time.Microsecond, nil
	}
	if !ok {
		m.buckets.makeRoom(func(t float64) bool { return t <= us })
	}
	m.buckets.put(key, math.RoundToEven(newTat))
	return 0, nil
}

// healthAt returns key's live counters at now (zero if unknown or expired).
func (m *Memory) healthAt(key string, now int64) memHealth {
	h, ok := m.health.m[key]
	if !ok {
		return memHealth{}
	}
	if h.expires <= now {
		delete(m.health.m, key)
		return memHealth{}
	}
	return h
}

func (m *Memory) storeHealth(key string, h memHealth, now int64) {
	h.expires = now + healthTTL.Microseconds()
	if _, ok := m.health.m[key]; !ok {
		m.health.makeRoom(func(h memHealth) bool { return h.expires <= now })
	}
	m.health.put(key, h)
}

// Admit implements State.
func (m *Memory) Admit(_ context.Context, key string, now time.Time) (Admission, error) {
	us := micros(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.healthAt(key, us)
	switch {
	case h.openUntil == 0:
		return Admission{Allowed: true}, nil
	case us < h.openUntil:
		return Admission{RetryAt: fromMicros(h.openUntil)}, nil
	case us < h.probeTill:
		return Admission{RetryAt: fromMicros(min(us+probeRetry.Microseconds(), h.probeTill))}, nil
	}
	h.probeTill = us + m.policy.ProbeTTL.Microseconds()
	m.storeHealth(key, h, us)
	return Admission{Allowed: true, Probe: true}, nil
}

// Success implements State.
func (m *Memory) Success(_ context.Context, key string, _ time.Time) (Health, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.health.m, key)
	return Health{}, nil
}

// Failure implements State.
func (m *Memory) Failure(_ context.Context, key string, now time.Time) (Health, error) {
	us := micros(now)
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.healthAt(key, us)
	h.fails++
	if h.first == 0 {
		h.first = us
	}
	if h.fails >= m.policy.Threshold && us >= h.openUntil {
		h.openUntil = us + m.policy.openFor(h.opens).Microseconds()
		h.opens++
	}
	h.probeTill = 0
	m.storeHealth(key, h, us)
	return h.public(), nil
}

func (h memHealth) public() Health {
	return Health{ConsecutiveFailures: h.fails, FirstFailureAt: fromMicros(h.first), OpenUntil: fromMicros(h.openUntil)}
}

// Health implements State. It takes no now, so it returns the counters as
// last written even if they have expired but not yet been swept.
func (m *Memory) Health(_ context.Context, key string) (Health, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health.m[key].public(), nil
}

// AddAttempts implements State.
func (m *Memory) AddAttempts(_ context.Context, key string, records [][]byte, keep int) error {
	if err := checkAttempt(keep); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	now := m.wall()
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.attempts.m[key]
	if ok && !now.Before(a.expires) {
		a, ok = memAttempts{}, false
	}
	if !ok {
		m.attempts.makeRoom(func(a memAttempts) bool { return !now.Before(a.expires) })
	}
	for _, r := range records[max(0, len(records)-keep):] {
		a.records = append(a.records, append([]byte(nil), r...))
	}
	if drop := len(a.records) - keep; drop > 0 {
		// Shift instead of reslicing so the backing array does not grow forever.
		a.records = append(a.records[:0], a.records[drop:]...)
		clear(a.records[len(a.records):cap(a.records)][:drop])
	}
	a.expires = now.Add(attemptsTTL)
	m.attempts.put(key, a)
	return nil
}

// RecentAttempts implements State.
func (m *Memory) RecentAttempts(_ context.Context, key string, n int) ([][]byte, error) {
	now := m.wall()
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.attempts.m[key]
	if ok && !now.Before(a.expires) {
		delete(m.attempts.m, key)
		ok = false
	}
	if !ok || n < 1 {
		return [][]byte{}, nil
	}
	n = min(n, len(a.records))
	out := make([][]byte, n)
	for i := range n {
		out[i] = append([]byte(nil), a.records[len(a.records)-1-i]...)
	}
	return out, nil
}

// table is a map of at most max keys.
type table[V any] struct {
	m   map[string]V
	max int
}

func (t *table[V]) put(key string, v V) {
	if t.m == nil {
		t.m = make(map[string]V)
	}
	t.m[key] = v
}

// makeRoom is called before adding a key. When the table is full it drops
// the expired entries and then, if still above seven eighths of max,
// arbitrary ones down to that, so full sweeps stay rare.
func (t *table[V]) makeRoom(expired func(V) bool) {
	if len(t.m) < t.max {
		return
	}
	for k, v := range t.m {
		if expired(v) {
			delete(t.m, k)
		}
	}
	target := t.max - t.max/8
	for k := range t.m {
		if len(t.m) < target {
			break
		}
		delete(t.m, k)
	}
}
