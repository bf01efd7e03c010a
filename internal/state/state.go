// Package state is the per-endpoint state that deliverer replicas share:
// in-flight leases (a concurrency cap), token-bucket rate limits, circuit
// breaker and health counters, and a capped index of recent attempts.
//
// Two implementations pass one conformance suite: Redis, shared by every
// process (each operation is one atomic round trip), and Memory, for a
// single process without Redis. Nothing here is a record: losing it (a Redis
// FLUSHALL, a restart) only resets counters.
//
// Every operation that depends on time takes now from the caller, so all
// replicas decide with the same rule and tests control the clock; times are
// kept to the microsecond.
package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// State is the shared per-endpoint state. Keys are endpoint keys (webhook
// ids). Invalid arguments return an error wrapping ErrInvalid; other errors
// come from the backend (Redis).
type State interface {
	// Acquire takes one of limit in-flight slots of key for ttl; a crashed
	// holder's slot frees itself after ttl. ok is false when all are taken;
	// the refusal is then remembered for ttl with held, how many slots of
	// key the asker holds already (see Renew).
	Acquire(ctx context.Context, key string, limit, held int, ttl time.Duration, now time.Time) (lease Lease, ok bool, err error)
	// Release frees a lease's slot. Releasing a lease that expired or was
	// already released is not an error.
	Release(ctx context.Context, lease Lease) error
	// Renew keeps a lease for ttl from now, for its holder's next job. The
	// holder holds held slots of the key, this one included. If an asker
	// that held at least two fewer was refused since a Renew last gave way,
	// the lease is released instead, for that asker to take when it asks
	// again; the refusal is forgotten, and ok is false. One refusal so moves
	// one slot, from a process that holds more of an endpoint's slots to one
	// that holds fewer, and a process alone keeps its own. A lease that
	// expired is taken again if one of limit slots is free.
	Renew(ctx context.Context, lease Lease, limit, held int, ttl time.Duration, now time.Time) (ok bool, err error)

	// Allow is a token bucket of rate tokens a second and burst capacity.
	// It takes one token and returns 0, or returns how long until one is
	// available, taking none.
	Allow(ctx context.Context, key string, rate float64, burst int, now time.Time) (wait time.Duration, err error)

	// Admit asks the circuit breaker whether an attempt may be made now.
	Admit(ctx context.Context, key string, now time.Time) (Admission, error)
	// Success records a successful attempt: the circuit closes and every
	// counter resets.
	Success(ctx context.Context, key string, now time.Time) (Health, error)
	// Failure records a failed attempt and may open the circuit.
	Failure(ctx context.Context, key string, now time.Time) (Health, error)
	// Health returns the counters; the zero Health for an unknown key.
	Health(ctx context.Context, key string) (Health, error)

	// AddAttempts prepends records (oldest first) to key's recent attempts,
	// keeping the newest keep. The records are copied.
	AddAttempts(ctx context.Context, key string, records [][]byte, keep int) error
	// RecentAttempts returns up to n records, newest first; none for an
	// unknown key.
	RecentAttempts(ctx context.Context, key string, n int) ([][]byte, error)
}

// Lease is one held in-flight slot.
type Lease struct{ Key, ID string }

// Health is an endpoint's failure counters.
type Health struct {
	ConsecutiveFailures int
	FirstFailureAt      time.Time // start of the current failing streak; zero when healthy
	OpenUntil           time.Time // the circuit is open until then; zero: closed
}

// Admission is the breaker's answer to Admit.
type Admission struct {
	Allowed bool
	Probe   bool      // this attempt is the half-open probe: report its outcome
	RetryAt time.Time // when not allowed: when to ask again
}

// BreakerPolicy configures the circuit breaker. A zero field takes its
// default (see WithDefaults); NewMemory and NewRedis panic, naming the
// field, on a negative one or a MaxOpen below BaseOpen: a policy is
// written in code, never read from input.
type BreakerPolicy struct {
	Threshold int           // consecutive failures that open the circuit; default 5
	BaseOpen  time.Duration // first open period, doubled on each reopen; default 30s
	MaxOpen   time.Duration // cap on the open period; default 10m
	ProbeTTL  time.Duration // a half-open probe that reports nothing frees its lock after this; default 20s
}

// ErrInvalid is wrapped by the errors for invalid arguments (a limit, ttl,
// rate, burst or max below its minimum).
var ErrInvalid = errors.New("state: invalid argument")

const (
	// healthTTL keeps breaker counters after their last write. Auto-disable
	// needs FirstFailureAt for 3+ days of failing, written at least every
	// retry interval (10 h), so a week and a day leaves ample room.
	healthTTL = 8 * 24 * time.Hour
	// attemptsTTL keeps the recent-attempts index after its last write,
	// like the ATTEMPTS stream's max age.
	attemptsTTL = 7 * 24 * time.Hour
	// probeRetry is how soon a caller refused during a half-open probe
	// asks again (sooner if the probe lock expires first).
	probeRetry = 5 * time.Second
)

// WithDefaults returns p with each zero field set to its default; MaxOpen's
// is 10m, or BaseOpen if that is longer.
func (p BreakerPolicy) WithDefaults() BreakerPolicy {
	p.Threshold = cmp.Or(p.Threshold, 5)
	p.BaseOpen = cmp.Or(p.BaseOpen, 30*time.Second)
	p.MaxOpen = cmp.Or(p.MaxOpen, max(10*time.Minute, p.BaseOpen))
	p.ProbeTTL = cmp.Or(p.ProbeTTL, 20*time.Second)
	return p
}

func (p BreakerPolicy) validate() error {
	switch {
	case p.Threshold < 1:
		return fmt.Errorf("state: BreakerPolicy.Threshold must be at least 1, got %d", p.Threshold)
	case p.BaseOpen <= 0:
		return fmt.Errorf("state: BreakerPolicy.BaseOpen must be positive, got %s", p.BaseOpen)
	case p.MaxOpen < p.BaseOpen:
		return fmt.Errorf("state: BreakerPolicy.MaxOpen (%s) must be at least BaseOpen (%s)", p.MaxOpen, p.BaseOpen)
	case p.ProbeTTL <= 0:
		return fmt.Errorf("state: BreakerPolicy.ProbeTTL must be positive, got %s", p.ProbeTTL)
	}
	return nil
}

// mustPolicy is p with its defaults; it panics if p is invalid.
func mustPolicy(p BreakerPolicy) BreakerPolicy {
	p = p.WithDefaults()
	if err := p.validate(); err != nil {
		panic(err)
	}
	return p
}

// openFor is how long the circuit opens after opens earlier consecutive
// opens: BaseOpen doubled each time, capped at MaxOpen.
func (p BreakerPolicy) openFor(opens int) time.Duration {
	d := p.BaseOpen
	for i := 0; i < opens && d < p.MaxOpen; i++ {
		d *= 2
	}
	return min(d, p.MaxOpen)
}

func checkAcquire(limit int, ttl time.Duration) error {
	switch {
	case limit < 1:
		return fmt.Errorf("state: acquire: limit %d below 1: %w", limit, ErrInvalid)
	case ttl < time.Millisecond:
		return fmt.Errorf("state: acquire: ttl %s below 1ms: %w", ttl, ErrInvalid)
	}
	return nil
}

func checkAllow(rate float64, burst int) error {
	switch {
	case !(rate > 0) || math.IsInf(rate, 1):
		return fmt.Errorf("state: allow: rate %v not a positive number: %w", rate, ErrInvalid)
	case burst < 1:
		return fmt.Errorf("state: allow: burst %d below 1: %w", burst, ErrInvalid)
	}
	return nil
}

func checkAttempt(max int) error {
	if max < 1 {
		return fmt.Errorf("state: add attempt: max %d below 1: %w", max, ErrInvalid)
	}
	return nil
}

// micros is the resolution both implementations keep times at.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros turns stored microseconds back into a time; 0 is the zero time.
func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}
