// Command bench is the end-to-end benchmark of the webhook pipeline
// (docs/architecture.md, "The benchmark").
//
// It runs the real pipeline: by default its own stack in this process
// (app.Run with every role, an embedded nats-server under a temporary
// DATA_DIR that is removed at exit); with NATS_URL (and optionally
// REDIS_URL) in the environment, that stack uses them instead; with
// -external it starts no role at all and only talks to the -api and -ingest
// URLs of a stack that runs elsewhere. It registers webhooks through the
// management API, pointing at a receiver in this process on 127.0.0.1 that
// verifies every delivery with pkg/verify (Verify and VerifyXSignature),
// publishes events with pkg/publish straight to NATS (-via nats, the
// default) or through the stack's ingest, POST /v1/events (-via http; with
// -batch 1, one event object per request), waits until every expected delivery arrived or
// -wait passed after publishing ended, and prints one JSON line, last, on
// stdout:
//
//	{"scenario":..., "events":N, "expected":N, "delivered":N, "lost":N,
//	 "duplicates":N, "bad_signatures":N, "deliveries_per_sec":X,
//	 "p50_ms":X, "p99_ms":X, "max_ms":X, ...more fields}
//
// Latency is the receipt time of a delivery minus the time just before the
// publish call of its event; deliveries_per_sec is delivered / (last receipt
// - first publish). A progress line goes to stderr every second.
//
// Scenarios (-scenario):
//
//	fanout     each event to -webhooks K webhooks (default 10), published as
//	           fast as accepted for -duration, with at most -max-pending
//	           deliveries outstanding (default 5000; 0 = no limit, which
//	           builds a backlog that may outlast -wait)
//	endpoints  -webhooks N webhooks (default 1000), each subscribed to its own
//	           project and served on a port of its own (a host of its own to
//	           the deliverer); -per-webhook events each (default 10),
//	           published as fast as accepted within -max-pending
//	faulty     like rate with -webhooks (default 20) of which -faulty-share
//	           (default 0.1) hang until the delivery timeout (-timeout) or
//	           answer 500, alternately; latency is the healthy endpoints' only
//	hostile    like rate with -webhooks (default 20) of which -hostile-share
//	           (default 0.5) are receivers on raw sockets of their own that
//	           answer 200 with 9.5 MB of headers, never answer, trickle the
//	           body at 1 byte/s, reset the connection, or answer 429 with
//	           Retry-After: 99999999, in turn; latency is the healthy
//	           endpoints' only, and the result adds this process's memory
//	           (rss_max_mb, sampled VmRSS; peak_rss_mb, VmHWM) and
//	           goroutines (goroutines_max): with -hostile-share 0 the same
//	           run without hostile receivers, the baseline
//	rate       a fixed -rate deliveries/s (default 2000) for -duration:
//	           -rate/K events/s paced by a ticker; latency at load
//	ceiling    no pipeline: -concurrency HTTP clients (default 64) POST the
//	           same kind of signed bodies straight to the same receiver for
//	           -duration: this machine's HTTP limit in the same run
//
// When no delivery arrives for 5s while some are outstanding, a line on
// stderr tells where the work sits in JetStream (the dispatcher's consumer,
// the shard consumers, and which shards have messages pending but no pull
// request). -pprof serves net/http/pprof for the bench and the stack in
// this process.
//
// Examples:
//
//	go run ./cmd/bench -scenario fanout -duration 10s -webhooks 10
//	go run ./cmd/bench -scenario rate -rate 2000 -duration 10s
//	go run ./cmd/bench -scenario faulty -rate 1000 -faulty-share 0.1 -timeout 2s
//	go run ./cmd/bench -scenario hostile -rate 1000 -hostile-share 0.5 -duration 10m
//	go run ./cmd/bench -scenario hostile -rate 1000 -hostile-share 0 -duration 10m   # baseline
//	go run ./cmd/bench -scenario endpoints -webhooks 1000 -per-webhook 10
//	go run ./cmd/bench -scenario ceiling -concurrency 64 -duration 10s
//	NATS_URL=nats://127.0.0.1:4222 REDIS_URL=redis://127.0.0.1:6379 go run ./cmd/bench -scenario fanout
//	go run ./cmd/bench -external -api http://127.0.0.1:8080 -ingest http://127.0.0.1:8081 \
//	    -token $TOKEN -ingest-token $INGEST -company $COMPANY -scenario rate
//
// With -external the deliverers must be allowed to call 127.0.0.1
// (DELIVERY_ALLOWED_CIDRS=127.0.0.0/8) and run on this machine; -company is
// the company -token is bound to. Each run scopes its webhooks to projects
// of its own, so webhooks left in that company do not change the expected
// set; the webhooks a run creates are deleted at its end.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	_ "net/http/pprof" // -pprof
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bluehq/webhooks/internal/app"
	"github.com/bluehq/webhooks/internal/version"
)

// options are the command-line flags.
type options struct {
	scenario     string
	duration     time.Duration
	webhooks     int
	rate         float64
	faultyShare  float64
	hostileShare float64
	timeout      time.Duration
	wait         time.Duration
	linger       time.Duration
	concurrency  int
	perWebhook   int
	publishers   int
	batch        int
	maxPending   int
	warmup       bool
	logLevel     string
	pprofAddr    string
	version      bool // print the version and exit

	via string // how events are published: "nats" (pkg/publish) or "http" (POST /v1/events)

	external    bool
	apiURL      string
	ingestURL   string
	token       string
	ingestToken string
	company     string
}

// result is the JSON line printed last. The first eleven fields are the
// contract; the rest are extras.
type result struct {
	Scenario         string  `json:"scenario"`
	Events           int64   `json:"events"`
	Expected         int64   `json:"expected"`
	Delivered        int64   `json:"delivered"`
	Lost             int64   `json:"lost"`
	Duplicates       int64   `json:"duplicates"`
	BadSignatures    int64   `json:"bad_signatures"`
	DeliveriesPerSec float64 `json:"deliveries_per_sec"`
	P50ms            float64 `json:"p50_ms"`
	P99ms            float64 `json:"p99_ms"`
	MaxMs            float64 `json:"max_ms"`

	P90ms          float64 `json:"p90_ms"`
	MeanMs         float64 `json:"mean_ms"`
	PublishRate    float64 `json:"publish_rate"` // events/s while publishing
	TargetRate     float64 `json:"target_rate,omitempty"`
	PublishErrors  int64   `json:"publish_errors"`
	Unexpected     int64   `json:"unexpected"`
	Webhooks       int     `json:"webhooks"`
	FaultyWebhooks int     `json:"faulty_webhooks,omitempty"`
	FaultyAttempts int64   `json:"faulty_attempts,omitempty"`
	// HostileAttempts is the requests each hostile behaviour read.
	HostileAttempts map[string]int64 `json:"hostile_attempts,omitempty"`
	Mode            string           `json:"mode"`
	Via             string           `json:"via"`   // how events were published: nats or http
	Batch           int              `json:"batch"` // events per publish call
	Publishers      int              `json:"publishers"`
	ElapsedS        float64          `json:"elapsed_s"`
	PeakRSSMB       float64          `json:"peak_rss_mb"`
	// RSSMaxMB and RSSEndMB are this process's VmRSS, sampled every 250 ms
	// while publishing and waiting: the largest, and the last; with
	// GoroutinesMax and GoroutinesEnd, what the stack held (when it runs
	// here).
	RSSMaxMB      float64 `json:"rss_max_mb,omitempty"`
	RSSEndMB      float64 `json:"rss_end_mb,omitempty"`
	GoroutinesMax int     `json:"goroutines_max,omitempty"`
	GoroutinesEnd int     `json:"goroutines_end,omitempty"`
	// CPUPerDelivery is this process's CPU time (user + system) from the
	// first publish until the last delivery, per delivery, in microseconds:
	// the whole pipeline's cost when it runs in-process. Steadier between
	// runs than the rate, so before/after comparisons use it too.
	CPUPerDelivery float64 `json:"cpu_us_per_delivery,omitempty"`
	// AllocsPerDelivery is the heap allocations of this process over the
	// same span, per delivery.
	AllocsPerDelivery float64 `json:"allocs_per_delivery,omitempty"`
	// HandedOverShare is the share of jobs the dispatcher handed straight
	// to the deliverer of its process (webhookd), not through DELIVERIES;
	// absent when the stack's metrics could not be read (or no job).
	HandedOverShare *float64 `json:"handed_over_share,omitempty"`
	// HandedBack counts the jobs handed back to their shard because their
	// endpoint was at its in-flight cap (a job may count more than once).
	HandedBack *int64 `json:"handed_back,omitempty"`
	Cores      int    `json:"cores"`
}

var scenarios = []string{"fanout", "endpoints", "faulty", "hostile", "rate", "ceiling"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	switch {
	case errors.Is(err, flag.ErrHelp): // parseFlags printed the usage
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "bench: %v\nrun bench -h for usage\n", err)
		return 2
	case o.version:
		fmt.Fprintln(stdout, version.String("bench"))
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.pprofAddr != "" {
		// The default mux carries net/http/pprof's handlers.
		srv := &http.Server{Addr: o.pprofAddr, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
				fmt.Fprintln(stderr, "bench: -pprof:", err)
			}
		}()
		defer srv.Close()
	}

	res, err := runScenario(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	line, err := json.Marshal(res)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	if res.Lost > 0 || res.BadSignatures > 0 {
		return 3
	}
	return 0
}

// parseFlags reads the command line; for -h it prints the usage on
// stdout and returns flag.ErrHelp.
func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by run, the usage below
	fs.StringVar(&o.scenario, "scenario", "fanout", "what to measure: "+strings.Join(scenarios, ", "))
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to publish (fanout, rate, faulty, hostile) or POST (ceiling)")
	fs.IntVar(&o.webhooks, "webhooks", 0, "webhooks: the fan-out K of fanout, rate, faulty and hostile (default 10; 20 for faulty and hostile), the endpoint count of endpoints (default 1000), the receiver endpoints of ceiling (default 10)")
	fs.Float64Var(&o.rate, "rate", 2000, "deliveries per second to publish (rate, faulty, hostile); events/s = rate / webhooks")
	fs.Float64Var(&o.faultyShare, "faulty-share", 0.1, "faulty: share of endpoints that hang until the delivery timeout or answer 500 (alternately)")
	fs.Float64Var(&o.hostileShare, "hostile-share", 0.5, "hostile: share of endpoints that are hostile (huge headers, silent, trickling, resetting, 429 with a huge Retry-After, in turn); 0: the baseline without them")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Second, "delivery timeout (DELIVERY_TIMEOUT of the stack in this process; the client timeout of ceiling)")
	fs.DurationVar(&o.wait, "wait", 60*time.Second, "after publishing ends, wait at most this long for the expected deliveries")
	fs.DurationVar(&o.linger, "linger", time.Second, "after the last expected delivery, keep listening this long to count duplicates")
	fs.IntVar(&o.concurrency, "concurrency", 64, "ceiling: concurrent HTTP clients")
	fs.IntVar(&o.perWebhook, "per-webhook", 10, "endpoints: events per webhook")
	fs.IntVar(&o.publishers, "publishers", 4, "goroutines publishing concurrently, each a batch at a time")
	fs.IntVar(&o.batch, "batch", 100, "most events per publish call (PublishJSON with an array; 1 to 1000)")
	fs.IntVar(&o.maxPending, "max-pending", 5000, "fanout, endpoints: pause publishing while more deliveries than this are outstanding (0: no limit, publish purely as fast as accepted)")
	fs.BoolVar(&o.warmup, "warmup", true, "before measuring, send one event through every webhook and wait for it (not counted)")
	fs.StringVar(&o.logLevel, "log-level", "warn", "LOG_LEVEL of the stack in this process (its logs go to stderr)")
	fs.StringVar(&o.pprofAddr, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060) while running: profiles of the bench and the stack in this process")
	fs.StringVar(&o.via, "via", "", `how events are published: "nats" (pkg/publish straight to JetStream) or "http" (POST /v1/events on the ingest, one request per -batch; -batch 1 sends one event object per request, as most services do). Default: nats, or http with -external -ingest`)
	fs.BoolVar(&o.external, "external", false, "start no role in this process: use the stack at -api and -ingest (or NATS_URL, when -ingest is empty)")
	fs.StringVar(&o.apiURL, "api", "", "-external: management API base URL, e.g. http://127.0.0.1:8080")
	fs.StringVar(&o.ingestURL, "ingest", "", "-external: publisher (ingest) base URL, e.g. http://127.0.0.1:8081; empty: publish with pkg/publish to $NATS_URL")
	fs.StringVar(&o.token, "token", "", "-external: management API token (default $BENCH_API_TOKEN)")
	fs.StringVar(&o.ingestToken, "ingest-token", "", "-external: ingest token (default $BENCH_INGEST_TOKEN)")
	fs.StringVar(&o.company, "company", "", "-external: the company -token is bound to (default $BENCH_COMPANY)")
	fs.BoolVar(&o.version, "version", false, "print the version and build, and exit")
	usage := func() {
		fmt.Fprint(stdout, `usage: bench [flags]

Runs the webhook pipeline end to end (its own stack in this process unless
-external; NATS_URL / REDIS_URL in the environment are used when set),
verifies every delivery's signatures, and prints one JSON line last on stdout:
{"scenario","events","expected","delivered","lost","duplicates",
 "bad_signatures","deliveries_per_sec","p50_ms","p99_ms","max_ms", ...}
A progress line goes to stderr every second. Exit status 3 when deliveries
were lost or a signature was bad.

Scenarios: fanout (each event to K webhooks, as fast as accepted),
endpoints (many webhooks, each its own project, few events each),
faulty (a share of endpoints hang or answer 500; healthy latency only),
hostile (a share of endpoints are hostile raw sockets: huge headers, silent,
trickling, resetting, 429 with a huge Retry-After; healthy latency, memory
and goroutines of this process; -hostile-share 0 for the baseline),
rate (fixed deliveries/s, latency at load), ceiling (no pipeline: signed
POSTs straight to the receiver, this machine's HTTP limit).

Environment: NATS_URL and REDIS_URL (see above); BENCH_API_TOKEN,
BENCH_INGEST_TOKEN and BENCH_COMPANY (defaults of -token, -ingest-token,
-company). The stack in this process reads what webhookd reads (the bench
sets its addresses, DATA_DIR, tokens, LOG_LEVEL, DELIVERY_TIMEOUT and
WEBHOOKS_PER_COMPANY_LIMIT):
`+app.EnvironmentHelp()+`
Flags:
`)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
		}
		return o, err
	}
	if o.version {
		return o, nil
	}
	// Read here, not as the flags' defaults: -h would print a token.
	o.token = cmp.Or(o.token, os.Getenv("BENCH_API_TOKEN"))
	o.ingestToken = cmp.Or(o.ingestToken, os.Getenv("BENCH_INGEST_TOKEN"))
	o.company = cmp.Or(o.company, os.Getenv("BENCH_COMPANY"))
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if !slices.Contains(scenarios, o.scenario) {
		return o, fmt.Errorf("-scenario %q: want one of %s", o.scenario, strings.Join(scenarios, ", "))
	}
	if o.webhooks == 0 {
		switch o.scenario {
		case "endpoints":
			o.webhooks = 1000
		case "faulty", "hostile":
			o.webhooks = 20
		default:
			o.webhooks = 10
		}
	}
	switch {
	case o.webhooks < 1:
		return o, fmt.Errorf("-webhooks must be at least 1")
	case o.duration <= 0:
		return o, fmt.Errorf("-duration must be positive")
	case o.rate <= 0:
		return o, fmt.Errorf("-rate must be positive")
	case o.faultyShare < 0 || o.faultyShare >= 1:
		return o, fmt.Errorf("-faulty-share must be in [0, 1)")
	case o.hostileShare < 0 || o.hostileShare >= 1:
		return o, fmt.Errorf("-hostile-share must be in [0, 1)")
	case o.timeout < 100*time.Millisecond || o.timeout > time.Minute:
		return o, fmt.Errorf("-timeout must be between 100ms and 1m")
	case o.concurrency < 1:
		return o, fmt.Errorf("-concurrency must be at least 1")
	case o.perWebhook < 1:
		return o, fmt.Errorf("-per-webhook must be at least 1")
	case o.publishers < 1:
		return o, fmt.Errorf("-publishers must be at least 1")
	case o.batch < 1 || o.batch > 1000:
		return o, fmt.Errorf("-batch must be between 1 and 1000")
	case o.maxPending < 0:
		return o, fmt.Errorf("-max-pending must not be negative")
	}
	switch {
	case o.via == "":
		o.via = "nats"
		if o.external && o.ingestURL != "" {
			o.via = "http"
		}
	case o.via != "nats" && o.via != "http":
		return o, fmt.Errorf("-via %q: want nats or http", o.via)
	case o.via == "http" && o.external && o.ingestURL == "":
		return o, fmt.Errorf("-via http with -external needs -ingest")
	case o.via == "nats" && o.external && o.ingestURL != "":
		return o, fmt.Errorf("-via nats with -external publishes to $NATS_URL: leave -ingest empty")
	}
	if o.external {
		if o.scenario == "ceiling" {
			return o, fmt.Errorf("-external does not apply to ceiling (it has no pipeline)")
		}
		if o.apiURL == "" || o.token == "" || o.company == "" {
			return o, fmt.Errorf("-external needs -api, -token and -company")
		}
		if o.ingestURL == "" && os.Getenv("NATS_URL") == "" {
			return o, fmt.Errorf("-external needs -ingest, or NATS_URL to publish to")
		}
	}
	return o, nil
}

// latencyStats turns latencies into the result's milliseconds (nearest
// rank percentiles).
func latencyStats(res *result, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return ms(lat[min(max(i, 0), len(lat)-1)])
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	res.P50ms, res.P90ms, res.P99ms = pct(0.50), pct(0.90), pct(0.99)
	res.MaxMs = ms(lat[len(lat)-1])
	res.MeanMs = ms(sum / time.Duration(len(lat)))
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapAllocs is how many heap objects this process has allocated.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// perDelivery is x divided by the deliveries, to one decimal; 0 without any.
func perDelivery(x float64, delivered int64) float64 {
	if delivered == 0 || x <= 0 {
		return 0
	}
	return round(x/float64(delivered), 1)
}

// peakRSSMB is VmHWM of this process (the stack included when it runs
// here), in MiB; 0 where /proc is not available.
func peakRSSMB() float64 { return procStatusMB("VmHWM:") }

func cores() int { return runtime.GOMAXPROCS(0) }
