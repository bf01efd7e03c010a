package stream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// AsyncPublisher is the part of jetstream.JetStream that Store uses.
type AsyncPublisher interface {
	PublishMsgAsync(msg *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error)
}

// Resend is how long Store waits for a message's ack before it sends the
// message again. While a stream's leader is being elected (4-9 s after a
// leader dies), or while the connection moves to another server, a
// publish gets no answer at all; sending again this often stores the
// message within Resend of the new leader's election.
const Resend = 500 * time.Millisecond

// Store publishes msgs and returns once JetStream has stored every one.
// A message not acknowledged within Resend, or refused for a reason that
// passes (no responders, no leader, a timeout, the client's pending-ack
// limit), is sent again until wait has passed. opts apply to every
// message (they set its headers). Every message must be
// idempotent to resend: one with a Nats-Msg-Id is deduplicated by the
// stream; a message schedule replaces the schedule on its subject. Errors:
// the first permanent refusal (a JetStream API error such as a message
// above the stream's limits), ctx's error, or the last error seen when
// wait ran out.
func Store(ctx context.Context, pub AsyncPublisher, msgs []*nats.Msg, wait time.Duration, opts ...jetstream.PublishOpt) error {
	deadline := time.Now().Add(wait)
	pending := make([]*nats.Msg, len(msgs))
	copy(pending, msgs)
	futures := make([]jetstream.PubAckFuture, 0, len(msgs))
	var last error
	for len(pending) > 0 {
		futures = futures[:0]
		next := pending[:0:0]
		for _, m := range pending {
			f, err := pub.PublishMsgAsync(m, opts...)
			if err != nil {
				if permanent(err) {
					return fmt.Errorf("stream: publish %s: %w", m.Subject, err)
				}
				last = err
				next = append(next, m)
				continue
			}
			futures = append(futures, f)
		}
		round := time.NewTimer(min(Resend, max(time.Until(deadline), time.Millisecond)))
		expired := false
		for _, f := range futures {
			var err error
			if expired {
				select {
				case <-f.Ok():
					continue
				case err = <-f.Err():
				default:
					err = jetstream.ErrAsyncPublishTimeout
				}
			} else {
				select {
				case <-f.Ok():
					continue
				case err = <-f.Err():
				case <-round.C:
					expired = true
					select {
					case <-f.Ok():
						continue
					case err = <-f.Err():
					default:
						err = jetstream.ErrAsyncPublishTimeout
					}
				case <-ctx.Done():
					round.Stop()
					return fmt.Errorf("stream: publish: %w", ctx.Err())
				}
			}
			if permanent(err) {
				round.Stop()
				return fmt.Errorf("stream: publish %s: %w", f.Msg().Subject, err)
			}
			last = err
			next = append(next, f.Msg())
		}
		if !expired && len(next) > 0 {
			// Refused at once (no responders): wait out the round before
			// trying again rather than spinning.
			select {
			case <-round.C:
			case <-ctx.Done():
				return fmt.Errorf("stream: publish: %w", ctx.Err())
			}
		}
		round.Stop()
		pending = next
		if len(pending) > 0 && !time.Now().Before(deadline) {
			return fmt.Errorf("stream: %d of %d messages not stored within %s: %w", len(pending), len(msgs), wait, last)
		}
	}
	return nil
}

// permanent reports whether a publish error will not pass by sending
// again: JetStream refused the message itself. A 503 from the API (no
// leader, the cluster not available) passes.
func permanent(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code != http.StatusServiceUnavailable
	}
	return errors.Is(err, nats.ErrBadSubject) || errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrConnectionClosed)
}
