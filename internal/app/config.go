// Package app wires the roles (publisher, dispatcher, deliverer, api) into a
// process from one Config. The binaries under cmd/ are thin wrappers around
// Run, and the end-to-end tests start the same code.
package app

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/ingest"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/portal"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
	"github.com/bluehq/webhooks/internal/webhook"
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

// LoadConfig reads the environment: each variable that is set into its
// field, then WithDefaults for the others, then validate. Errors name the
// variable at fault.
func LoadConfig(getenv Getenv) (Config, error) {
	c := Config{
		// Settings whose zero value is a setting of its own (a switch that
		// is on by default; no overlap, the old secret ending at once) start
		// at their defaults here: WithDefaults cannot tell them from unset.
		RotationOverlap: webhook.DefaultRotationOverlap,
		SendTraceparent: true,
		LocalHandoff:    true,
		RemoteHandoff:   true,
		Getenv:          getenv,
	}
	r := &envReader{getenv: getenv}
	c.NatsURL = r.str("NATS_URL")
	c.RedisURL = r.str("REDIS_URL")
	c.DataDir = r.str("DATA_DIR")
	c.NatsListen = r.str("NATS_LISTEN")
	c.APIAddr = r.str("API_ADDR")
	c.PublisherAddr = r.str("PUBLISHER_ADDR")
	c.OpsAddr = r.str("OPS_ADDR")
	c.PprofAddr = r.str("PPROF_ADDR")
	c.Production = strings.EqualFold(r.str("WEBHOOKS_ENV"), "production")
	c.RedisKeyPrefix = r.str("REDIS_KEY_PREFIX")
	r.parse("WEBHOOKS_API_TOKENS", func(v string) (err error) { c.APITokens, err = api.ParseTokens(v); return err })
	r.parse("WEBHOOKS_INGEST_TOKENS", func(v string) (err error) { c.IngestTokens, err = ingest.ParseTokens(v); return err })
	r.parse("WEBHOOKS_SECRET_KEY", func(v string) (err error) {
		if c.SecretKey, err = seal.ParseKey(v); err != nil {
			return fmt.Errorf("%w (generate one with: openssl rand -base64 32)", err)
		}
		return nil
	})
	r.int64("MAX_EVENT_BYTES", &c.MaxEventBytes)
	r.int("WEBHOOKS_PER_COMPANY_LIMIT", &c.WebhookLimit)
	r.duration("DELIVERY_TIMEOUT", &c.DeliveryTimeout)
	r.int64("DELIVERY_MAX_RESPONSE_HEADER_BYTES", &c.DeliveryMaxHeaderBytes)
	r.parse("DELIVERY_RETRY_SCHEDULE", func(v string) (err error) { c.RetrySchedule, err = retry.ParseSchedule(v); return err })
	r.parse("DELIVERY_ALLOWED_CIDRS", func(v string) (err error) { c.AllowedCIDRs, err = netguard.ParseCIDRs(v); return err })
	r.int("DELIVERY_MAX_IN_FLIGHT", &c.MaxInFlight)
	r.int("DELIVERY_ENDPOINT_CONCURRENCY", &c.EndpointConcurrency)
	var rate int64
	r.intOrZero("DELIVERY_ENDPOINT_RATE", &rate)
	c.EndpointRate = float64(rate)
	r.duration("DELIVERY_DISABLE_AFTER", &c.DisableAfter)
	r.durationOrZero("WEBHOOKS_ROTATION_OVERLAP", &c.RotationOverlap)
	r.int("DISPATCH_WORKERS", &c.Workers)
	r.int("DELIVERY_SHARDS", &c.Stream.Shards)
	r.int("STREAM_REPLICAS", &c.Stream.Replicas)
	r.parse("NATS_SYNC", func(v string) (err error) { c.NatsSync, err = stream.ParseSync(v); return err })
	r.duration("EVENTS_MAX_AGE", &c.Stream.EventsMaxAge)
	r.duration("ATTEMPTS_MAX_AGE", &c.Stream.AttemptsMaxAge)
	r.duration("ACK_WAIT", &c.Stream.AckWait)
	r.duration("PUBLISH_WAIT", &c.PublishWait)
	r.duration("HTTP_READ_TIMEOUT", &c.HTTP.ReadTimeout)
	r.duration("HTTP_WRITE_TIMEOUT", &c.HTTP.WriteTimeout)
	r.duration("HTTP_IDLE_TIMEOUT", &c.HTTP.IdleTimeout)
	r.int("HTTP_MAX_HEADER_BYTES", &c.HTTP.MaxHeaderBytes)
	r.int("HTTP_MAX_CONNS", &c.HTTP.MaxConns)
	r.bool("DELIVERY_TRACEPARENT", &c.SendTraceparent)
	r.bool("DELIVERY_LOCAL_HANDOFF", &c.LocalHandoff)
	r.bool("DELIVERY_REMOTE_HANDOFF", &c.RemoteHandoff)
	r.duration("PORTAL_LINK_TTL", &c.PortalLinkTTL)
	r.duration("PORTAL_SESSION_TTL", &c.PortalSessionTTL)
	r.parse("PORTAL_FRAME_ANCESTORS", func(v string) (err error) { c.PortalFrameAncestors, err = portal.ParseFrameAncestors(v); return err })
	r.parse("PORTAL_URL", func(v string) (err error) { c.PortalURL, err = portal.ParseBaseURL(v); return err })
	level := slog.LevelInfo
	r.parse("LOG_LEVEL", func(v string) (err error) { level, err = telemetry.ParseLevel(v); return err })
	if r.err != nil {
		return c, r.err
	}
	c.Logger = newLogger(level)
	c = c.WithDefaults()
	return c, c.validate()
}

// WithDefaults returns c with each zero field set to its default (the
// defaults the README's configuration table lists). Outside production, no
// secret key and no API token mean the development ones. A field whose
// zero value is a setting of its own (the switches, RotationOverlap) is
// left as it is: LoadConfig starts it at its default.
func (c Config) WithDefaults() Config {
	c.DataDir = cmp.Or(c.DataDir, "./data")
	c.APIAddr = cmp.Or(c.APIAddr, "127.0.0.1:8080")
	c.PublisherAddr = cmp.Or(c.PublisherAddr, "127.0.0.1:8081")
	c.OpsAddr = cmp.Or(c.OpsAddr, "127.0.0.1:0")
	if !c.Production {
		if c.SecretKey == nil {
			c.SecretKey = seal.DevKey
		}
		if len(c.APITokens) == 0 {
			c.APITokens = api.Tokens{DevAPIToken: DevCompany}
		}
	}
	c.MaxEventBytes = cmp.Or(c.MaxEventBytes, event.DefaultMaxBytes)
	c.WebhookLimit = cmp.Or(c.WebhookLimit, 100)
	c.PublishWait = cmp.Or(c.PublishWait, publish.DefaultWait)
	c.HTTP = c.HTTP.withDefaults(c.PublishWait)
	c.DeliveryTimeout = cmp.Or(c.DeliveryTimeout, 7*time.Second)
	c.DeliveryMaxHeaderBytes = cmp.Or(c.DeliveryMaxHeaderBytes, delivery.DefaultMaxHeaderBytes)
	if c.RetrySchedule == nil {
		c.RetrySchedule = retry.DefaultDelays()
	}
	c.MaxInFlight = cmp.Or(c.MaxInFlight, delivery.DefaultMaxInFlight)
	c.Workers = cmp.Or(c.Workers, dispatch.DefaultWorkers)
	c.EndpointConcurrency = cmp.Or(c.EndpointConcurrency, webhook.DefaultConcurrency)
	c.DisableAfter = cmp.Or(c.DisableAfter, delivery.DefaultDisableAfter)
	c.PortalLinkTTL = cmp.Or(c.PortalLinkTTL, 5*time.Minute)
	c.PortalSessionTTL = cmp.Or(c.PortalSessionTTL, time.Hour)
	c.Stream = c.Stream.WithDefaults()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Service = cmp.Or(c.Service, "webhookd")
	return c
}

// validate refuses, naming the variable that sets it, the first value out
// of its bounds, and what production requires and does not have.
func (c Config) validate() error {
	if err := checkNatsURL(c.NatsURL); err != nil {
		return fmt.Errorf("NATS_URL: %w", err)
	}
	if c.Production {
		switch {
		case c.SecretKey == nil:
			return errors.New("WEBHOOKS_SECRET_KEY: required when WEBHOOKS_ENV=production (generate one with: openssl rand -base64 32)")
		case len(c.APITokens) == 0:
			return errors.New("WEBHOOKS_API_TOKENS: required when WEBHOOKS_ENV=production")
		case len(c.IngestTokens) == 0:
			return errors.New("WEBHOOKS_INGEST_TOKENS: required when WEBHOOKS_ENV=production")
		}
	}
	if c.NatsURL != "" && c.NatsSync != (stream.Sync{}) {
		return errors.New("NATS_SYNC: configures the embedded nats-server only, and NATS_URL is set; set sync_interval in the jetstream {} block of that server's configuration instead")
	}
	return cmp.Or(
		between("MAX_EVENT_BYTES", c.MaxEventBytes, 1024, 8<<20),
		between("WEBHOOKS_PER_COMPANY_LIMIT", c.WebhookLimit, 1, 100000),
		within("DELIVERY_TIMEOUT", c.DeliveryTimeout, 100*time.Millisecond, time.Minute),
		between("DELIVERY_MAX_RESPONSE_HEADER_BYTES", c.DeliveryMaxHeaderBytes, 4<<10, 10<<20),
		between("DELIVERY_MAX_IN_FLIGHT", c.MaxInFlight, 1, 65536),
		between("DELIVERY_ENDPOINT_CONCURRENCY", c.EndpointConcurrency, 1, 10000),
		checkRate("DELIVERY_ENDPOINT_RATE", c.EndpointRate),
		within("DELIVERY_DISABLE_AFTER", c.DisableAfter, time.Second, 365*24*time.Hour),
		within("WEBHOOKS_ROTATION_OVERLAP", c.RotationOverlap, 0, webhook.MaxRotationOverlap),
		between("DISPATCH_WORKERS", c.Workers, 1, 4096),
		between("DELIVERY_SHARDS", c.Stream.Shards, 1, stream.MaxShards),
		between("STREAM_REPLICAS", c.Stream.Replicas, 1, stream.MaxReplicas),
		// At least the deduplication window of event ids.
		within("EVENTS_MAX_AGE", c.Stream.EventsMaxAge, stream.DefaultDuplicateWindow, 365*24*time.Hour),
		within("ATTEMPTS_MAX_AGE", c.Stream.AttemptsMaxAge, time.Minute, 365*24*time.Hour),
		within("ACK_WAIT", c.Stream.AckWait, time.Second, time.Hour),
		within("PUBLISH_WAIT", c.PublishWait, time.Second, 5*time.Minute),
		c.HTTP.validate(c.PublishWait),
		within("PORTAL_LINK_TTL", c.PortalLinkTTL, 10*time.Second, time.Hour),
		within("PORTAL_SESSION_TTL", c.PortalSessionTTL, api.MinSessionTTL, api.MaxSessionTTL),
	)
}

// between refuses an integer of variable name outside lo..hi.
func between[N int | int64](name string, n, lo, hi N) error {
	if n < lo || n > hi {
		return fmt.Errorf("%s: %d must be an integer between %d and %d", name, n, lo, hi)
	}
	return nil
}

// checkRate refuses a rate of variable name (per second) outside 0 (no
// limit) to webhook.MaxRateLimit.
func checkRate(name string, rate float64) error {
	if rate < 0 || rate > webhook.MaxRateLimit {
		return fmt.Errorf("%s: %g must be a number between 0 and %d", name, rate, int64(webhook.MaxRateLimit))
	}
	return nil
}

// within refuses a duration of variable name outside lo..hi.
func within(name string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return fmt.Errorf("%s: %s must be a duration like 7s between %s and %s", name, d, lo, hi)
	}
	return nil
}

// EmbeddedStoreDir is where the embedded nats-server keeps its data.
func (c Config) EmbeddedStoreDir() string { return filepath.Join(c.DataDir, "nats") }

func newLogger(level slog.Level) *slog.Logger {
	return slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}
