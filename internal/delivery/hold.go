package delivery

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/webhook"
)

// An endpoint whose circuit is open gets its jobs held: each is stored once
// under the endpoint's held subject (stream.HeldSubject), which no shard
// consumer reads, and costs nothing more while the circuit stays open,
// however long that is and however many jobs come. Rescheduling them
// instead brought the whole backlog back each time the circuit might close
// (and again after each refusal while the half-open probe ran), a load that
// grew with the backlog and stalled the healthy endpoints sharing the
// deliverers.
//
// Every deliverer runs the release sweep (releaseHeld). Once a second it
// lists the held subjects and, for each, asks the registry and the shared
// breaker state what is due:
//   - the circuit is open: nothing;
//   - it may close (half-open): one job, the probe; no other until the
//     circuit has reopened (the probe failed) or leaseTTL has passed;
//   - it closed, or the webhook is disabled: up to releaseBatch jobs,
//     which the pipeline then delivers or parks as it would any job;
//   - the webhook is deleted: all of them are dropped at once (a purge of
//     its held subject, which the server does block by block without
//     keeping them cached), one deleted webhook per dropSpacing.
//
// Held jobs stay in DELIVERIES rather than a stream of their own: tried
// as a separate work queue (HELD), webhookd's RSS in the hostile soak
// (scripts/soak.sh) rose from about 145 to about 350 MB while it ran.
//
// A job is released by storing it in its shard, then acking it under the
// held subject: a crash between the two stores it twice, and the second
// copy is deduplicated (its Nats-Msg-Id is its held sequence).

const (
	// holdSweep is how often each deliverer looks for jobs due for release.
	holdSweep = time.Second
	// releaseBatch bounds the jobs released per webhook per sweep: a
	// recovered endpoint's backlog comes back at up to this many a second,
	// paced by its in-flight cap from there, not as one burst.
	releaseBatch = 1000
	// heldAckWait is how long a job fetched for release may stay unsettled
	// before the held consumer offers it again (its deliverer died). It is
	// well within the DELIVERIES duplicate window, so a job stored in its
	// shard by a deliverer that died before its ack is deduplicated when
	// released again.
	heldAckWait = 30 * time.Second
	// heldIdle is how long a held consumer unused is kept by the server.
	heldIdle = time.Minute
	// dropSpacing is the least time between two drops (purges) of deleted
	// webhooks' held jobs. The server frees the blocks a purge read unless
	// another purge came within a second; purges in a row would keep every
	// block of DELIVERIES they touched in memory.
	dropSpacing = 2 * time.Second
)

// hold stores j, refused by its endpoint's open circuit, under the
// endpoint's held subject. Its Nats-Msg-Id makes storing it again (its
// shard redelivered it to us after a crash) a no-op.
func (d *Deliverer) hold(ctx context.Context, m message, j job.Job) error {
	j.Header = job.CopyHeader(j.Header)
	msg := j.Msg(stream.HeldSubject(j.CompanyID, j.WebhookID))
	msg.Header.Set(jetstream.MsgIDHeader, "held."+j.DeliveryID+"."+strconv.FormatUint(m.sequence(), 10))
	return stream.Store(ctx, d.deps.Publisher, []*nats.Msg{msg}, d.cfg.StoreWait)
}

// releaseHeld runs the release sweep until ctx ends.
func (d *Deliverer) releaseHeld(ctx context.Context) {
	t := time.NewTicker(holdSweep)
	defer t.Stop()
	// probes is when this deliverer last released a probe of a webhook
	// whose circuit may close.
	probes := map[string]time.Time{}
	// dropped is when this deliverer last dropped a deleted webhook's jobs.
	var dropped time.Time
	var s jetstream.Stream
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s == nil {
			var err error
			if s, err = d.deps.JS.Stream(ctx, stream.Deliveries); err != nil {
				d.log.WarnContext(ctx, "delivery: release sweep: stream unavailable", "err", err)
				continue
			}
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(stream.HeldSubjects))
		if err != nil {
			d.log.WarnContext(ctx, "delivery: release sweep: listing held jobs failed", "err", err)
			continue
		}
		now := time.Now()
		for hook, at := range probes {
			if now.Sub(at) > time.Hour {
				delete(probes, hook)
			}
		}
		for subject := range info.State.Subjects {
			company, hook, ok := stream.ParseHeldSubject(subject)
			if !ok {
				continue
			}
			n := d.releasable(ctx, company, hook, probes, now)
			if n == 0 {
				continue
			}
			if n == dropAll {
				if now.Sub(dropped) < dropSpacing {
					continue // next sweep
				}
				dropped = now
				if err := d.dropHeld(ctx, s, subject, hook, info.State.Subjects[subject]); err != nil {
					d.log.WarnContext(ctx, "delivery: dropping held jobs of a deleted webhook failed; retried next sweep", "webhook_id", hook, "err", err)
				}
				continue
			}
			if err := d.unhold(ctx, s, subject, hook, n); err != nil {
				d.log.WarnContext(ctx, "delivery: releasing held jobs failed; retried next sweep", "webhook_id", hook, "err", err)
			}
		}
	}
}

// dropAll is releasable's answer for a deleted webhook: drop every held job.
const dropAll = -1

// releasable is how many of a webhook's held jobs are due for release now,
// or dropAll (see the rules above); probes is updated when one is a probe.
func (d *Deliverer) releasable(ctx context.Context, companyID, hook string, probes map[string]time.Time, now time.Time) int {
	entry, err := d.deps.Resolver.Webhook(ctx, companyID, hook)
	switch {
	case errors.Is(err, webhook.ErrNotFound):
		delete(probes, hook)
		return dropAll
	case err != nil:
		return 0
	case !entry.Enabled:
		return releaseBatch
	}
	h, err := d.deps.State.Health(ctx, hook)
	switch {
	case err != nil:
		return 0
	case h.OpenUntil.IsZero():
		delete(probes, hook)
		return releaseBatch
	case h.OpenUntil.After(now):
		delete(probes, hook) // the last probe failed, or none was sent
		return 0
	case now.Sub(probes[hook]) < d.leaseTTL():
		return 0 // a probe is on its way, or its attempt under way
	}
	probes[hook] = now
	return 1
}

// dropHeld drops the n jobs held under subject for the deleted webhook
// hook, as its shard would drop each of them.
func (d *Deliverer) dropHeld(ctx context.Context, s jetstream.Stream, subject, hook string, n uint64) error {
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(subject)); err != nil {
		return err
	}
	for range n {
		d.cfg.Metrics.Outcome(attempt.Dropped)
	}
	d.log.InfoContext(ctx, "held jobs dropped: webhook deleted", "webhook_id", hook, "jobs", n)
	return nil
}

// unhold moves up to n of the jobs held under subject back to their
// shard.
func (d *Deliverer) unhold(ctx context.Context, s jetstream.Stream, subject, hook string, n int) error {
	cons, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:           stream.HeldConsumer(hook),
		FilterSubject:     subject,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           heldAckWait,
		MaxAckPending:     releaseBatch,
		MaxDeliver:        -1,
		InactiveThreshold: heldIdle,
	})
	if err != nil {
		return err
	}
	batch, err := cons.FetchNoWait(n)
	if err != nil {
		return err
	}
	var from []jetstream.Msg
	var to []*nats.Msg
	for m := range batch.Messages() {
		j, err := job.FromMsg(natsHeader(m), m.Data())
		if err != nil {
			d.log.ErrorContext(ctx, "delivery: malformed held job terminated", "subject", subject, "err", err)
			_ = m.Term()
			continue
		}
		j.Header = job.CopyHeader(j.Header)
		msg := j.Msg(stream.DeliverySubject(hook, d.cfg.Shards))
		msg.Header.Del(jetstream.MsgIDHeader)
		if md, err := m.Metadata(); err == nil {
			msg.Header.Set(jetstream.MsgIDHeader, "released."+strconv.FormatUint(md.Sequence.Stream, 10))
		}
		from, to = append(from, m), append(to, msg)
	}
	if len(to) == 0 {
		return batch.Error()
	}
	if err := stream.Store(ctx, d.deps.Publisher, to, d.cfg.StoreWait); err != nil {
		for _, m := range from {
			_ = m.Nak()
		}
		return err
	}
	for _, m := range from {
		_ = m.Ack()
	}
	d.log.DebugContext(ctx, "held jobs released", "webhook_id", hook, "jobs", len(to))
	return nil
}
