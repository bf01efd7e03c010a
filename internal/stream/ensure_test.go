package stream_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// allStreams are the streams of the topology, the bucket's included.
var allStreams = []string{stream.Events, stream.Deliveries, stream.Dead, stream.Attempts, "KV_" + stream.Registry, "KV_" + stream.Portal}

func TestEnsureCreatesEveryStreamWithTheReplicasAsked(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, 3)
	_, js := c.Connect(t)
	cfg := topology(3)
	ensure(t, js, cfg, nil)
	for _, name := range allStreams {
		sc := streamConfig(t, js, name)
		if sc.Replicas != 3 || sc.Metadata[stream.ManagedKey] == "" {
			t.Errorf("%s: replicas %d, metadata %v; want 3 replicas and %s", name, sc.Replicas, sc.Metadata, stream.ManagedKey)
		}
	}
	// Consumers take the stream's replicas.
	for on, name := range map[string]string{stream.Events: stream.DispatchConsumer, stream.Deliveries: stream.ShardConsumer(1)} {
		testenv.Eventually(t, 20*time.Second, func() bool {
			return len(consumerInfo(t, js, on, name).Cluster.Replicas) == 2
		}, "consumer %s on %s does not have 3 replicas", name, on)
	}
	// What it created is what it would create: a second run finds nothing to say.
	var log lines
	ensure(t, js, cfg, &log)
	if got := log.all(); len(got) != 0 {
		t.Errorf("a second Ensure logged %q, want nothing", got)
	}
}

// The operator created every stream and the bucket with 3 replicas and
// limits of their own; processes start with STREAM_REPLICAS=1. Nothing the
// operator set is undone, what the code needs is added, and one line per
// stream says so.
func TestEnsureKeepsWhatAnOperatorPreCreated(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, 3)
	_, js := c.Connect(t)
	preCreate(t, js)

	var log lines
	ensure(t, js, topology(1), &log)
	checkPreCreated(t, js)
	for _, name := range allStreams {
		got := log.about(name)
		if len(got) != 1 || !strings.Contains(got[0], "pre-created") || !strings.Contains(got[0], "replicas=3") {
			t.Errorf("log lines about %s = %q, want one saying it was pre-created with replicas=3", name, got)
		}
	}
	for name, want := range map[string]string{
		stream.Events:         "found replicas=3 max_age=72h max_bytes=10000000000 duplicates=15m; kept them",
		stream.Deliveries:     "changed subjects to deliveries.>,retry.>, allow_msg_schedules to true",
		"KV_" + stream.Portal: "changed allow_msg_ttl to true",
	} {
		if got := log.about(name); len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("log about %s = %q, want it to say %q", name, got, want)
		}
	}
}

// preCreate creates what an operator would, with settings of their own.
func preCreate(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, sc := range []jetstream.StreamConfig{
		{Name: stream.Events, Subjects: []string{"events.>"}, Replicas: 3, MaxAge: 72 * time.Hour, Duplicates: 15 * time.Minute, MaxBytes: 10_000_000_000},
		{Name: stream.Deliveries, Subjects: []string{"deliveries.>"}, Retention: jetstream.WorkQueuePolicy, Replicas: 3, MaxMsgs: 1_000_000},
		{Name: stream.Dead, Subjects: []string{"dead.>"}, Replicas: 3, MaxAge: 90 * 24 * time.Hour},
		{Name: stream.Attempts, Subjects: []string{"attempts.>"}, Replicas: 3, MaxAge: 24 * time.Hour, MaxBytes: 1 << 30},
	} {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			t.Fatalf("pre-create %s: %v", sc.Name, err)
		}
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: stream.Registry, History: 10, Replicas: 3}); err != nil {
		t.Fatalf("pre-create bucket: %v", err)
	}
	// Without message TTLs, which the portal's keys need.
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: stream.Portal, TTL: 48 * time.Hour, Replicas: 3}); err != nil {
		t.Fatalf("pre-create portal bucket: %v", err)
	}
}

// checkPreCreated fails the test unless every stream still has what
// preCreate gave it, plus what the code needs.
func checkPreCreated(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	for _, name := range allStreams {
		sc := streamConfig(t, js, name)
		if sc.Replicas != 3 {
			t.Errorf("%s: %d replicas, want the operator's 3", name, sc.Replicas)
		}
		if _, ours := sc.Metadata[stream.ManagedKey]; ours {
			t.Errorf("%s: marked %s; it was pre-created", name, stream.ManagedKey)
		}
		var bad bool
		switch name {
		case stream.Events:
			bad = sc.MaxAge != 72*time.Hour || sc.Duplicates != 15*time.Minute || sc.MaxBytes != 10_000_000_000
		case stream.Deliveries:
			bad = sc.MaxMsgs != 1_000_000 || !sc.AllowMsgSchedules || !slices.Contains(sc.Subjects, "retry.>")
		case stream.Dead:
			bad = sc.MaxAge != 90*24*time.Hour
		case stream.Attempts:
			bad = sc.MaxAge != 24*time.Hour || sc.MaxBytes != 1<<30
		case "KV_" + stream.Portal:
			bad = sc.MaxAge != 48*time.Hour || !sc.AllowMsgTTL
		default:
			bad = sc.MaxMsgsPerSubject != 10
		}
		if bad {
			t.Errorf("%s: config %+v lost the operator's settings or lacks what the code needs", name, sc)
		}
	}
}

func TestEnsureRaisesTheReplicasOfItsOwnStreams(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, 3)
	_, js := c.Connect(t)
	ensure(t, js, topology(1), nil)

	cfg := topology(3)
	cfg.EventsMaxAge = 48 * time.Hour
	var log lines
	ensure(t, js, cfg, &log)
	for _, name := range allStreams {
		if sc := streamConfig(t, js, name); sc.Replicas != 3 {
			t.Errorf("%s: %d replicas after Ensure with 3", name, sc.Replicas)
		}
		if got := log.about(name); len(got) != 1 || !strings.Contains(got[0], "created by webhooks; found replicas=1") || !strings.Contains(got[0], "replicas to 3") {
			t.Errorf("log about %s = %q, want one line saying replicas went from 1 to 3", name, got)
		}
	}
	// Limits of its own streams follow the configuration (EVENTS_MAX_AGE).
	if sc := streamConfig(t, js, stream.Events); sc.MaxAge != 48*time.Hour {
		t.Errorf("EVENTS max age %s, want the configured 48h", sc.MaxAge)
	}
	// And replicas are never lowered, its own streams' neither.
	ensure(t, js, topology(1), nil)
	for _, name := range allStreams {
		if sc := streamConfig(t, js, name); sc.Replicas != 3 {
			t.Errorf("%s: %d replicas after Ensure with 1, want 3 kept", name, sc.Replicas)
		}
	}
}

func TestEnsureRefusesWhatItCannotReconcile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing jetstream.StreamConfig
		replicas int
		want     []string // in the error
	}{
		{
			name:     "deliveries not a work queue",
			existing: jetstream.StreamConfig{Name: stream.Deliveries, Subjects: []string{"deliveries.>", "retry.>"}},
			want:     []string{"stream DELIVERIES", "retention is limits, needs workqueue"},
		},
		{
			name:     "deliveries discarding new messages",
			existing: jetstream.StreamConfig{Name: stream.Deliveries, Subjects: []string{"deliveries.>", "retry.>"}, Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew},
			want:     []string{"stream DELIVERIES", "discard is new, but message schedules (retries) need discard old"},
		},
		{
			name:     "events in memory",
			existing: jetstream.StreamConfig{Name: stream.Events, Subjects: []string{"events.>"}, Storage: jetstream.MemoryStorage},
			want:     []string{"stream EVENTS", "storage is memory, needs file"},
		},
		{
			name:     "subjects of another stream",
			existing: jetstream.StreamConfig{Name: "LEGACY", Subjects: []string{"events.>"}},
			want:     []string{"stream EVENTS", "subjects events.> overlap those of stream LEGACY"},
		},
		{
			name:     "events kept shorter than its duplicate window",
			existing: jetstream.StreamConfig{Name: stream.Events, Subjects: []string{"events.>"}, MaxAge: 5 * time.Minute, Duplicates: time.Minute},
			want:     []string{"stream EVENTS", "max_age is 5m, shorter than the 10m duplicate window"},
		},
		{
			name:     "replicas on a single server",
			replicas: 3,
			want:     []string{"stream EVENTS", "STREAM_REPLICAS=3 but the NATS server is not clustered"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := bareServer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if tt.existing.Name != "" {
				if _, err := js.CreateStream(ctx, tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			err := stream.Ensure(ctx, js, topology(max(tt.replicas, 1)), nil)
			checkIncompatible(t, err, tt.want...)
			if tt.existing.Name != "" {
				if got := streamConfig(t, js, tt.existing.Name); !reflect.DeepEqual(got.Subjects, tt.existing.Subjects) || got.MaxAge != tt.existing.MaxAge {
					t.Errorf("%s changed to %+v", tt.existing.Name, got)
				}
			}
		})
	}
}

// More replicas than the cluster has servers is refused with the count, on
// creation and on a raise alike.
func TestEnsureRefusesMoreReplicasThanServers(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, 3)
	_, js := c.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	want := []string{"stream EVENTS", "STREAM_REPLICAS=5 but the NATS cluster has 3 servers", "at most 3"}
	checkIncompatible(t, stream.Ensure(ctx, js, topology(5), nil), want...)
	ensure(t, js, topology(1), nil)
	checkIncompatible(t, stream.Ensure(ctx, js, topology(5), nil), want...)
	if sc := streamConfig(t, js, stream.Events); sc.Replicas != 1 {
		t.Errorf("EVENTS has %d replicas after the refused raise", sc.Replicas)
	}
}

// The bucket is created as a stream; it must be the stream that
// jetstream.CreateKeyValue would create, or the KV client may misread it.
func TestBucketIsLaidOutAsCreateKeyValueLaysItOut(t *testing.T) {
	t.Parallel()
	js := bareServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe", History: 5}); err != nil {
		t.Fatal(err)
	}
	ensure(t, js, topology(1), nil)
	// The portal bucket: keys with a TTL, no markers when they expire.
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "probe_ttl", TTL: stream.PortalMaxAge, LimitMarkerTTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	ensure(t, js, topology(1), nil)
	for probe, name := range map[string]string{"KV_probe": "KV_" + stream.Registry, "KV_probe_ttl": "KV_" + stream.Portal} {
		lib, ours := streamConfig(t, js, probe), streamConfig(t, js, name)
		lib.SubjectDeleteMarkerTTL = 0
		for _, c := range []*jetstream.StreamConfig{&lib, &ours} {
			c.Name, c.Subjects, c.Metadata = "", nil, nil
		}
		if !reflect.DeepEqual(lib, ours) {
			t.Errorf("%s stream\n%+v\nwant as CreateKeyValue makes it\n%+v", name, ours, lib)
		}
	}
}

func topology(replicas int) stream.Config {
	cfg := stream.DefaultConfig()
	cfg.Shards = 2
	cfg.Replicas = replicas
	return cfg
}

func ensure(t *testing.T, js jetstream.JetStream, cfg stream.Config, log *lines) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var l *slog.Logger
	if log != nil {
		l = slog.New(log)
	}
	if err := stream.Ensure(ctx, js, cfg, l); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
}

func checkIncompatible(t *testing.T, err error, want ...string) {
	t.Helper()
	var incompatible *stream.IncompatibleError
	if !errors.As(err, &incompatible) {
		t.Fatalf("Ensure = %v, want an *IncompatibleError", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
}

// bareServer is a single nats-server with JetStream and nothing created.
func bareServer(t *testing.T) jetstream.JetStream {
	t.Helper()
	emb, err := stream.StartEmbedded(stream.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func streamConfig(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamConfig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

func consumerInfo(t *testing.T, js jetstream.JetStream, on, name string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, on, name)
	if err != nil {
		t.Fatalf("consumer %s on %s: %v", name, on, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s on %s: %v", name, on, err)
	}
	return info
}

// lines is a slog.Handler that keeps each record's message and its
// "stream" attribute.
type lines struct {
	mu   sync.Mutex
	recs [][2]string // stream, message
}

func (l *lines) Enabled(context.Context, slog.Level) bool { return true }
func (l *lines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lines) WithGroup(string) slog.Handler            { return l }
func (l *lines) Handle(_ context.Context, r slog.Record) error {
	var name string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream" {
			name = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, [2]string{name, r.Message})
	return nil
}

func (l *lines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		out = append(out, r[1])
	}
	return out
}

func (l *lines) about(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r[0] == name {
			out = append(out, r[1])
		}
	}
	return out
}
