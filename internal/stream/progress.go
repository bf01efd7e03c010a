package stream

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Hold keeps m from being redelivered while this process works on it:
// until m is acked, nak'd or terminated, the server is told every
// interval that the work is in progress. That is what lets consumers keep
// a short AckWait: a message whose process died is redelivered AckWait
// after the last report, while one whose attempt is merely slow is not.
// interval <= 0 returns m as it is.
func Hold(m jetstream.Msg, interval time.Duration) jetstream.Msg {
	if interval <= 0 {
		return m
	}
	h := &held{Msg: m}
	h.timer = time.AfterFunc(time.Hour, func() {
		if h.settled.Load() {
			return
		}
		_ = m.InProgress()
		h.timer.Reset(interval)
	})
	h.timer.Reset(interval) // armed once h.timer is set: the func reads it
	return h
}

// HeartbeatFor is the interval at which Hold reports progress for a
// consumer with the given AckWait: three reports per AckWait, so one lost
// report does not cause a redelivery.
func HeartbeatFor(ackWait time.Duration) time.Duration { return ackWait / 3 }

// held is a message under Hold. Settling it stops the reports.
type held struct {
	jetstream.Msg
	timer   *time.Timer
	settled atomic.Bool
}

func (h *held) stop() {
	h.settled.Store(true)
	h.timer.Stop()
}

func (h *held) Ack() error { h.stop(); return h.Msg.Ack() }

func (h *held) DoubleAck(ctx context.Context) error { h.stop(); return h.Msg.DoubleAck(ctx) }

func (h *held) Nak() error { h.stop(); return h.Msg.Nak() }

func (h *held) NakWithDelay(d time.Duration) error { h.stop(); return h.Msg.NakWithDelay(d) }

func (h *held) Term() error { h.stop(); return h.Msg.Term() }

func (h *held) TermWithReason(reason string) error { h.stop(); return h.Msg.TermWithReason(reason) }
