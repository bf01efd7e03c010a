package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// testPolicy is the breaker policy every implementation runs the suite
// with: a small threshold and a cap reached after two doublings.
var testPolicy = BreakerPolicy{Threshold: 3, BaseOpen: 30 * time.Second, MaxOpen: 2 * time.Minute, ProbeTTL: 20 * time.Second}

// t0 is the suite's clock origin, at microsecond precision like the stored
// times.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 678_000, time.UTC)

// runConformance is the behaviour every State must have. newState returns a
// State built with testPolicy; each subtest uses its own keys.
func runConformance(t *testing.T, newState func(t *testing.T) State) {
	t.Run("Lease", func(t *testing.T) {
		t.Parallel()
		testLeases(t, newState)
	})
	t.Run("Renew", func(t *testing.T) {
		t.Parallel()
		testRenew(t, newState)
	})
	t.Run("LeaseConcurrent", func(t *testing.T) {
		t.Parallel()
		testLeasesConcurrent(t, newState(t))
	})
	t.Run("Allow", func(t *testing.T) {
		t.Parallel()
		testAllow(t, newState)
	})
	t.Run("Breaker", func(t *testing.T) {
		t.Parallel()
		testBreaker(t, newState)
	})
	t.Run("BreakerOneProbe", func(t *testing.T) {
		t.Parallel()
		testBreakerOneProbe(t, newState(t))
	})
	t.Run("Attempts", func(t *testing.T) {
		t.Parallel()
		testAttempts(t, newState)
	})
	t.Run("Invalid", func(t *testing.T) {
		t.Parallel()
		testInvalid(t, newState(t))
	})
}

func testLeases(t *testing.T, newState func(t *testing.T) State) {
	const ttl = 10 * time.Second
	tests := []struct {
		name  string
		limit int
		// then runs once key is full with the held leases.
		then func(t *testing.T, s State, key string, held []Lease)
	}{
		{
			name: "release frees one slot", limit: 3,
			then: func(t *testing.T, s State, key string, held []Lease) {
				mustRelease(t, s, held[1])
				mustAcquire(t, s, key, 3, ttl, t0, true)
				mustAcquire(t, s, key, 3, ttl, t0, false)
			},
		},
		{
			name: "double release frees only its own slot", limit: 2,
			then: func(t *testing.T, s State, key string, held []Lease) {
				mustRelease(t, s, held[0])
				mustRelease(t, s, held[0])
				mustAcquire(t, s, key, 2, ttl, t0, true)
				mustAcquire(t, s, key, 2, ttl, t0, false)
			},
		},
		{
			name: "expired lease frees itself", limit: 1,
			then: func(t *testing.T, s State, key string, held []Lease) {
				mustAcquire(t, s, key, 1, ttl, t0.Add(ttl-time.Microsecond), false)
				mustAcquire(t, s, key, 1, ttl, t0.Add(ttl), true)
				// Releasing the lease that expired neither errs nor frees the new one.
				mustRelease(t, s, held[0])
				mustAcquire(t, s, key, 1, ttl, t0.Add(ttl), false)
			},
		},
		{
			name: "a raised limit admits more", limit: 2,
			then: func(t *testing.T, s State, key string, held []Lease) {
				mustAcquire(t, s, key, 3, ttl, t0, true)
				mustAcquire(t, s, key, 3, ttl, t0, false)
			},
		},
		{
			name: "keys are independent", limit: 1,
			then: func(t *testing.T, s State, key string, held []Lease) {
				mustAcquire(t, s, key+"-other", 1, ttl, t0, true)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, key := newState(t), testenv.ID("lease")
			var held []Lease
			ids := map[string]bool{}
			for range tt.limit {
				l := mustAcquire(t, s, key, tt.limit, ttl, t0, true)
				if l.Key != key || l.ID == "" || ids[l.ID] {
					t.Fatalf("lease %+v: want key %s and a fresh id", l, key)
				}
				ids[l.ID] = true
				held = append(held, l)
			}
			mustAcquire(t, s, key, tt.limit, ttl, t0, false)
			tt.then(t, s, key, held)
		})
	}
	t.Run("release of the zero lease", func(t *testing.T) {
		t.Parallel()
		mustRelease(t, newState(t), Lease{})
		mustRelease(t, newState(t), Lease{Key: testenv.ID("lease"), ID: "nope"})
	})
}

func testRenew(t *testing.T, newState func(t *testing.T) State) {
	const ttl = 10 * time.Second
	// fill takes limit slots of a new key, as one holder.
	fill := func(t *testing.T, limit int) (State, string, []Lease) {
		s, key := newState(t), testenv.ID("renew")
		var held []Lease
		for range limit {
			held = append(held, mustAcquire(t, s, key, limit, ttl, t0, true))
		}
		return s, key, held
	}
	t.Run("keeps the slot for ttl more", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 1)
		mustRenew(t, s, held[0], 1, 1, ttl, t0.Add(ttl/2), true)
		mustRenew(t, s, held[0], 1, 1, ttl, t0.Add(ttl), true)
		// Held until ttl after the last renewal, not after the first.
		mustAcquire(t, s, key, 1, ttl, t0.Add(2*ttl-time.Microsecond), false)
		mustAcquire(t, s, key, 1, ttl, t0.Add(2*ttl), true)
	})
	t.Run("gives one slot to an asker holding two fewer", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 3)
		mustAcquireHolding(t, s, key, 3, 0, t0, false)
		mustRenew(t, s, held[0], 3, 3, ttl, t0.Add(time.Second), false)
		mustRenew(t, s, held[1], 3, 2, ttl, t0.Add(time.Second), true) // the refusal was answered
		// The slot given up is free for whoever asks, and only one is.
		mustAcquireHolding(t, s, key, 3, 0, t0.Add(time.Second), true)
		mustAcquireHolding(t, s, key, 3, 1, t0.Add(time.Second), false)
	})
	t.Run("keeps the slot for an asker holding one fewer or more", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 3)
		mustAcquireHolding(t, s, key, 3, 2, t0, false)
		mustRenew(t, s, held[0], 3, 3, ttl, t0.Add(time.Second), true)
		mustAcquireHolding(t, s, key, 3, 3, t0, false) // its own refusal
		mustRenew(t, s, held[0], 3, 3, ttl, t0.Add(time.Second), true)
	})
	t.Run("remembers the neediest refusal", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 3)
		mustAcquireHolding(t, s, key, 3, 1, t0, false)
		mustAcquireHolding(t, s, key, 3, 2, t0, false)
		mustRenew(t, s, held[0], 3, 3, ttl, t0.Add(time.Second), false)
	})
	t.Run("forgets a refusal after ttl", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 3)
		mustAcquireHolding(t, s, key, 3, 0, t0, false)
		mustRenew(t, s, held[0], 3, 3, 2*ttl, t0.Add(ttl), true)
	})
	t.Run("takes an expired lease again if a slot is free", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 1)
		mustRenew(t, s, held[0], 1, 1, ttl, t0.Add(2*ttl), true)
		mustAcquire(t, s, key, 1, ttl, t0.Add(2*ttl), false)
		// Expired, and another took the slot: not renewed.
		mustAcquire(t, s, key, 1, ttl, t0.Add(4*ttl), true)
		mustRenew(t, s, held[0], 1, 1, ttl, t0.Add(4*ttl), false)
	})
	t.Run("takes a released lease again if a slot is free", func(t *testing.T) {
		t.Parallel()
		s, key, held := fill(t, 1)
		mustRelease(t, s, held[0])
		mustRenew(t, s, held[0], 1, 1, ttl, t0, true)
		mustAcquire(t, s, key, 1, ttl, t0, false)
	})
}

func testLeasesConcurrent(t *testing.T, s State) {
	const workers, limit = 50, 7
	key := testenv.ID("lease")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  int
		errs []error
	)
	start := make(chan struct{})
	for range workers {
		wg.Go(func() {
			<-start
			_, ok, err := s.Acquire(context.Background(), key, limit, 0, time.Minute, t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				got++
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got != limit {
		t.Fatalf("%d concurrent Acquire: %d got a slot, want exactly %d", workers, got, limit)
	}
}

func testAllow(t *testing.T, newState func(t *testing.T) State) {
	const rate, burst = 10.0, 5
	interval := time.Second / rate
	tests := []struct {
		name string
		run  func(t *testing.T, s State, key string)
	}{
		{
			name: "burst then wait",
			run: func(t *testing.T, s State, key string) {
				for i := range burst {
					if w := mustAllow(t, s, key, rate, burst, t0); w != 0 {
						t.Fatalf("token %d: wait %s, want 0", i+1, w)
					}
				}
				// A refusal takes nothing: asking again says the same.
				for range 2 {
					if w := mustAllow(t, s, key, rate, burst, t0); !near(w, interval) {
						t.Fatalf("after burst: wait %s, want ~%s", w, interval)
					}
				}
				if w := mustAllow(t, s, key, rate, burst, t0.Add(interval/2)); !near(w, interval/2) {
					t.Fatalf("half-way: wait %s, want ~%s", w, interval/2)
				}
				if w := mustAllow(t, s, key, rate, burst, t0.Add(interval)); w != 0 {
					t.Fatalf("after one interval: wait %s, want 0", w)
				}
			},
		},
		{
			name: "refills at rate",
			run: func(t *testing.T, s State, key string) {
				for range burst {
					mustAllow(t, s, key, rate, burst, t0)
				}
				// Ask every 10ms for one second: about rate tokens.
				got := 0
				for step := time.Duration(1); step <= 100; step++ {
					if mustAllow(t, s, key, rate, burst, t0.Add(step*10*time.Millisecond)) == 0 {
						got++
					}
				}
				if got < rate-1 || got > rate+1 {
					t.Fatalf("over 1s after the burst: %d tokens, want about %v", got, rate)
				}
			},
		},
		{
			name: "idle refill is capped at burst",
			run: func(t *testing.T, s State, key string) {
				for range burst {
					mustAllow(t, s, key, rate, burst, t0)
				}
				later := t0.Add(time.Second) // 10 tokens' worth, 5 kept
				got := 0
				for mustAllow(t, s, key, rate, burst, later) == 0 {
					got++
					if got > 2*burst {
						break
					}
				}
				if got != burst {
					t.Fatalf("after 1s idle: %d tokens at once, want burst %d", got, burst)
				}
			},
		},
		{
			name: "keys are independent",
			run: func(t *testing.T, s State, key string) {
				mustAllow(t, s, key, 1, 1, t0)
				if w := mustAllow(t, s, key, 1, 1, t0); w == 0 {
					t.Fatal("second token of a burst-1 bucket granted")
				}
				if w := mustAllow(t, s, key+"-other", 1, 1, t0); w != 0 {
					t.Fatalf("other key: wait %s, want 0", w)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newState(t), testenv.ID("rate"))
		})
	}
}

func testBreaker(t *testing.T, newState func(t *testing.T) State) {
	p := testPolicy
	tests := []struct {
		name string
		run  func(t *testing.T, s State, key string)
	}{
		{
			name: "unknown key is healthy and admitted",
			run: func(t *testing.T, s State, key string) {
				if h := mustHealth(t, s, key); h != (Health{}) {
					t.Fatalf("Health = %+v, want zero", h)
				}
				if a := mustAdmit(t, s, key, t0); a != (Admission{Allowed: true}) {
					t.Fatalf("Admit = %+v, want allowed", a)
				}
			},
		},
		{
			name: "opens at threshold",
			run: func(t *testing.T, s State, key string) {
				first := t0
				for i := 1; i < p.Threshold; i++ {
					now := t0.Add(time.Duration(i-1) * time.Second)
					h := mustFailure(t, s, key, now)
					wantHealth(t, h, Health{ConsecutiveFailures: i, FirstFailureAt: first})
					if a := mustAdmit(t, s, key, now); !a.Allowed || a.Probe {
						t.Fatalf("below threshold: Admit = %+v, want allowed", a)
					}
				}
				now := t0.Add(time.Minute)
				h := mustFailure(t, s, key, now)
				open := now.Add(p.BaseOpen)
				wantHealth(t, h, Health{ConsecutiveFailures: p.Threshold, FirstFailureAt: first, OpenUntil: open})
				wantHealth(t, mustHealth(t, s, key), h)
				for _, at := range []time.Time{now, now.Add(p.BaseOpen - time.Microsecond)} {
					a := mustAdmit(t, s, key, at)
					if a.Allowed || a.Probe || !a.RetryAt.Equal(open) {
						t.Fatalf("open at %s: Admit = %+v, want refused until %s", at, a, open)
					}
				}
			},
		},
		{
			name: "failures while open count but do not extend",
			run: func(t *testing.T, s State, key string) {
				open := openCircuit(t, s, key, t0)
				h := mustFailure(t, s, key, t0.Add(time.Second))
				wantHealth(t, h, Health{ConsecutiveFailures: p.Threshold + 1, FirstFailureAt: t0, OpenUntil: open})
			},
		},
		{
			name: "probe success closes and resets",
			run: func(t *testing.T, s State, key string) {
				open := openCircuit(t, s, key, t0)
				if a := mustAdmit(t, s, key, open); !a.Allowed || !a.Probe {
					t.Fatalf("half-open: Admit = %+v, want the probe", a)
				}
				h, err := s.Success(context.Background(), key, open.Add(time.Second))
				if err != nil {
					t.Fatal(err)
				}
				wantHealth(t, h, Health{})
				wantHealth(t, mustHealth(t, s, key), Health{})
				if a := mustAdmit(t, s, key, open.Add(time.Second)); a != (Admission{Allowed: true}) {
					t.Fatalf("after success: Admit = %+v, want allowed", a)
				}
				// The opens counter was reset too: the next open is BaseOpen again.
				later := open.Add(time.Hour)
				if got := openCircuit(t, s, key, later); !got.Equal(later.Add(p.BaseOpen)) {
					t.Fatalf("reopened after a success until %s, want %s", got, later.Add(p.BaseOpen))
				}
			},
		},
		{
			name: "probe failure reopens doubled up to MaxOpen",
			run: func(t *testing.T, s State, key string) {
				open := openCircuit(t, s, key, t0)
				for _, want := range []time.Duration{2 * p.BaseOpen, 4 * p.BaseOpen, p.MaxOpen, p.MaxOpen} {
					if a := mustAdmit(t, s, key, open); !a.Probe {
						t.Fatalf("half-open at %s: Admit = %+v, want the probe", open, a)
					}
					at := open.Add(time.Second)
					h := mustFailure(t, s, key, at)
					if got := h.OpenUntil.Sub(at); got != min(want, p.MaxOpen) {
						t.Fatalf("probe failure reopened for %s, want %s", got, min(want, p.MaxOpen))
					}
					if !h.FirstFailureAt.Equal(t0) {
						t.Fatalf("FirstFailureAt = %s, want the streak's start %s", h.FirstFailureAt, t0)
					}
					if a := mustAdmit(t, s, key, at); a.Allowed || !a.RetryAt.Equal(h.OpenUntil) {
						t.Fatalf("reopened: Admit = %+v, want refused until %s", a, h.OpenUntil)
					}
					open = h.OpenUntil
				}
			},
		},
		{
			name: "probe lock expires after ProbeTTL",
			run: func(t *testing.T, s State, key string) {
				open := openCircuit(t, s, key, t0)
				if a := mustAdmit(t, s, key, open); !a.Probe {
					t.Fatalf("half-open: Admit = %+v, want the probe", a)
				}
				a := mustAdmit(t, s, key, open.Add(p.ProbeTTL-time.Microsecond))
				if a.Allowed || !a.RetryAt.Equal(open.Add(p.ProbeTTL)) {
					t.Fatalf("just before the probe lock expires: Admit = %+v, want refused until %s", a, open.Add(p.ProbeTTL))
				}
				if a := mustAdmit(t, s, key, open.Add(p.ProbeTTL)); !a.Allowed || !a.Probe {
					t.Fatalf("probe lock expired: Admit = %+v, want a new probe", a)
				}
			},
		},
		{
			name: "success clears FirstFailureAt for the next streak",
			run: func(t *testing.T, s State, key string) {
				mustFailure(t, s, key, t0)
				mustFailure(t, s, key, t0.Add(time.Hour))
				if _, err := s.Success(context.Background(), key, t0.Add(2*time.Hour)); err != nil {
					t.Fatal(err)
				}
				again := t0.Add(3 * time.Hour)
				wantHealth(t, mustFailure(t, s, key, again), Health{ConsecutiveFailures: 1, FirstFailureAt: again})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newState(t), testenv.ID("breaker"))
		})
	}
}

func testBreakerOneProbe(t *testing.T, s State) {
	const callers = 20
	key := testenv.ID("breaker")
	open := openCircuit(t, s, key, t0)
	now := open.Add(time.Second) // half-open
	results := make([]Admission, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.Admit(context.Background(), key, now)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	probes := 0
	for _, a := range results {
		switch {
		case a.Allowed && a.Probe:
			probes++
		case a.Allowed:
			t.Fatalf("half-open: Admit = %+v: allowed without being the probe", a)
		case !a.RetryAt.After(now) || a.RetryAt.After(now.Add(testPolicy.ProbeTTL)):
			t.Fatalf("half-open refusal: RetryAt %s, want shortly after %s", a.RetryAt, now)
		}
	}
	if probes != 1 {
		t.Fatalf("%d concurrent Admit when half-open: %d probes, want exactly 1", callers, probes)
	}
}

func testAttempts(t *testing.T, newState func(t *testing.T) State) {
	rec := func(i int) []byte { return fmt.Appendf(nil, `{"attempt":%d}`, i) }
	tests := []struct {
		name      string
		add, max  int
		batch     int // records per AddAttempts call
		n         int
		wantFirst int // newest returned; the rest descend from it
		wantLen   int
	}{
		{name: "capped at max, newest first", add: 5, max: 3, n: 10, wantFirst: 5, wantLen: 3},
		{name: "n below what is kept", add: 5, max: 3, n: 2, wantFirst: 5, wantLen: 2},
		{name: "under the cap", add: 2, max: 10, n: 10, wantFirst: 2, wantLen: 2},
		{name: "max one", add: 4, max: 1, n: 5, wantFirst: 4, wantLen: 1},
		{name: "n zero", add: 3, max: 3, n: 0, wantLen: 0},
		{name: "unknown key", add: 0, max: 3, n: 5, wantLen: 0},
		{name: "batches, capped", add: 7, max: 5, batch: 3, n: 10, wantFirst: 7, wantLen: 5},
		{name: "one batch over the cap", add: 9, max: 4, batch: 9, n: 10, wantFirst: 9, wantLen: 4},
		{name: "batches under the cap", add: 5, max: 10, batch: 2, n: 10, wantFirst: 5, wantLen: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s, key := newState(t), testenv.ID("attempts")
			batch := max(tt.batch, 1)
			var bufs [][]byte
			for i := 1; i <= tt.add; i++ {
				bufs = append(bufs, rec(i))
				if len(bufs) == batch || i == tt.add {
					if err := s.AddAttempts(ctx, key, bufs, tt.max); err != nil {
						t.Fatal(err)
					}
					for _, b := range bufs {
						clear(b) // the caller may reuse its buffers
					}
					bufs = bufs[:0]
				}
			}
			got, err := s.RecentAttempts(ctx, key, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantLen {
				t.Fatalf("RecentAttempts(%d) = %d records %q, want %d", tt.n, len(got), got, tt.wantLen)
			}
			for i, r := range got {
				if want := rec(tt.wantFirst - i); string(r) != string(want) {
					t.Fatalf("record %d = %s, want %s (all: %q)", i, r, want, got)
				}
			}
		})
	}
}

func testInvalid(t *testing.T, s State) {
	ctx := context.Background()
	key := testenv.ID("invalid")
	tests := []struct {
		name string
		call func() error
	}{
		{"acquire limit 0", func() error { _, _, err := s.Acquire(ctx, key, 0, 0, time.Second, t0); return err }},
		{"acquire ttl 0", func() error { _, _, err := s.Acquire(ctx, key, 1, 0, 0, t0); return err }},
		{"renew limit 0", func() error { _, err := s.Renew(ctx, Lease{Key: key, ID: "x"}, 0, 1, time.Second, t0); return err }},
		{"allow rate 0", func() error { _, err := s.Allow(ctx, key, 0, 1, t0); return err }},
		{"allow rate NaN", func() error { _, err := s.Allow(ctx, key, math.NaN(), 1, t0); return err }},
		{"allow burst 0", func() error { _, err := s.Allow(ctx, key, 1, 0, t0); return err }},
		{"add attempt max 0", func() error { return s.AddAttempts(ctx, key, [][]byte{[]byte("x")}, 0) }},
	}
	for _, tt := range tests {
		if err := tt.call(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

// openCircuit fails key Threshold times at from and returns OpenUntil.
func openCircuit(t *testing.T, s State, key string, from time.Time) time.Time {
	t.Helper()
	var h Health
	for range testPolicy.Threshold {
		h = mustFailure(t, s, key, from)
	}
	if want := from.Add(testPolicy.BaseOpen); !h.OpenUntil.Equal(want) {
		t.Fatalf("after %d failures: OpenUntil %s, want %s", testPolicy.Threshold, h.OpenUntil, want)
	}
	return h.OpenUntil
}

func mustAcquire(t *testing.T, s State, key string, limit int, ttl time.Duration, now time.Time, want bool) Lease {
	t.Helper()
	return acquireAs(t, s, key, limit, 0, ttl, now, want)
}

// mustAcquireHolding asks for a slot for 10 s as a holder of held slots.
func mustAcquireHolding(t *testing.T, s State, key string, limit, held int, now time.Time, want bool) {
	t.Helper()
	acquireAs(t, s, key, limit, held, 10*time.Second, now, want)
}

func acquireAs(t *testing.T, s State, key string, limit, held int, ttl time.Duration, now time.Time, want bool) Lease {
	t.Helper()
	l, ok, err := s.Acquire(context.Background(), key, limit, held, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Fatalf("Acquire(limit %d, held %d) at %s: ok = %v, want %v", limit, held, now, ok, want)
	}
	return l
}

func mustRenew(t *testing.T, s State, l Lease, limit, held int, ttl time.Duration, now time.Time, want bool) {
	t.Helper()
	ok, err := s.Renew(context.Background(), l, limit, held, ttl, now)
	if err != nil {
		t.Fatal(err)
	}
	if ok != want {
		t.Fatalf("Renew(limit %d, held %d) at %s: ok = %v, want %v", limit, held, now, ok, want)
	}
}

func mustRelease(t *testing.T, s State, l Lease) {
	t.Helper()
	if err := s.Release(context.Background(), l); err != nil {
		t.Fatal(err)
	}
}

func mustAllow(t *testing.T, s State, key string, rate float64, burst int, now time.Time) time.Duration {
	t.Helper()
	w, err := s.Allow(context.Background(), key, rate, burst, now)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustAdmit(t *testing.T, s State, key string, now time.Time) Admission {
	t.Helper()
	a, err := s.Admit(context.Background(), key, now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustFailure(t *testing.T, s State, key string, now time.Time) Health {
	t.Helper()
	h, err := s.Failure(context.Background(), key, now)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustHealth(t *testing.T, s State, key string) Health {
	t.Helper()
	h, err := s.Health(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wantHealth compares with Equal: times come back in the local zone.
func wantHealth(t *testing.T, got, want Health) {
	t.Helper()
	if got.ConsecutiveFailures != want.ConsecutiveFailures ||
		!got.FirstFailureAt.Equal(want.FirstFailureAt) || !got.OpenUntil.Equal(want.OpenUntil) {
		t.Fatalf("Health = %+v, want %+v", got, want)
	}
}

// near is within a millisecond: the backends keep microseconds.
func near(got, want time.Duration) bool {
	return got >= want-time.Millisecond && got <= want+time.Millisecond
}
