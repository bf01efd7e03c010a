// Package testenv gives tests the real services they run against: an
// in-process nats-server with JetStream (from the nats-server Go module) and
// the Redis at REDIS_URL (default redis://127.0.0.1:6379/0). A missing Redis
// fails the test loudly; it never skips. Traces records the trace each log
// line was written with, for tests of what the logs carry.
package testenv

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/stream"
)

// NATS is a running JetStream server with a connected client.
type NATS struct {
	Server *stream.Embedded
	Conn   *nats.Conn
	JS     jetstream.JetStream
	URL    string // for other processes
}

// StartNATS starts an in-process nats-server with file storage in a
// temporary directory, listening on a free loopback port, and creates the
// topology with shards delivery shards. It stops when the test ends.
func StartNATS(t testing.TB, shards int) *NATS {
	t.Helper()
	emb, err := stream.StartEmbedded(stream.EmbeddedConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatalf("testenv: nats-server: %v", err)
	}
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		emb.Shutdown()
		t.Fatalf("testenv: connect: %v", err)
	}
	t.Cleanup(func() {
		nc.Close()
		emb.Shutdown()
	})
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	cfg := stream.DefaultConfig()
	cfg.Shards = shards
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stream.Ensure(ctx, js, cfg, nil); err != nil {
		t.Fatalf("testenv: topology: %v", err)
	}
	return &NATS{Server: emb, Conn: nc, JS: js, URL: emb.ClientURL()}
}

// Registry returns the webhook registry bucket of n and the sealing box of
// the development key, what a registry Store and Cache are built from.
func (n *NATS) Registry(t testing.TB) (jetstream.KeyValue, *seal.Box) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := n.JS.KeyValue(ctx, stream.Registry)
	if err != nil {
		t.Fatalf("testenv: registry bucket: %v", err)
	}
	box, err := seal.New(seal.DevKey)
	if err != nil {
		t.Fatalf("testenv: sealing box: %v", err)
	}
	return kv, box
}

// StreamState returns the state of stream name: its messages, and the
// last sequence it ever stored.
func (n *NATS) StreamState(t testing.TB, name string) jetstream.StreamState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := n.JS.Stream(ctx, name)
	if err != nil {
		t.Fatalf("testenv: stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("testenv: stream %s info: %v", name, err)
	}
	return info.State
}

// RedisURL is the Redis the tests use.
func RedisURL() string {
	if u := os.Getenv("REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// Redis returns a client for RedisURL, failing the test if Redis does not
// answer.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testenv: REDIS_URL: %v", err)
	}
	rdb := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("testenv: Redis at %s does not answer (%v): run the tests with `make test`, which starts one, or set REDIS_URL", RedisURL(), err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// ID returns a unique id for test data (companies, projects), so tests
// sharing one Redis never see each other's keys.
func ID(prefix string) string {
	return fmt.Sprintf("%s%x%d", prefix, time.Now().UnixNano(), idSeq.Add(1))
}

var idSeq atomic.Int64

// Eventually polls cond every few milliseconds until it is true or the
// deadline passes, then fails with msg.
func Eventually(t testing.TB, within time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("testenv: not within %s: "+msg, append([]any{within}, args...)...)
		}
		<-tick.C
	}
}
