// Package app wires the roles (publisher, dispatcher, deliverer, api) into a
// process from one Config. The binaries under cmd/ are thin wrappers around
// Run, and the end-to-end tests start the same code.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/ingest"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/portal"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/pkg/publish"
)

// Development defaults, used only outside production when no tokens are set.
const (
	DevAPIToken = "dev-token"
	DevCompany  = "demo"
)

// Config is everything a process needs, read once from the environment.
type Config struct {
	NatsURL  string // empty: embedded nats-server
	RedisURL string // empty: in-process state
	DataDir  string // embedded NATS storage, locked by one process
	// NatsListen exposes the embedded server to other processes ("" = no).
	NatsListen string
	// NatsSync is how often the embedded server fsyncs (NATS_SYNC).
	NatsSync stream.Sync

	APIAddr       string
	PublisherAddr string
	OpsAddr       string // health and metrics of dispatcher / deliverer
	PprofAddr     string // net/http/pprof, off unless set
	// HTTP bounds what one client can hold of each HTTP server.
	HTTP HTTPLimits

	Production   bool
	APITokens    api.Tokens
	IngestTokens ingest.Tokens
	SecretKey    []byte

	MaxEventBytes int64
	WebhookLimit  int
	// PublishWait is how long publishing an event (the ingest, the
	// platform's own events) keeps trying to store it across a leader
	// election before it fails.
	PublishWait time.Duration

	DeliveryTimeout time.Duration
	RetrySchedule   []time.Duration
	AllowedCIDRs    []netip.Prefix
	MaxInFlight     int
	Workers         int
	// Per endpoint, shared by all deliverers.
	EndpointConcurrency int
	EndpointRate        float64
	DisableAfter        time.Duration
	RotationOverlap     time.Duration

	// The customer portal: how long a minted link may be opened, how long
	// a session lasts unless the link says, the origins that may frame it,
	// and its public address ("": the address the minting request used).
	PortalLinkTTL        time.Duration
	PortalSessionTTL     time.Duration
	PortalFrameAncestors []string
	PortalURL            string
	// DeliveryMaxHeaderBytes bounds a receiver's response headers.
	DeliveryMaxHeaderBytes int64

	Stream stream.Config
	Logger *slog.Logger

	// RedisKeyPrefix goes before every key written to Redis
	// (REDIS_KEY_PREFIX), so that deployments, or tests, can share one
	// database and each remove only its own keys.
	RedisKeyPrefix string

	// Service names the process in traces (OTEL_SERVICE_NAME wins).
	Service string
	// SendTraceparent sends W3C traceparent to receivers.
	SendTraceparent bool
	// LocalHandoff lets a process that dispatches and delivers (webhookd)
	// hand a job straight to its deliverer instead of through DELIVERIES.
	LocalHandoff bool
	// RemoteHandoff lets a dispatcher without a deliverer in its process
	// offer jobs to deliverers over NATS, and deliverers take them.
	RemoteHandoff bool
	// Getenv is where OTEL_* variables are read from.
	Getenv Getenv
}

// Getenv reads one variable; os.Getenv in main, a map in tests.
type Getenv func(string) string

// LoadConfig reads the environment. Errors name the variable at fault.
func LoadConfig(getenv Getenv) (Config, error) {
	c := Config{
		NatsURL:       getenv("NATS_URL"),
		RedisURL:      getenv("REDIS_URL"),
		DataDir:       or(getenv("DATA_DIR"), "./data"),
		NatsListen:    getenv("NATS_LISTEN"),
		APIAddr:       or(getenv("API_ADDR"), "127.0.0.1:8080"),
		PublisherAddr: or(getenv("PUBLISHER_ADDR"), "127.0.0.1:8081"),
		OpsAddr:       or(getenv("OPS_ADDR"), "127.0.0.1:0"),
		PprofAddr:     getenv("PPROF_ADDR"),
		Production:    strings.EqualFold(getenv("WEBHOOKS_ENV"), "production"),
		Stream:        stream.DefaultConfig(),
	}
	var err error
	fail := func(name string, e error) error { return fmt.Errorf("%s: %w", name, e) }

	if err := checkNatsURL(c.NatsURL); err != nil {
		return c, fail("NATS_URL", err)
	}
	c.RedisKeyPrefix = getenv("REDIS_KEY_PREFIX")

	if c.APITokens, err = api.ParseTokens(getenv("WEBHOOKS_API_TOKENS")); err != nil {
		return c, fail("WEBHOOKS_API_TOKENS", err)
	}
	if c.IngestTokens, err = ingest.ParseTokens(getenv("WEBHOOKS_INGEST_TOKENS")); err != nil {
		return c, fail("WEBHOOKS_INGEST_TOKENS", err)
	}
	if k := getenv("WEBHOOKS_SECRET_KEY"); k != "" {
		if c.SecretKey, err = seal.ParseKey(k); err != nil {
			return c, fail("WEBHOOKS_SECRET_KEY", fmt.Errorf("%w (generate one with: openssl rand -base64 32)", err))
		}
	}
	if c.Production {
		switch {
		case c.SecretKey == nil:
			return c, errors.New("WEBHOOKS_SECRET_KEY: required when WEBHOOKS_ENV=production (generate one with: openssl rand -base64 32)")
		case len(c.APITokens) == 0:
			return c, errors.New("WEBHOOKS_API_TOKENS: required when WEBHOOKS_ENV=production")
		case len(c.IngestTokens) == 0:
			return c, errors.New("WEBHOOKS_INGEST_TOKENS: required when WEBHOOKS_ENV=production")
		}
	}
	if c.SecretKey == nil {
		c.SecretKey = seal.DevKey
	}
	if len(c.APITokens) == 0 {
		c.APITokens = api.Tokens{DevAPIToken: DevCompany}
	}
	if c.MaxEventBytes, err = intVar(getenv, "MAX_EVENT_BYTES", 256<<10, 1024, 8<<20); err != nil {
		return c, err
	}
	limit, err := intVar(getenv, "WEBHOOKS_PER_COMPANY_LIMIT", 100, 1, 100000)
	if err != nil {
		return c, err
	}
	c.WebhookLimit = int(limit)
	if c.DeliveryTimeout, err = durationVar(getenv, "DELIVERY_TIMEOUT", 7*time.Second, 100*time.Millisecond, 60*time.Second); err != nil {
		return c, err
	}
	if c.DeliveryMaxHeaderBytes, err = intVar(getenv, "DELIVERY_MAX_RESPONSE_HEADER_BYTES", delivery.DefaultMaxHeaderBytes, 4<<10, 10<<20); err != nil {
		return c, err
	}
	if c.RetrySchedule, err = retry.ParseSchedule(or(getenv("DELIVERY_RETRY_SCHEDULE"), retry.DefaultSchedule)); err != nil {
		return c, fail("DELIVERY_RETRY_SCHEDULE", err)
	}
	if c.AllowedCIDRs, err = netguard.ParseCIDRs(getenv("DELIVERY_ALLOWED_CIDRS")); err != nil {
		return c, fail("DELIVERY_ALLOWED_CIDRS", err)
	}
	inflight, err := intVar(getenv, "DELIVERY_MAX_IN_FLIGHT", 1024, 1, 65536)
	if err != nil {
		return c, err
	}
	c.MaxInFlight = int(inflight)
	conc, err := intVar(getenv, "DELIVERY_ENDPOINT_CONCURRENCY", 32, 1, 10000)
	if err != nil {
		return c, err
	}
	c.EndpointConcurrency = int(conc)
	rate, err := intVar(getenv, "DELIVERY_ENDPOINT_RATE", 0, 0, 1000000)
	if err != nil {
		return c, err
	}
	c.EndpointRate = float64(rate)
	if c.DisableAfter, err = durationVar(getenv, "DELIVERY_DISABLE_AFTER", 72*time.Hour, time.Second, 365*24*time.Hour); err != nil {
		return c, err
	}
	if c.RotationOverlap, err = durationVar(getenv, "WEBHOOKS_ROTATION_OVERLAP", 24*time.Hour, 0, 7*24*time.Hour); err != nil {
		return c, err
	}
	workers, err := intVar(getenv, "DISPATCH_WORKERS", 64, 1, 4096)
	if err != nil {
		return c, err
	}
	c.Workers = int(workers)
	shards, err := intVar(getenv, "DELIVERY_SHARDS", 16, 1, 1024)
	if err != nil {
		return c, err
	}
	c.Stream.Shards = int(shards)
	replicas, err := intVar(getenv, "STREAM_REPLICAS", 1, 1, 5)
	if err != nil {
		return c, err
	}
	c.Stream.Replicas = int(replicas)
	if c.NatsSync, err = stream.ParseSync(getenv("NATS_SYNC")); err != nil {
		return c, fail("NATS_SYNC", err)
	}
	if c.NatsURL != "" && getenv("NATS_SYNC") != "" {
		return c, errors.New("NATS_SYNC: configures the embedded nats-server only, and NATS_URL is set; set sync_interval in the jetstream {} block of that server's configuration instead")
	}
	// At least the 10 min deduplication window of event ids.
	if c.Stream.EventsMaxAge, err = durationVar(getenv, "EVENTS_MAX_AGE", 7*24*time.Hour, 10*time.Minute, 365*24*time.Hour); err != nil {
		return c, err
	}
	if c.Stream.AttemptsMaxAge, err = durationVar(getenv, "ATTEMPTS_MAX_AGE", 7*24*time.Hour, time.Minute, 365*24*time.Hour); err != nil {
		return c, err
	}
	if c.Stream.AckWait, err = durationVar(getenv, "ACK_WAIT", stream.DefaultConfig().AckWait, time.Second, time.Hour); err != nil {
		return c, err
	}
	if c.PublishWait, err = durationVar(getenv, "PUBLISH_WAIT", publish.DefaultWait, time.Second, 5*time.Minute); err != nil {
		return c, err
	}
	if c.HTTP, err = loadHTTPLimits(getenv, c.PublishWait); err != nil {
		return c, err
	}
	if c.SendTraceparent, err = boolVar(getenv, "DELIVERY_TRACEPARENT", true); err != nil {
		return c, err
	}
	if c.LocalHandoff, err = boolVar(getenv, "DELIVERY_LOCAL_HANDOFF", true); err != nil {
		return c, err
	}
	if c.RemoteHandoff, err = boolVar(getenv, "DELIVERY_REMOTE_HANDOFF", true); err != nil {
		return c, err
	}
	if c.PortalLinkTTL, err = durationVar(getenv, "PORTAL_LINK_TTL", 5*time.Minute, 10*time.Second, time.Hour); err != nil {
		return c, err
	}
	if c.PortalSessionTTL, err = durationVar(getenv, "PORTAL_SESSION_TTL", time.Hour, api.MinSessionTTL, api.MaxSessionTTL); err != nil {
		return c, err
	}
	if c.PortalFrameAncestors, err = portal.ParseFrameAncestors(getenv("PORTAL_FRAME_ANCESTORS")); err != nil {
		return c, fail("PORTAL_FRAME_ANCESTORS", err)
	}
	if c.PortalURL, err = portal.ParseBaseURL(getenv("PORTAL_URL")); err != nil {
		return c, fail("PORTAL_URL", err)
	}
	c.Getenv = getenv
	c.Service = "webhookd"
	if c.Logger, err = newLogger(getenv("LOG_LEVEL")); err != nil {
		return c, fail("LOG_LEVEL", err)
	}
	return c, nil
}

// loadHTTPLimits reads the HTTP_* limits. The read timeout lets a 256 KiB
// body (MAX_EVENT_BYTES) arrive at 10 KB/s; the write timeout, unless set,
// covers that read, a publish held for publishWait and 20 s to answer, and
// when set must cover the first two.
func loadHTTPLimits(getenv Getenv, publishWait time.Duration) (HTTPLimits, error) {
	var l HTTPLimits
	var err error
	if l.ReadTimeout, err = durationVar(getenv, "HTTP_READ_TIMEOUT", 30*time.Second, 100*time.Millisecond, time.Hour); err != nil {
		return l, err
	}
	if l.WriteTimeout, err = durationVar(getenv, "HTTP_WRITE_TIMEOUT", l.ReadTimeout+publishWait+20*time.Second, 100*time.Millisecond, 2*time.Hour); err != nil {
		return l, err
	}
	if least := l.ReadTimeout + publishWait; l.WriteTimeout <= least {
		return l, fmt.Errorf("HTTP_WRITE_TIMEOUT: %s must be longer than HTTP_READ_TIMEOUT + PUBLISH_WAIT (%s), or an ingest request that is read slowly and then held for a publish is cut off before it is answered", l.WriteTimeout, least)
	}
	if l.IdleTimeout, err = durationVar(getenv, "HTTP_IDLE_TIMEOUT", 120*time.Second, 100*time.Millisecond, time.Hour); err != nil {
		return l, err
	}
	headers, err := intVar(getenv, "HTTP_MAX_HEADER_BYTES", 64<<10, 4<<10, 1<<20)
	if err != nil {
		return l, err
	}
	l.MaxHeaderBytes = int(headers)
	conns, err := intVar(getenv, "HTTP_MAX_CONNS", 1024, 1, 1000000)
	if err != nil {
		return l, err
	}
	l.MaxConns = int(conns)
	return l, nil
}

// EmbeddedStoreDir is where the embedded nats-server keeps its data.
func (c Config) EmbeddedStoreDir() string { return filepath.Join(c.DataDir, "nats") }

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func intVar(getenv Getenv, name string, def, lo, hi int64) (int64, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %q must be an integer between %d and %d", name, v, lo, hi)
	}
	return n, nil
}

func boolVar(getenv Getenv, name string, def bool) (bool, error) {
	switch v := strings.ToLower(getenv(name)); v {
	case "":
		return def, nil
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	default:
		return false, fmt.Errorf("%s: %q must be true or false", name, v)
	}
}

func durationVar(getenv Getenv, name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return 0, fmt.Errorf("%s: %q must be a duration like 7s between %s and %s", name, v, lo, hi)
	}
	return d, nil
}

func newLogger(level string) (*slog.Logger, error) {
	l, err := telemetry.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))), nil
}
