package delivery

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
)

// Take is the dispatcher's Handoff (dispatch.Handoff) in a process that
// runs both roles: it starts delivering a job that was not stored in
// DELIVERIES, if it may start now. That is: this deliverer is running, it
// has a free attempt slot (jobs pulled from the shards and waiting for one
// go first), and the endpoint has not failed here since its last success.
// Otherwise it returns false and the dispatcher publishes the job.
//
// From there the job is handled as a pulled one: the circuit, the rate
// limit, the in-flight cap and its waiting line, retries, dead letters.
// What would hand a pulled job back to its shard stores this one there
// (see handedJob); settle reports when the job is delivered or stored.
func (d *Deliverer) Take(j *job.Job, msg *nats.Msg, settle func(error)) bool {
	d.takeMu.RLock()
	defer d.takeMu.RUnlock()
	if !d.taking || d.local.failing(j.WebhookID) {
		return false
	}
	select {
	case d.sem <- struct{}{}:
	default:
		return false
	}
	d.inflight.Add(1)
	ctx, m := d.hardStop, &handedJob{msg: msg, pub: d.deps.Publisher, wait: d.cfg.StoreWait, settle: settle}
	go func() {
		defer d.inflight.Done()
		defer func() { <-d.sem }()
		d.handleJob(ctx, m, *j)
	}()
	return true
}

// handedJob is a job the dispatcher handed over, not stored in DELIVERIES.
// Ack settles it: the job is done. What would requeue a pulled job stores
// this one in its shard instead (storeInShard).
type handedJob struct {
	msg    *nats.Msg
	pub    stream.AsyncPublisher
	wait   time.Duration
	settle func(error)
	done   atomic.Bool
}

var _ message = (*handedJob)(nil)

func (h *handedJob) Data() []byte         { return h.msg.Data }
func (h *handedJob) Headers() nats.Header { return h.msg.Header }
func (h *handedJob) Subject() string      { return h.msg.Subject }

// deliveries is 1: no shard delivered the job yet.
func (h *handedJob) deliveries() uint64 { return 1 }

// sequence is 0: the job is not stored.
func (h *handedJob) sequence() uint64 { return 0 }

// Ack settles the job as done.
func (h *handedJob) Ack() error {
	if h.done.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	h.settle(nil)
	return nil
}

// requeue stores the job in its shard, for a shard consumer to deliver at
// once: the delay is the shard's to apply the next time.
func (h *handedJob) requeue(time.Duration) error { return h.storeInShard() }

// storeInShard stores the job in DELIVERIES, with the Nats-Msg-Id the
// dispatcher gave it, and settles it once JetStream acked the publish, or
// with the error that it did not.
func (h *handedJob) storeInShard() error {
	if h.done.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	go func() { h.settle(stream.Store(context.Background(), h.pub, []*nats.Msg{h.msg}, h.wait)) }()
	return nil
}
