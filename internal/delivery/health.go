package delivery

import (
	"context"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/webhook"
)

// health updates the endpoint's shared counters after an attempt and writes
// status transitions to the registry. It returns true when the endpoint has
// now been failing for DisableAfter and was disabled.
func (d *Deliverer) health(ctx context.Context, e *registry.Entry, j *job.Job, ok bool, log *jobLog) bool {
	now := time.Now()
	if ok {
		if d.local.needSuccess(j.WebhookID, now) {
			if _, err := d.deps.State.Success(ctx, j.WebhookID, now); err != nil {
				log.WarnContext(ctx, "delivery: health state unavailable", "err", err)
			}
		}
		if e.Status == webhook.StatusUnhealthy {
			if err := d.deps.Registry.SetStatus(ctx, j.CompanyID, j.WebhookID, webhook.StatusHealthy); err != nil {
				log.WarnContext(ctx, "delivery: recording HEALTHY failed", "err", err)
			}
		}
		return false
	}
	d.local.failed(j.WebhookID, now)
	h, err := d.deps.State.Failure(ctx, j.WebhookID, now)
	if err != nil {
		log.WarnContext(ctx, "delivery: health state unavailable", "err", err)
		return false
	}
	if h.ConsecutiveFailures >= d.cfg.UnhealthyAfter && e.Status == webhook.StatusHealthy {
		if err := d.deps.Registry.SetStatus(ctx, j.CompanyID, j.WebhookID, webhook.StatusUnhealthy); err != nil {
			log.WarnContext(ctx, "delivery: recording UNHEALTHY failed", "err", err)
		}
	}
	if !h.FirstFailureAt.IsZero() && now.Sub(h.FirstFailureAt) >= d.cfg.DisableAfter {
		log.WarnContext(ctx, "endpoint failing continuously; disabling webhook", "failing_since", h.FirstFailureAt)
		return d.disable(ctx, j, "failing", log) == nil
	}
	return false
}

// disable turns the webhook off and, if this call did it, announces it with
// a WEBHOOK_DISABLED event through the normal pipeline.
func (d *Deliverer) disable(ctx context.Context, j *job.Job, reason string, log *jobLog) error {
	before, after, changed, err := d.deps.Registry.Disable(ctx, j.CompanyID, j.WebhookID, reason)
	if err != nil {
		log.ErrorContext(ctx, "delivery: disabling webhook failed", "err", err)
		return err
	}
	if !changed || d.deps.Events == nil {
		return nil
	}
	e, err := disabledEvent(before, after)
	if err == nil {
		_, err = d.deps.Events.Publish(ctx, e)
	}
	if err != nil {
		log.ErrorContext(ctx, "delivery: WEBHOOK_DISABLED event not published", "err", err)
	}
	return nil
}

// park copies the job of a disabled webhook to DEAD, where enable can find it.
func (d *Deliverer) park(ctx context.Context, m message, j *job.Job, log *jobLog, reason string) {
	err := d.deadLetter(ctx, j, reason)
	if err == nil {
		// Logged once the job is in DEAD: from here, enable?replay finds it.
		log.InfoContext(ctx, "webhook disabled: delivery parked", "reason", reason)
		d.cfg.Metrics.Outcome(attempt.Parked)
	}
	d.finish(ctx, m, log, err, "park")
}
