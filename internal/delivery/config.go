package delivery

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Defaults of Config: what WithDefaults gives a zero field.
const (
	// DefaultUserAgent is the User-Agent of deliveries unless
	// Config.UserAgent says otherwise.
	DefaultUserAgent = "Blue-Webhooks/1.0"
	// DefaultMaxInFlight is the attempts in flight in one process.
	DefaultMaxInFlight = 1024
	// DefaultPullBatch is the messages buffered per shard consumer.
	DefaultPullBatch = 256
	// DefaultSlotWait is the longest a job waits in this process for a
	// slot of its endpoint.
	DefaultSlotWait = time.Second
	// DefaultUnhealthyAfter is the consecutive failures after which an
	// endpoint shows UNHEALTHY.
	DefaultUnhealthyAfter = 5
	// DefaultDisableAfter is how long an endpoint fails continuously
	// before its webhook is disabled.
	DefaultDisableAfter = 72 * time.Hour
	// DefaultAttemptIndexSize is the recent attempts kept per webhook.
	DefaultAttemptIndexSize = 100
	// DefaultStoreWait bounds storing a job's next step.
	DefaultStoreWait = 10 * time.Second
	// StopGrace is how much longer than Timeout the attempts in flight at
	// stop are given when StopTimeout is zero.
	StopGrace = 2 * time.Second
)

// Config configures a Deliverer. Shards and Timeout are required; a zero
// field otherwise means its default (see WithDefaults), and New refuses a
// value out of bounds, naming its field.
type Config struct {
	Shards      int
	Timeout     time.Duration // per request
	Policy      retry.Policy
	MaxInFlight int    // attempts in flight in this process; 0: DefaultMaxInFlight
	PullBatch   int    // messages buffered per shard consumer; 0: DefaultPullBatch
	UserAgent   string // "": DefaultUserAgent

	// EndpointConcurrency and EndpointRate (with EndpointBurst, 0:
	// max(1, int(EndpointRate))) apply to a webhook without its own
	// maxConcurrency / rateLimit, and are the ceilings of those. A
	// webhook's own rate has a burst of max(1, int(rate)).
	EndpointConcurrency int // attempts in flight per endpoint, all replicas; 0: webhook.DefaultConcurrency
	// SlotWait is the longest a job waits in this process for a slot of
	// its endpoint to pass to it (see waiting); 0: DefaultSlotWait. Keep
	// it well below AckWait minus Timeout.
	SlotWait         time.Duration
	EndpointRate     float64 // attempts per second per endpoint; 0: no limit
	EndpointBurst    int
	UnhealthyAfter   int           // consecutive failures before UNHEALTHY; 0: DefaultUnhealthyAfter
	DisableAfter     time.Duration // failing continuously this long: disabled; 0: DefaultDisableAfter
	AttemptIndexSize int           // recent attempts kept per webhook; 0: DefaultAttemptIndexSize

	// Heartbeat is how often a job this process holds (waiting for a
	// slot, or being attempted) is reported in progress, so that the
	// shard's short AckWait redelivers the jobs of a deliverer that died,
	// not those of one that is slow (0: never).
	Heartbeat time.Duration
	// StoreWait bounds how long storing a job's next step (a retry, a
	// dead letter, the job handed back) may take, across a DELIVERIES
	// leader election, before the job is handed back (0: DefaultStoreWait).
	StoreWait time.Duration

	// StopTimeout bounds how long Run waits for in-flight attempts after
	// its context ends; what is still running then is handed back (Nak).
	// 0: Timeout + StopGrace.
	StopTimeout time.Duration
	Logger      *slog.Logger // nil: discard
	Metrics     Metrics      // nil: record nothing
	Tracer      trace.Tracer // nil: no spans
	// SendTraceparent sends the W3C traceparent of the attempt's HTTP span
	// to the receiver.
	SendTraceparent bool
}

// WithDefaults returns c with each zero field set to its default. A value
// out of bounds is left as it is, for New to refuse.
func (c Config) WithDefaults() Config {
	c.MaxInFlight = cmp.Or(c.MaxInFlight, DefaultMaxInFlight)
	c.PullBatch = cmp.Or(c.PullBatch, DefaultPullBatch)
	c.UserAgent = cmp.Or(c.UserAgent, DefaultUserAgent)
	c.EndpointConcurrency = cmp.Or(c.EndpointConcurrency, webhook.DefaultConcurrency)
	c.SlotWait = cmp.Or(c.SlotWait, DefaultSlotWait)
	c.EndpointBurst = cmp.Or(c.EndpointBurst, max(1, int(c.EndpointRate)))
	c.UnhealthyAfter = cmp.Or(c.UnhealthyAfter, DefaultUnhealthyAfter)
	c.DisableAfter = cmp.Or(c.DisableAfter, DefaultDisableAfter)
	c.AttemptIndexSize = cmp.Or(c.AttemptIndexSize, DefaultAttemptIndexSize)
	c.StoreWait = cmp.Or(c.StoreWait, DefaultStoreWait)
	c.StopTimeout = cmp.Or(c.StopTimeout, c.Timeout+StopGrace)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	return c
}

// validate refuses the first field out of bounds, naming it.
func (c Config) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"Shards", c.Shards}, {"MaxInFlight", c.MaxInFlight}, {"PullBatch", c.PullBatch},
		{"EndpointConcurrency", c.EndpointConcurrency}, {"EndpointBurst", c.EndpointBurst},
		{"UnhealthyAfter", c.UnhealthyAfter}, {"AttemptIndexSize", c.AttemptIndexSize},
	} {
		if f.v <= 0 {
			return fmt.Errorf("delivery: Config.%s must be > 0, got %d", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"Timeout", c.Timeout}, {"SlotWait", c.SlotWait}, {"DisableAfter", c.DisableAfter},
		{"StoreWait", c.StoreWait}, {"StopTimeout", c.StopTimeout},
	} {
		if f.v <= 0 {
			return fmt.Errorf("delivery: Config.%s must be > 0, got %s", f.name, f.v)
		}
	}
	switch {
	case c.EndpointRate < 0:
		return fmt.Errorf("delivery: Config.EndpointRate must be >= 0, got %g", c.EndpointRate)
	case c.Heartbeat < 0:
		return fmt.Errorf("delivery: Config.Heartbeat must be >= 0, got %s", c.Heartbeat)
	}
	return nil
}
