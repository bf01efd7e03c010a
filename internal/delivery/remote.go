package delivery

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/handoff"
	"github.com/bluehq/webhooks/internal/job"
)

// ServeHandoffs takes the jobs that dispatchers in other processes offer
// over NATS (handoff.Subject, in the queue group handoff.Queue) until ctx
// ends, through Take: a job this deliverer can start now is delivered
// without being stored in DELIVERIES; one it cannot is refused at once,
// and the dispatcher stores it. While it holds a job it answers Working
// every Heartbeat; then Done, or Failed with why. The jobs of one event
// offered together (handoff.BatchSubject) are answered together: see
// onBatch. Run must be under way.
func (d *Deliverer) ServeHandoffs(ctx context.Context, nc *nats.Conn) error {
	var subs []*nats.Subscription
	defer func() {
		// Offers already received are answered (Take refuses once stopping).
		for _, sub := range subs {
			_ = sub.Drain()
		}
	}()
	for subject, handle := range map[string]nats.MsgHandler{
		handoff.Subject:      func(m *nats.Msg) { d.onOffer(nc, m) },
		handoff.BatchSubject: func(m *nats.Msg) { d.onBatch(nc, m) },
	} {
		sub, err := nc.QueueSubscribe(subject, handoff.Queue, handle)
		if err != nil {
			return fmt.Errorf("delivery: subscribe to handoffs: %w", err)
		}
		subs = append(subs, sub)
		// Offers come at the rate jobs do; a refusal is cheaper than a drop.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return fmt.Errorf("delivery: %w", err)
		}
	}
	<-ctx.Done()
	return nil
}

// onOffer answers one offer: Take it, or refuse it.
func (d *Deliverer) onOffer(nc *nats.Conn, m *nats.Msg) {
	if m.Reply == "" {
		return // not an offer of ours: nobody to answer
	}
	msg := handoff.JobMsg(m)
	j, err := job.FromMsg(msg.Header, msg.Data)
	if err != nil {
		// The dispatcher stores it; a shard consumer terminates it and logs why.
		_ = nc.PublishMsg(handoff.Answer(m.Reply, handoff.Refused, ""))
		return
	}
	a := &answering{nc: nc, reply: m.Reply}
	d.heartbeat(a)
	if !d.Take(&j, msg, a.settle) {
		a.stop()
		_ = nc.PublishMsg(handoff.Answer(m.Reply, handoff.Refused, ""))
	}
}

// heartbeat answers Working for a every Heartbeat until it is stopped.
func (d *Deliverer) heartbeat(a *answering) {
	hb := d.cfg.Heartbeat
	if hb <= 0 {
		return
	}
	a.timer = time.AfterFunc(time.Hour, func() {
		if !a.settled.Load() {
			_ = a.nc.PublishMsg(handoff.Answer(a.reply, handoff.Working, ""))
			a.timer.Reset(hb)
		}
	})
	a.timer.Reset(hb) // armed once a.timer is set: the func reads it
}

// answering is an offer taken: it reports Working until it is settled.
type answering struct {
	nc      *nats.Conn
	reply   string
	timer   *time.Timer
	settled atomic.Bool
}

func (a *answering) stop() {
	a.settled.Store(true)
	if a.timer != nil {
		a.timer.Stop()
	}
}

func (a *answering) settle(err error) {
	a.stop()
	if err != nil {
		_ = a.nc.PublishMsg(handoff.Answer(a.reply, handoff.Failed, err.Error()))
		return
	}
	_ = a.nc.PublishMsg(handoff.Answer(a.reply, handoff.Done, ""))
}

// onBatch answers a batch offer (handoff.BatchSubject): each job is taken
// or refused as a single offer's is; the refused ones are answered at
// once, in one Refused, and the others in one Done once the last of them
// is settled, with Working every Heartbeat until then.
func (d *Deliverer) onBatch(nc *nats.Conn, m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	msgs, err := handoff.DecodeBatch(m.Data)
	if err != nil {
		_ = nc.PublishMsg(handoff.Answer(m.Reply, handoff.Refused, ""))
		return
	}
	b := &batchAnswer{answering: answering{nc: nc, reply: m.Reply}, failed: make(map[int]string)}
	b.open.Store(1) // this call's own hold, released once the refusals are sent
	d.heartbeat(&b.answering)
	var refused []int
	for i, msg := range msgs {
		j, err := job.FromMsg(msg.Header, msg.Data)
		b.open.Add(1)
		if err != nil || !d.Take(&j, msg, b.settler(i)) {
			b.open.Add(-1)
			refused = append(refused, i)
		}
	}
	if len(refused) > 0 {
		data := handoff.Indices(refused)
		if len(refused) == len(msgs) {
			data = nil
		}
		_ = nc.PublishMsg(handoff.Answer(m.Reply, handoff.Refused, string(data)))
	}
	b.release(len(refused) < len(msgs))
}

// batchAnswer is a batch offer some of whose jobs are held.
type batchAnswer struct {
	answering
	open   atomic.Int32 // jobs taken and not settled, plus the offer's own hold
	mu     sync.Mutex
	failed map[int]string
}

func (b *batchAnswer) settler(i int) func(error) {
	return func(err error) {
		if err != nil {
			b.mu.Lock()
			b.failed[i] = err.Error()
			b.mu.Unlock()
		}
		b.release(true)
	}
}

// release counts one job (or the offer's hold) settled; the last sends Done
// when some job was taken.
func (b *batchAnswer) release(taken bool) {
	if b.open.Add(-1) > 0 {
		return
	}
	b.stop()
	if !taken {
		return // all refused: the Refused answer was the last
	}
	b.mu.Lock()
	data := handoff.Failures(b.failed)
	b.mu.Unlock()
	_ = b.nc.PublishMsg(handoff.Answer(b.reply, handoff.Done, string(data)))
}
