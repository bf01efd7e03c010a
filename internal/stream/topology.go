// Package stream owns the JetStream topology: the names and subjects of the
// EVENTS, DELIVERIES, DEAD and ATTEMPTS streams and of the webhooks and
// portal KV buckets, their creation, and the embedded nats-server used by
// webhookd and tests.
package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Names of the streams and the registry bucket.
const (
	Events     = "EVENTS"
	Deliveries = "DELIVERIES"
	Dead       = "DEAD"
	Attempts   = "ATTEMPTS"
	Registry   = "webhooks"
	// Portal is the KV bucket of the customer portal's single-use links
	// and sessions, shared by every API process.
	Portal = "portal"

	// DispatchConsumer is the durable consumer on EVENTS that all dispatcher
	// replicas share.
	DispatchConsumer = "dispatch"
)

// Config sizes the topology. A zero field takes its default (see
// WithDefaults); Validate refuses one out of its range.
type Config struct {
	// Shards is the number of delivery shards (one consumer each).
	Shards int
	// EventsMaxAge is how long EVENTS keeps history for replay and backfill.
	EventsMaxAge time.Duration
	// DeadMaxAge and AttemptsMaxAge bound the dead letters and the log.
	DeadMaxAge     time.Duration
	AttemptsMaxAge time.Duration
	// DuplicateWindow is the publish deduplication window (>= 10 min).
	DuplicateWindow time.Duration
	// Replicas is the replication factor of the streams and the bucket (1
	// on a single server, at most 5). Start-up raises a stream to it and
	// never lowers one that has more.
	Replicas int
	// Memory selects memory storage (tests); file storage otherwise.
	Memory bool
	// AckWait is how long a consumer waits for an ack before redelivering a
	// message whose worker died. Workers report progress on what they hold
	// (see Hold), so it bounds the redelivery after a crash, not the
	// length of an attempt.
	AckWait time.Duration
	// ShardMaxAckPending bounds the jobs of one delivery shard in flight
	// across all deliverers (pulled, not yet acked).
	ShardMaxAckPending int
}

// Defaults of Config, documented with the variables that set them
// (README, "Configuration").
const (
	DefaultShards             = 16
	DefaultEventsMaxAge       = 7 * 24 * time.Hour
	DefaultDeadMaxAge         = 30 * 24 * time.Hour
	DefaultAttemptsMaxAge     = 7 * 24 * time.Hour
	DefaultDuplicateWindow    = 10 * time.Minute
	DefaultReplicas           = 1
	DefaultAckWait            = 5 * time.Second
	DefaultShardMaxAckPending = 1024
)

// Bounds of Config that Validate enforces.
const (
	MaxShards   = 1024
	MaxReplicas = 5
)

// WithDefaults returns c with each zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Shards = cmp.Or(c.Shards, DefaultShards)
	c.EventsMaxAge = cmp.Or(c.EventsMaxAge, DefaultEventsMaxAge)
	c.DeadMaxAge = cmp.Or(c.DeadMaxAge, DefaultDeadMaxAge)
	c.AttemptsMaxAge = cmp.Or(c.AttemptsMaxAge, DefaultAttemptsMaxAge)
	c.DuplicateWindow = cmp.Or(c.DuplicateWindow, DefaultDuplicateWindow)
	c.Replicas = cmp.Or(c.Replicas, DefaultReplicas)
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.ShardMaxAckPending = cmp.Or(c.ShardMaxAckPending, DefaultShardMaxAckPending)
	return c
}

// DefaultConfig returns the documented defaults: Config{}.WithDefaults().
func DefaultConfig() Config { return Config{}.WithDefaults() }

// Validate reports the first field that is out of range (after
// WithDefaults, which Ensure applies first).
func (c Config) Validate() error {
	switch {
	case c.Shards < 1 || c.Shards > MaxShards:
		return fmt.Errorf("stream: Shards must be in 1..%d, got %d", MaxShards, c.Shards)
	case c.EventsMaxAge <= 0:
		return errors.New("stream: EventsMaxAge must be positive")
	case c.DeadMaxAge <= 0 || c.AttemptsMaxAge <= 0:
		return fmt.Errorf("stream: DeadMaxAge (%s) and AttemptsMaxAge (%s) must be positive", c.DeadMaxAge, c.AttemptsMaxAge)
	case c.DuplicateWindow < 10*time.Minute:
		return fmt.Errorf("stream: DuplicateWindow must be at least 10m, got %s", c.DuplicateWindow)
	case c.AckWait < time.Second:
		return fmt.Errorf("stream: AckWait must be at least 1s, got %s", c.AckWait)
	case c.ShardMaxAckPending < 1:
		return fmt.Errorf("stream: ShardMaxAckPending must be at least 1, got %d", c.ShardMaxAckPending)
	case c.Replicas < 1 || c.Replicas > MaxReplicas:
		return fmt.Errorf("stream: Replicas must be in 1..%d, got %d", MaxReplicas, c.Replicas)
	case c.EventsMaxAge < c.DuplicateWindow:
		return fmt.Errorf("stream: EventsMaxAge (%s) must be at least DuplicateWindow (%s)", c.EventsMaxAge, c.DuplicateWindow)
	}
	return nil
}

func (c Config) storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// assets are the streams start-up creates, the registry bucket's included
// (laid out as jetstream.CreateKeyValue would lay it out), with the limits
// stated as the server reports them (-1: none) so that a stream we created
// compares equal to what we would create.
func (c Config) assets() []asset {
	newStream := func(name, subjects string, retention jetstream.RetentionPolicy, maxAge, duplicates time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:              name,
			Subjects:          strings.Split(subjects, ","),
			Retention:         retention,
			MaxAge:            maxAge,
			Duplicates:        duplicates,
			MaxBytes:          -1,
			MaxMsgs:           -1,
			MaxMsgsPerSubject: -1,
			MaxMsgSize:        -1,
			MaxConsumers:      -1,
			Storage:           c.storage(),
			Replicas:          c.Replicas,
		}
	}
	// Job ids only guard against a re-dispatch of an event whose dispatcher
	// died before acking it (redelivered after AckWait), so the window need
	// not be EVENTS'; every id costs server memory.
	deliveries := newStream(Deliveries, "deliveries.>,retry.>", jetstream.WorkQueuePolicy, 0, max(2*c.AckWait, 2*time.Minute))
	deliveries.AllowMsgSchedules = true
	deliveries.AllowRollup = true // the server sets it with schedules
	bucket := newStream("KV_"+Registry, "$KV."+Registry+".>", jetstream.LimitsPolicy, 0, 2*time.Minute)
	bucket.MaxMsgsPerSubject = 5 // history
	bucket.Discard = jetstream.DiscardNew
	bucket.AllowRollup, bucket.DenyDelete, bucket.AllowDirect = true, true, true
	// The portal's keys expire on their own (a TTL per key, which needs
	// message TTLs); PortalMaxAge bounds what a key without one could stay.
	portal := newStream("KV_"+Portal, "$KV."+Portal+".>", jetstream.LimitsPolicy, PortalMaxAge, 2*time.Minute)
	portal.MaxMsgsPerSubject = 1
	portal.Discard = jetstream.DiscardNew
	portal.AllowRollup, portal.DenyDelete, portal.AllowDirect, portal.AllowMsgTTL = true, true, true, true
	return []asset{
		{label: "stream " + Events, want: newStream(Events, "events.>", jetstream.LimitsPolicy, c.EventsMaxAge, c.DuplicateWindow), dedup: true},
		{label: "stream " + Deliveries, want: deliveries, dedup: true},
		// A dead letter's id guards against copying a job to DEAD twice.
		{label: "stream " + Dead, want: newStream(Dead, "dead.>", jetstream.LimitsPolicy, c.DeadMaxAge, 2*time.Minute), dedup: true},
		{label: "stream " + Attempts, want: newStream(Attempts, "attempts.>", jetstream.LimitsPolicy, c.AttemptsMaxAge, 2*time.Minute)},
		{label: "bucket " + Registry + " (stream KV_" + Registry + ")", want: bucket},
		{label: "bucket " + Portal + " (stream KV_" + Portal + ")", want: portal},
	}
}

// PortalMaxAge is the longest a portal link or session key is kept, above
// the longest session (12 h).
const PortalMaxAge = 24 * time.Hour

// Ensure creates what is missing of the topology and reconciles what exists
// (see reconcile: replicas are never lowered, a stream an operator created
// keeps the operator's limits), logging one line to log (nil: discard) per
// stream or bucket that differs from what it would create. It is
// idempotent and safe to call from every process at start. An
// *IncompatibleError means an existing stream, the server or cfg must
// change first; other errors may pass once the server is ready.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, a := range cfg.assets() {
		if err := ensureStream(ctx, js, a, log); err != nil {
			return err
		}
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, Events, jetstream.ConsumerConfig{
		Durable:       DispatchConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: 4096,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}); err != nil {
		return fmt.Errorf("stream: ensure consumer %s: %w", DispatchConsumer, err)
	}
	for shard := range cfg.Shards {
		if _, err := js.CreateOrUpdateConsumer(ctx, Deliveries, jetstream.ConsumerConfig{
			Durable:       ShardConsumer(shard),
			FilterSubject: "deliveries." + strconv.Itoa(shard) + ".>",
			AckPolicy:     jetstream.AckExplicitPolicy,
			// A slow attempt is not redelivered while it runs: the
			// deliverer reports progress on every job it holds.
			AckWait:       cfg.AckWait,
			MaxAckPending: cfg.ShardMaxAckPending,
			MaxDeliver:    -1,
		}); err != nil {
			return fmt.Errorf("stream: ensure consumer shard %d: %w", shard, err)
		}
	}
	return nil
}

// EventSubject is "events.<companyId>.<projectId or _>.<TYPE>".
func EventSubject(companyID, projectID, eventType string) string {
	if projectID == "" {
		projectID = "_"
	}
	return "events." + companyID + "." + projectID + "." + eventType
}

// Shard maps a webhook to its delivery shard: FNV-1a of the id mod n.
func Shard(webhookID string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(webhookID))
	return int(h.Sum32() % uint32(n))
}

// DeliverySubject is "deliveries.<shard>.<webhookId>".
func DeliverySubject(webhookID string, shards int) string {
	return "deliveries." + strconv.Itoa(Shard(webhookID, shards)) + "." + webhookID
}

// ShardConsumer names the durable consumer of one delivery shard.
func ShardConsumer(shard int) string { return "deliver-" + strconv.Itoa(shard) }

// HeldSubject is "deliveries.held.<companyId>.<webhookId>": the jobs an
// open circuit refused, kept until it closes. No shard consumer reads it
// (theirs are "deliveries.<shard>.>"); the deliverers' release sweep moves
// its jobs back to their shard.
func HeldSubject(companyID, webhookID string) string {
	return HeldSubjects[:len(HeldSubjects)-1] + companyID + "." + webhookID
}

// HeldSubjects matches every HeldSubject.
const HeldSubjects = "deliveries.held.>"

// ParseHeldSubject is the company and webhook of a HeldSubject.
func ParseHeldSubject(subject string) (companyID, webhookID string, ok bool) {
	rest, ok := strings.CutPrefix(subject, HeldSubjects[:len(HeldSubjects)-1])
	if !ok {
		return "", "", false
	}
	companyID, webhookID, ok = strings.Cut(rest, ".")
	return companyID, webhookID, ok && companyID != "" && webhookID != "" && !strings.Contains(webhookID, ".")
}

// HeldConsumer names the durable consumer that releases one webhook's held
// jobs; every deliverer shares it, so each job is released by one.
func HeldConsumer(webhookID string) string { return "held-" + webhookID }

// RetrySubject is the schedule subject of one delivery: one pending retry per
// delivery, so re-publishing a schedule is idempotent.
func RetrySubject(deliveryID string) string { return "retry." + deliveryID }

// DeadSubject is "dead.<companyId>.<webhookId>.<deliveryId>".
func DeadSubject(companyID, webhookID, deliveryID string) string {
	return "dead." + companyID + "." + webhookID + "." + deliveryID
}

// AttemptSubject is "attempts.<companyId>.<webhookId>": one subject per
// webhook, not per delivery. The server keeps an index entry per subject for
// as long as the stream keeps messages on it, so a subject per delivery made
// its memory grow with every retained attempt (measured: ~250 B each). The
// delivery id travels in the record and in the Wh-Delivery-Id header.
func AttemptSubject(companyID, webhookID string) string {
	return "attempts." + companyID + "." + webhookID
}

// Pull settings for the long-running consumers (the dispatcher's and the
// delivery shards'). A pull request the client counts on but the server no
// longer holds stops a consumer until the client notices the missing idle
// heartbeats: with the library's defaults (30 s requests, 15 s heartbeats)
// that was a 30 s stall, seen in fan-out benchmarks at saturation with few
// shards (deliver-N: thousands pending, no pull request waiting). The same
// happens when a consumer's leader moves to another server (a planned
// restart hands leadership over at once): the pull request waiting at the
// old leader is gone. A heartbeat every 500 ms (the least the server
// accepts) bounds such a stall to about a second.
const (
	PullExpiry    = 10 * time.Second
	PullHeartbeat = 500 * time.Millisecond
)
