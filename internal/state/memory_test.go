package state

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	t.Parallel()
	runConformance(t, func(t *testing.T) State { return NewMemory(testPolicy) })
}

// TestMemoryBounded: however many endpoints pass through, each table stays
// within its bound.
func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	const max = 16
	ctx := context.Background()
	m := NewMemory(testPolicy)
	m.setMaxKeys(max)
	for i := range 1000 {
		key := fmt.Sprint("ep", i)
		if _, ok, err := m.Acquire(ctx, key, 1, 0, time.Hour, t0); err != nil || !ok {
			t.Fatalf("Acquire %s: ok %v, err %v", key, ok, err)
		}
		if w, err := m.Allow(ctx, key, 1, 1, t0); err != nil || w != 0 {
			t.Fatalf("Allow %s: wait %s, err %v", key, w, err)
		}
		if _, err := m.Failure(ctx, key, t0); err != nil {
			t.Fatal(err)
		}
		if err := m.AddAttempts(ctx, key, [][]byte{[]byte("a")}, 5); err != nil {
			t.Fatal(err)
		}
	}
	sizes := map[string]int{
		"leases": len(m.leases.m), "buckets": len(m.buckets.m),
		"health": len(m.health.m), "attempts": len(m.attempts.m),
	}
	for name, n := range sizes {
		if n > max || n == 0 {
			t.Errorf("%s: %d keys, want 1..%d", name, n, max)
		}
	}
}

// TestMemoryExpiry: entries past their time read as fresh and are swept
// before anything live is evicted.
func TestMemoryExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("health after 8 days", func(t *testing.T) {
		t.Parallel()
		m := NewMemory(testPolicy)
		openCircuit(t, m, "ep", t0)
		later := t0.Add(healthTTL)
		if a := mustAdmit(t, m, "ep", later); a != (Admission{Allowed: true}) {
			t.Fatalf("after %s: Admit = %+v, want a closed circuit", healthTTL, a)
		}
		wantHealth(t, mustFailure(t, m, "ep", later), Health{ConsecutiveFailures: 1, FirstFailureAt: later})
	})

	t.Run("attempts after 7 days", func(t *testing.T) {
		t.Parallel()
		m := NewMemory(testPolicy)
		wall := t0
		m.wall = func() time.Time { return wall }
		if err := m.AddAttempts(ctx, "ep", [][]byte{[]byte("a")}, 5); err != nil {
			t.Fatal(err)
		}
		wall = wall.Add(attemptsTTL)
		got, err := m.RecentAttempts(ctx, "ep", 5)
		if err != nil || len(got) != 0 {
			t.Fatalf("after %s: RecentAttempts = %q, %v; want none", attemptsTTL, got, err)
		}
	})

	t.Run("expired entries go first when full", func(t *testing.T) {
		t.Parallel()
		const max = 8
		m := NewMemory(testPolicy)
		m.setMaxKeys(max)
		// One live lease, then expired ones filling the table.
		mustAcquire(t, m, "live", 1, time.Hour, t0, true)
		for i := range max - 1 {
			mustAcquire(t, m, fmt.Sprint("old", i), 1, time.Second, t0, true)
		}
		later := t0.Add(time.Minute)
		mustAcquire(t, m, "new", 1, time.Hour, later, true)
		mustAcquire(t, m, "live", 1, time.Hour, later, false)
		if n := len(m.leases.m); n != 2 {
			t.Fatalf("%d lease keys after the sweep, want 2 (live, new)", n)
		}
	})
}

func TestPolicyDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   BreakerPolicy
		want BreakerPolicy
	}{
		{"zero", BreakerPolicy{}, BreakerPolicy{Threshold: 5, BaseOpen: 30 * time.Second, MaxOpen: 10 * time.Minute, ProbeTTL: 20 * time.Second}},
		{"kept", testPolicy, testPolicy},
		{"no max, base above its default", BreakerPolicy{BaseOpen: time.Hour}, BreakerPolicy{Threshold: 5, BaseOpen: time.Hour, MaxOpen: time.Hour, ProbeTTL: 20 * time.Second}},
	}
	for _, tt := range tests {
		if got := tt.in.WithDefaults(); got != tt.want {
			t.Errorf("%s: %+v.WithDefaults() = %+v, want %+v", tt.name, tt.in, got, tt.want)
		}
	}
	p := BreakerPolicy{}.WithDefaults()
	for opens, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		if got := p.openFor(opens); got != want {
			t.Errorf("openFor(%d) = %s, want %s", opens, got, want)
		}
	}
	if got := p.openFor(1 << 20); got != p.MaxOpen {
		t.Errorf("openFor(huge) = %s, want MaxOpen", got)
	}
}

// An invalid policy is refused, naming the field, instead of being
// replaced by the default: the constructors panic with the error.
func TestPolicyRefusesInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   BreakerPolicy
		want string
	}{
		{"negative threshold", BreakerPolicy{Threshold: -1}, "BreakerPolicy.Threshold"},
		{"negative base", BreakerPolicy{BaseOpen: -time.Second}, "BreakerPolicy.BaseOpen"},
		{"max below base", BreakerPolicy{BaseOpen: time.Hour, MaxOpen: time.Minute}, "BreakerPolicy.MaxOpen"},
		{"negative probe lock", BreakerPolicy{ProbeTTL: -time.Second}, "BreakerPolicy.ProbeTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				err, _ := recover().(error)
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("NewMemory(%+v) panicked with %v, want an error naming %s", tt.in, err, tt.want)
				}
			}()
			NewMemory(tt.in)
		})
	}
}

func BenchmarkMemoryAdmit(b *testing.B) {
	ctx := context.Background()
	m := NewMemory(BreakerPolicy{})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if a, err := m.Admit(ctx, "ep", now); err != nil || !a.Allowed {
			b.Fatalf("Admit = %+v, %v", a, err)
		}
	}
}
