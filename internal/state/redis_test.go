package state

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/testenv"
)

func TestRedis(t *testing.T) {
	t.Parallel()
	rdb := testenv.Redis(t)
	runConformance(t, func(t *testing.T) State {
		return NewRedis(rdb, testenv.RedisPrefix(t, "state"), testPolicy)
	})
}

// The deliverers speak RESP2 (see app.Run); the state behaves the same.
func TestRedisRESP2(t *testing.T) {
	t.Parallel()
	opts, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	opts.Protocol = 2
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	runConformance(t, func(t *testing.T) State {
		return NewRedis(rdb, testenv.RedisPrefix(t, "resp2"), testPolicy)
	})
}

// TestRedisKeysExpire checks that every key the state writes has a TTL, so
// abandoned endpoints leave nothing behind.
func TestRedisKeysExpire(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix, key := testenv.RedisPrefix(t, "state"), testenv.ID("ep")
	s := NewRedis(rdb, prefix, testPolicy)
	now := time.Now()

	if _, ok, err := s.Acquire(ctx, key, 2, 0, 30*time.Second, now); err != nil || !ok {
		t.Fatalf("Acquire: ok %v, err %v", ok, err)
	}
	if _, ok, err := s.Acquire(ctx, key, 1, 0, 30*time.Second, now); err != nil || ok {
		t.Fatalf("Acquire past the limit: ok %v, err %v", ok, err)
	}
	if _, err := s.Allow(ctx, key, 10, 5, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Failure(ctx, key, now); err != nil {
		t.Fatal(err)
	}
	if err := s.AddAttempts(ctx, key, [][]byte{[]byte("a")}, 10); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		key      string
		min, max time.Duration
	}{
		{"lease", prefix + "lease:{" + key + "}", 29 * time.Second, 30 * time.Second},
		{"refused", prefix + "refused:{" + key + "}", 29 * time.Second, 30 * time.Second},
		{"rate", prefix + "rate:" + key, time.Millisecond, 100 * time.Millisecond},
		{"health", prefix + "health:" + key, healthTTL - time.Minute, healthTTL},
		{"attempts", prefix + "attempts:" + key, attemptsTTL - time.Minute, attemptsTTL},
	}
	for _, tt := range tests {
		ttl, err := rdb.PTTL(ctx, tt.key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl < tt.min || ttl > tt.max {
			t.Errorf("%s key %s: TTL %s, want in [%s, %s]", tt.name, tt.key, ttl, tt.min, tt.max)
		}
	}
	if healthTTL < 8*24*time.Hour {
		t.Errorf("health TTL %s: auto-disable needs FirstFailureAt for 3+ days", healthTTL)
	}
}

// TestRedisForgets: Redis losing its keys (a FLUSHALL, a restart without
// persistence, a failover to an empty replica) resets the counters and
// nothing errs. The loss is this test's keys being deleted: it never
// flushes a database that others may use.
func TestRedisForgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := testenv.Redis(t)
	prefix := testenv.RedisPrefix(t, "state")
	s := NewRedis(rdb, prefix, testPolicy)
	key := testenv.ID("ep")

	lease := mustAcquire(t, s, key, 1, time.Minute, t0, true)
	mustAcquire(t, s, key, 1, time.Minute, t0, false)
	mustAllow(t, s, key, 1, 1, t0)
	openCircuit(t, s, key, t0)
	if err := s.AddAttempts(ctx, key, [][]byte{[]byte("a")}, 10); err != nil {
		t.Fatal(err)
	}

	// The rate key may have expired already (a 1 s bucket); the others live.
	if n, err := testenv.DeleteKeys(ctx, rdb, prefix); err != nil || n < 3 {
		t.Fatalf("deleting the state's keys: %d deleted, want lease, health, attempts (and rate): %v", n, err)
	}

	wantHealth(t, mustHealth(t, s, key), Health{})
	if a := mustAdmit(t, s, key, t0); a != (Admission{Allowed: true}) {
		t.Fatalf("after flush: Admit = %+v, want allowed", a)
	}
	mustRelease(t, s, lease)
	mustAcquire(t, s, key, 1, time.Minute, t0, true)
	if w := mustAllow(t, s, key, 1, 1, t0); w != 0 {
		t.Fatalf("after flush: Allow wait %s, want a full bucket", w)
	}
	got, err := s.RecentAttempts(ctx, key, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("after flush: RecentAttempts = %q, %v; want none", got, err)
	}
	wantHealth(t, mustFailure(t, s, key, t0), Health{ConsecutiveFailures: 1, FirstFailureAt: t0})
	if _, err := s.Success(ctx, key, t0); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRedisAcquireRelease(b *testing.B) {
	ctx := context.Background()
	s := NewRedis(testenv.Redis(b), testenv.RedisPrefix(b, "bench"), BreakerPolicy{})
	key := testenv.ID("ep")
	b.ReportAllocs()
	for b.Loop() {
		l, ok, err := s.Acquire(ctx, key, 10, 0, time.Minute, time.Now())
		if err != nil || !ok {
			b.Fatalf("Acquire: ok %v, err %v", ok, err)
		}
		if err := s.Release(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
}
