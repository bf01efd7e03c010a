package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/telemetry"
)

// BackfillResult says what one Backfill call did.
type BackfillResult struct {
	Scanned    int    `json:"scanned" doc:"Events of the company read from the history."`
	Queued     int    `json:"queued" doc:"Deliveries queued for the webhook."`
	NextCursor string `json:"nextCursor,omitempty" doc:"More history remains: call again with this cursor."`
}

// Backfill re-dispatches the retained EVENTS history of w's company since a
// time to w alone, through w's scope and filter: new delivery ids, the same
// event ids. It reads at most limit events per call and returns a cursor to
// resume; repeating a call (same since and cursor) queues nothing twice.
// A cursor not given for w: stream.ErrBadCursor.
func (d *Dispatcher) Backfill(ctx context.Context, w *registry.Entry, since time.Time, cursor string, limit int) (BackfillResult, error) {
	var res BackfillResult
	from := stream.ScanFrom{Since: since}
	listing := "backfill:" + w.ID
	if cursor != "" {
		seq, err := stream.ParseCursor(listing, cursor)
		if err != nil {
			return res, fmt.Errorf("dispatch: backfill: %w", err)
		}
		from.AfterSeq = seq
	}
	run := strconv.FormatInt(since.UnixNano(), 36)
	var msgs []*nats.Msg
	var last uint64
	n, more, err := stream.Scan(ctx, d.js, stream.Events, "events."+w.CompanyID+".>", from, limit, func(m jetstream.Msg) error {
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		last = md.Sequence.Stream
		ectx := telemetry.Extract(ctx, m.Headers())
		var e event.Envelope
		if err := json.Unmarshal(m.Data(), &e); err != nil || !NewSelector(&e, d.log).Selects(ectx, w) {
			return nil
		}
		// A platform event addressed to one webhook is not history for others.
		if t := m.Headers().Get(job.HeaderTarget); t != "" && t != w.ID {
			return nil
		}
		key := w.ID + ".backfill." + run
		msg, err := d.renderJob(ectx, &e, w, job.DeliveryID(e.ID+"."+key, w.ID, time.Now()), e.ID+"."+key, time.Now())
		if err != nil {
			return err
		}
		msgs = append(msgs, msg)
		return nil
	})
	res.Scanned = n
	if err == nil {
		err = d.store(ctx, msgs)
	}
	if err != nil {
		return res, fmt.Errorf("dispatch: backfill: %w", err)
	}
	res.Queued = len(msgs)
	if more {
		res.NextCursor = stream.Cursor(listing, last)
	}
	return res, nil
}
