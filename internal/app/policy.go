package app

import (
	"time"

	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/stream"
)

// policy is what a process derives from its Config instead of reading it:
// values that follow from configured ones, and choices that are not
// configuration (no variable sets them; docs/architecture.md states them).
type policy struct {
	// RegistryTTL bounds how long Redis keeps a company's registry entry
	// (reg:<companyId>) that nothing invalidated: memory for companies
	// that went quiet.
	RegistryTTL time.Duration
	// StatePrefix is where the shared per-endpoint state lives in Redis
	// (wh:lease:..., wh:rate:...).
	StatePrefix string
	// Retry is DELIVERY_RETRY_SCHEDULE with +-20 % jitter and a receiver's
	// Retry-After honoured up to an hour.
	Retry retry.Policy
	// SlotWait is the longest a job at a full endpoint waits for a slot of
	// the deliverer's own attempts before it goes back to its shard.
	SlotWait time.Duration
	// Heartbeat is how often held events and jobs are reported in
	// progress: three times per ACK_WAIT.
	Heartbeat time.Duration
	// SettleWait is how long a stopping dispatcher waits for the jobs it
	// handed to a deliverer: an attempt's DELIVERY_TIMEOUT, the
	// delivery.StopGrace the deliverer gives attempts in flight at stop to
	// finish, and 1 s more.
	SettleWait time.Duration
	// HandoffSilence is how long a job offered over NATS may go unheard
	// of before it counts as lost: ACK_WAIT, the redelivery bound of a job
	// whose deliverer died.
	HandoffSilence time.Duration
	// QueueLagEvery and HealthEvery are how often the consumer lag and
	// the webhook health gauges are read.
	QueueLagEvery, HealthEvery time.Duration
	// TracingFlush bounds sending the spans still buffered at exit.
	TracingFlush time.Duration
	// IntakeStop bounds closing the HTTP servers at stop; StopWithin
	// bounds the whole stop (DELIVERY_TIMEOUT + 5 s, as the README tells
	// operators to allow), after which what is left is redelivered.
	IntakeStop, StopWithin time.Duration
}

// policyOf is the policy of a process configured with cfg.
func policyOf(cfg Config) policy {
	return policy{
		RegistryTTL:    time.Hour,
		StatePrefix:    cfg.RedisKeyPrefix + "wh:",
		Retry:          retry.Policy{Delays: cfg.RetrySchedule, Jitter: 0.2, MaxRetryAfter: time.Hour},
		SlotWait:       delivery.DefaultSlotWait,
		Heartbeat:      stream.HeartbeatFor(cfg.Stream.AckWait),
		SettleWait:     cfg.DeliveryTimeout + delivery.StopGrace + time.Second,
		HandoffSilence: cfg.Stream.AckWait,
		QueueLagEvery:  5 * time.Second,
		HealthEvery:    time.Minute,
		TracingFlush:   5 * time.Second,
		IntakeStop:     5 * time.Second,
		StopWithin:     cfg.DeliveryTimeout + 5*time.Second,
	}
}
