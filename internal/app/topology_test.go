package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// An operator created every stream and the bucket with 3 replicas and max
// ages of their own; each role, started twice with STREAM_REPLICAS unset
// (1), leaves them as they were.
func TestPreCreatedStreamsSurviveARestartOfEveryRole(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, 3)
	_, js := c.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ages := map[string]time.Duration{
		stream.Events: 72 * time.Hour, stream.Deliveries: 0, stream.Dead: 90 * 24 * time.Hour, stream.Attempts: 24 * time.Hour, "KV_" + stream.Registry: 0,
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: stream.Events, Subjects: []string{"events.>"}, Replicas: 3, MaxAge: ages[stream.Events], Duplicates: 15 * time.Minute},
		{Name: stream.Deliveries, Subjects: []string{"deliveries.>", "retry.>"}, Retention: jetstream.WorkQueuePolicy, Replicas: 3, AllowMsgSchedules: true},
		{Name: stream.Dead, Subjects: []string{"dead.>"}, Replicas: 3, MaxAge: ages[stream.Dead]},
		{Name: stream.Attempts, Subjects: []string{"attempts.>"}, Replicas: 3, MaxAge: ages[stream.Attempts]},
	} {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: stream.Registry, History: 10, Replicas: 3}); err != nil {
		t.Fatal(err)
	}

	for _, role := range []struct {
		name  string
		roles Roles
	}{
		{"api", Roles{API: true}},
		{"publisher", Roles{Publisher: true}},
		{"dispatcher", Roles{Dispatcher: true}},
		{"deliverer", Roles{Deliverer: true}},
	} {
		for range 2 {
			runUntilStarted(t, clusterConfig(t, c, nil), role.roles)
		}
	}
	for name, age := range ages {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		sc := s.CachedInfo().Config
		if sc.Replicas != 3 || sc.MaxAge != age {
			t.Errorf("%s: %d replicas, max age %s; want the operator's 3 and %s", name, sc.Replicas, sc.MaxAge, age)
		}
	}
	if kv, err := js.KeyValue(ctx, stream.Registry); err != nil {
		t.Fatal(err)
	} else if st, err := kv.Status(ctx); err != nil || st.History() != 10 {
		t.Errorf("bucket history %v (%v), want the operator's 10", st.History(), err)
	}
}

// What retrying cannot fix ends start-up at once, with the error that
// says what to change: no "retrying" lines for 30 s.
func TestIncompatibleTopologyIsNotRetried(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, 3)
	var log records
	cfg := clusterConfig(t, c, map[string]string{"STREAM_REPLICAS": "5"})
	cfg.Logger = slog.New(&log)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := Run(ctx, cfg, Roles{Deliverer: true})
	var incompatible *stream.IncompatibleError
	if !errors.As(err, &incompatible) || !strings.Contains(err.Error(), "STREAM_REPLICAS=5 but the NATS cluster has 3 servers") {
		t.Fatalf("Run = %v, want the STREAM_REPLICAS=5 error", err)
	}
	if n := log.count("jetstream not ready; retrying"); n != 0 {
		t.Errorf("start-up retried %d times before giving up", n)
	}
}

// clusterConfig is the configuration of a process against cluster c, with
// ports picked by the system and extra variables from env.
func clusterConfig(t *testing.T, c *testenv.Cluster, env map[string]string) Config {
	t.Helper()
	vars := map[string]string{
		"NATS_URL": c.URLs(), "API_ADDR": "127.0.0.1:0", "PUBLISHER_ADDR": "127.0.0.1:0", "OPS_ADDR": "127.0.0.1:0",
		"DELIVERY_SHARDS": "2",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runUntilStarted runs roles until Run logs "started", then stops them and
// waits for Run to return.
func runUntilStarted(t *testing.T, cfg Config, roles Roles) {
	t.Helper()
	var log records
	cfg.Logger = slog.New(&log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, roles) }()
	testenv.Eventually(t, 60*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run(%+v) returned before it started: %v", roles, err)
		default:
		}
		return log.count("started") > 0
	}, "Run(%+v) did not start", roles)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run(%+v): %v", roles, err)
	}
}

// records is a slog.Handler that keeps the messages logged.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

func (r *records) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if m == msg {
			n++
		}
	}
	return n
}
