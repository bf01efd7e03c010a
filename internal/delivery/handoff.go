package delivery

import (
	"context"
	"errors"
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
// (see handedMsg); settle reports when the job is delivered or stored.
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
	ctx, m := d.hardStop, &handedMsg{msg: msg, pub: d.Publisher, wait: d.cfg.StoreWait, settle: settle}
	go func() {
		defer d.inflight.Done()
		defer func() { <-d.sem }()
		d.handleJob(ctx, m, *j)
	}()
	return true
}

// handedMsg stands in for the JetStream message of a job the dispatcher
// handed over. Ack and Term settle it: the job is done, or (Term) cannot
// be a job. Nak and NakWithDelay store it in DELIVERIES, with the
// Nats-Msg-Id the dispatcher gave it, for a shard consumer to deliver
// (at once: the delay is the shard's to apply next time), and settle it
// once JetStream acked the publish, or with the error that it did not.
type handedMsg struct {
	msg    *nats.Msg
	pub    stream.AsyncPublisher
	wait   time.Duration
	settle func(error)
	done   atomic.Bool
}

var errNotStored = errors.New("delivery: a handed-over job has no stream metadata")

func (m *handedMsg) Metadata() (*jetstream.MsgMetadata, error) { return nil, errNotStored }
func (m *handedMsg) Data() []byte                              { return m.msg.Data }
func (m *handedMsg) Headers() nats.Header                      { return m.msg.Header }
func (m *handedMsg) Subject() string                           { return m.msg.Subject }
func (m *handedMsg) Reply() string                             { return "" }
func (m *handedMsg) InProgress() error                         { return nil }
func (m *handedMsg) Ack() error                                { return m.end() }
func (m *handedMsg) DoubleAck(context.Context) error           { return m.end() }
func (m *handedMsg) Term() error                               { return m.end() }
func (m *handedMsg) TermWithReason(string) error               { return m.end() }
func (m *handedMsg) Nak() error                                { return m.store() }
func (m *handedMsg) NakWithDelay(time.Duration) error          { return m.store() }

func (m *handedMsg) end() error {
	if m.done.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	m.settle(nil)
	return nil
}

func (m *handedMsg) store() error {
	if m.done.Swap(true) {
		return jetstream.ErrMsgAlreadyAckd
	}
	go func() { m.settle(stream.Store(context.Background(), m.pub, []*nats.Msg{m.msg}, m.wait)) }()
	return nil
}
