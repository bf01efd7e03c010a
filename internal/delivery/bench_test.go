package delivery

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// cmdCounter is a go-redis hook counting the commands a client sends.
type cmdCounter struct{ n atomic.Int64 }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// countedRedis returns a client of the tests' Redis speaking RESP protocol
// (2 or 3) and the count of the commands it sends.
func countedRedis(tb testing.TB, protocol int) (*redis.Client, *cmdCounter) {
	tb.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL())
	if err != nil {
		tb.Fatalf("REDIS_URL: %v", err)
	}
	opts.Protocol = protocol
	rdb := redis.NewClient(opts)
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("Redis at %s does not answer: %v", testenv.RedisURL(), err)
	}
	c := &cmdCounter{}
	rdb.AddHook(c)
	return rdb, c
}

// BenchmarkDeliver sends b.N jobs, spread over 10 webhooks of one local
// receiver, through deliverers on a real JetStream with the Redis state:
// the fan-out path of a split deployment, where deliverer replicas share
// each endpoint's in-flight cap (32) through Redis.
//
// backlog: the jobs are stored before the deliverers start, which then
// run at saturation, every endpoint at its cap; ns/op is the time from
// their start until the receiver has every job. paced: the jobs are
// published at 2000/s while the deliverers run, a load well below
// saturation, so ns/op is the pace; what counts is cpu-ns/op, the CPU time
// of the whole process (deliverers, the in-process nats-server, the
// receiver, the publisher) per delivery. redis-cmds/op counts the commands
// of all the replicas' state clients, resp is their RESP protocol.
func BenchmarkDeliver(b *testing.B) {
	for _, bc := range []struct {
		mode               string
		replicas, protocol int
	}{
		{"backlog", 1, 3}, {"backlog", 2, 3}, {"backlog", 2, 2},
		{"paced", 1, 3}, {"paced", 1, 2},
	} {
		b.Run(fmt.Sprintf("%s/replicas=%d/resp=%d", bc.mode, bc.replicas, bc.protocol), func(b *testing.B) {
			benchDeliver(b, bc.mode == "paced", bc.replicas, bc.protocol)
		})
	}
}

// benchRate is the jobs per second of the paced benchmarks, published
// every benchTick.
const (
	benchRate = 2000
	benchTick = 2 * time.Millisecond
)

func benchDeliver(b *testing.B, paced bool, replicas, protocol int) {
	const (
		shards = 4
		hooks  = 10
	)
	ctx := b.Context()
	var delivered atomic.Int64
	all := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		if delivered.Add(1) == int64(b.N) {
			close(all)
		}
	}))
	b.Cleanup(srv.Close)
	n := testenv.StartNATS(b, shards)
	kv, box := n.Registry(b)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		b.Fatal(err)
	}
	company := testenv.ID("co")
	var ws []*webhook.Webhook
	for i := range hooks {
		w, _, err := store.Create(ctx, &webhook.Webhook{CompanyID: company, Name: "bench" + strconv.Itoa(i), URL: srv.URL, Enabled: true}, "")
		if err != nil {
			b.Fatal(err)
		}
		ws = append(ws, w)
	}
	body := []byte(`{"event":"TODO_CREATED","currentValue":{"id":"todo1","title":"Write the launch post","todoList":{"id":"L1","title":"Launch"}},"previousValue":null}`)
	publish := func(i int) {
		w := ws[i%hooks]
		eventID := "evt_bench_" + strconv.Itoa(i)
		j := job.Job{DeliveryID: job.DeliveryID(eventID, w.ID, time.Now()), CompanyID: company,
			WebhookID: w.ID, EventID: eventID, EventType: "TODO_CREATED", Attempt: 1, Body: body}
		if _, err := n.JS.PublishMsgAsync(j.Msg(stream.DeliverySubject(w.ID, shards))); err != nil {
			b.Error(err)
		}
	}
	if !paced {
		for i := range b.N {
			publish(i)
			if i%1000 == 999 {
				<-n.JS.PublishAsyncComplete()
			}
		}
		<-n.JS.PublishAsyncComplete()
	}

	prefix := testenv.ID("bench") + ":"
	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	var ds []*Deliverer
	var counts []*cmdCounter
	for range replicas {
		nc, err := nats.Connect(n.URL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		rkv, err := js.KeyValue(ctx, stream.Registry)
		if err != nil {
			b.Fatal(err)
		}
		cache := registry.NewCache(rkv, registry.CacheConfig{Box: box})
		wg.Go(func() { _ = cache.Run(runCtx) })
		<-cache.Ready()
		rdb, count := countedRedis(b, protocol)
		cfg := Config{Shards: shards, Timeout: 10 * time.Second, Policy: retry.Policy{Delays: []time.Duration{time.Second}}}
		d, err := New(Deps{JS: js, Resolver: cache, Registry: store, State: state.NewRedis(rdb, prefix, state.BreakerPolicy{}),
			Client: NewClient(ClientConfig{Timeout: cfg.Timeout, MaxConns: 1024})}, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ds, counts = append(ds, d), append(counts, count)
	}
	var cmds0 int64
	for _, c := range counts {
		cmds0 += c.n.Load()
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for _, d := range ds {
		wg.Go(func() { _ = d.Run(runCtx) })
	}
	if paced {
		wg.Go(func() {
			// Publish on schedule: job i at start + i/benchRate, whatever
			// the ticks a loaded machine skips.
			start := time.Now()
			t := time.NewTicker(benchTick)
			defer t.Stop()
			for i := 0; i < b.N; {
				select {
				case <-runCtx.Done():
					return
				case now := <-t.C:
					for due := min(b.N, int(now.Sub(start).Seconds()*benchRate)); i < due; i++ {
						publish(i)
					}
				}
			}
		})
	}
	select {
	case <-all:
	case <-time.After(5*time.Minute + time.Duration(b.N)*time.Millisecond):
		b.Fatalf("%d of %d jobs delivered", delivered.Load(), b.N)
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	var cmds int64
	for _, c := range counts {
		cmds += c.n.Load()
	}
	b.ReportMetric(float64(cmds-cmds0)/float64(b.N), "redis-cmds/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
