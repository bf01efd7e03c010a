package delivery

import (
	"context"
	"fmt"
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
// every Heartbeat; then Done, or Failed with why. Run must be under way.
func (d *Deliverer) ServeHandoffs(ctx context.Context, nc *nats.Conn) error {
	sub, err := nc.QueueSubscribe(handoff.Subject, handoff.Queue, func(m *nats.Msg) { d.onOffer(nc, m) })
	if err != nil {
		return fmt.Errorf("delivery: subscribe to handoffs: %w", err)
	}
	// Offers come at the rate jobs do; a refusal is cheaper than a drop.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return fmt.Errorf("delivery: %w", err)
	}
	<-ctx.Done()
	// Offers already received are answered (Take refuses once stopping).
	_ = sub.Drain()
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
	if hb := d.cfg.Heartbeat; hb > 0 {
		a.timer = time.AfterFunc(time.Hour, func() {
			if !a.settled.Load() {
				_ = nc.PublishMsg(handoff.Answer(m.Reply, handoff.Working, ""))
				a.timer.Reset(hb)
			}
		})
		a.timer.Reset(hb) // armed once a.timer is set: the func reads it
	}
	if !d.Take(&j, msg, a.settle) {
		a.stop()
		_ = nc.PublishMsg(handoff.Answer(m.Reply, handoff.Refused, ""))
	}
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
