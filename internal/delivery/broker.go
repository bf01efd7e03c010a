package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
)

// finish acks the job once its next step is durable, or hands it back.
func (d *Deliverer) finish(ctx context.Context, m message, log *jobLog, stepErr error, step string) {
	if stepErr != nil {
		log.ErrorContext(ctx, "delivery: "+step+" failed; job handed back", "err", stepErr)
		_ = m.requeue(time.Second)
		return
	}
	if err := m.Ack(); err != nil {
		log.WarnContext(ctx, "delivery: ack after "+step+" failed; the job may be seen again", "err", err)
	}
}

// scheduleTime rounds up to the next whole second: message schedules have
// second resolution, and a retry must never come early.
func scheduleTime(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Second)
}

// schedule publishes j as a message schedule on the same stream, targeted at
// the job's own subject. One schedule per delivery id: re-publishing (after
// a crash) replaces it.
func (d *Deliverer) schedule(ctx context.Context, target string, j job.Job, at time.Time) error {
	j.Header = job.CopyHeader(j.Header)
	msg := j.Msg(stream.RetrySubject(j.DeliveryID))
	return stream.Store(ctx, d.deps.Publisher, []*nats.Msg{msg}, d.cfg.StoreWait, jetstream.WithScheduleAt(at), jetstream.WithScheduleTarget(target))
}

// deadLetter copies the job to DEAD; deduplicated per delivery and attempt.
func (d *Deliverer) deadLetter(ctx context.Context, j *job.Job, reason string) error {
	jj := *j
	jj.Header = job.CopyHeader(j.Header)
	msg := jj.Msg(stream.DeadSubject(j.CompanyID, j.WebhookID, j.DeliveryID))
	msg.Header.Set(job.HeaderDeadReason, reason)
	msg.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("dead.%s.%d", j.DeliveryID, j.Attempt))
	return stream.Store(ctx, d.deps.Publisher, []*nats.Msg{msg}, d.cfg.StoreWait)
}

// natsHeader is m's header, never nil.
func natsHeader(m interface{ Headers() nats.Header }) nats.Header {
	h := m.Headers()
	if h == nil {
		h = nats.Header{}
	}
	return h
}
