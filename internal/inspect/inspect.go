// Package inspect is the read-and-repair side of deliveries, kept apart from
// the delivery path: the attempt log of a webhook or a delivery, and putting
// dead-lettered jobs back on the DELIVERIES stream (redeliver, recover, and
// the replay of parked jobs when a webhook is enabled again).
package inspect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/webhook"
)

// ErrNotDead is returned by Redeliver for a delivery that is not in DEAD.
var ErrNotDead = errors.New("delivery is not dead-lettered")

// ErrNotFound is returned for a delivery with no recorded attempt.
var ErrNotFound = errors.New("delivery not found")

// Index is the recent-attempts index of the shared state.
type Index interface {
	RecentAttempts(ctx context.Context, key string, n int) ([][]byte, error)
}

// Inspector reads the delivery log and replays dead letters.
type Inspector struct {
	js     jetstream.JetStream
	index  Index
	shards int
}

// New returns an Inspector.
func New(js jetstream.JetStream, index Index, shards int) *Inspector {
	return &Inspector{js: js, index: index, shards: shards}
}

// Recent returns up to n of a webhook's latest attempts, newest first: from
// the shared index, or from the ATTEMPTS stream when the index is empty
// (after a Redis flush, say).
func (in *Inspector) Recent(ctx context.Context, companyID, webhookID string, n int) ([]attempt.Record, error) {
	raw, err := in.index.RecentAttempts(ctx, webhookID, n)
	if err == nil && len(raw) > 0 {
		out := make([]attempt.Record, 0, len(raw))
		for _, b := range raw {
			var r attempt.Record
			if json.Unmarshal(b, &r) == nil {
				out = append(out, r)
			}
		}
		return out, nil
	}
	// The index is empty (a Redis flush, a restart of an in-process one):
	// read the last hour of the log instead.
	var recs []attempt.Record
	_, _, err = stream.Scan(ctx, in.js, stream.Attempts, stream.AttemptSubject(companyID, webhookID), stream.ScanFrom{Since: time.Now().Add(-time.Hour)}, recentScanLimit, func(m jetstream.Msg) error {
		for r := range records(m.Data()) {
			recs = append(recs, r)
			if len(recs) > 2*n { // keep the newest n, in bounded memory
				recs = append(recs[:0], recs[len(recs)-n:]...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(recs)
	return recs[:min(n, len(recs))], nil
}

// Bounds on how much of the log a lookup reads.
const (
	recentScanLimit   = 100000
	deliveryScanLimit = 200000
	// retrySpan covers a delivery's attempts: the default schedule spans
	// about 33 hours, plus jitter and deferrals.
	retrySpan = 48 * time.Hour
)

var errStopScan = errors.New("stop scan")

// Delivery returns every attempt of one delivery, oldest first.
func (in *Inspector) Delivery(ctx context.Context, companyID, deliveryID string) ([]attempt.Record, error) {
	if !webhook.ValidID(deliveryID) {
		return nil, ErrNotFound
	}
	// The id says which webhook's log to read and from when; an id that
	// does not is looked for company-wide in the last day.
	at, webhookID, ok := job.ParseDeliveryID(deliveryID)
	subject, from := stream.AttemptSubject(companyID, "*"), time.Now().Add(-24*time.Hour)
	if ok && webhookID != "" {
		subject, from = stream.AttemptSubject(companyID, webhookID), at.Add(-time.Hour)
	}
	until := from.Add(retrySpan + time.Hour)
	var recs []attempt.Record
	id := []byte(deliveryID)
	_, _, err := stream.Scan(ctx, in.js, stream.Attempts, subject, stream.ScanFrom{Since: from}, deliveryScanLimit, func(m jetstream.Msg) error {
		if md, err := m.Metadata(); err == nil && md.Timestamp.After(until) {
			return errStopScan
		}
		if !bytes.Contains(m.Data(), id) {
			return nil
		}
		for r := range records(m.Data()) {
			if r.DeliveryID == deliveryID {
				recs = append(recs, r)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, ErrNotFound
	}
	return recs, nil
}

// records yields the attempt records of one ATTEMPTS message: JSON lines,
// oldest first (one line in messages written before batching).
func records(data []byte) iter.Seq[attempt.Record] {
	return func(yield func(attempt.Record) bool) {
		for line := range bytes.Lines(data) {
			var r attempt.Record
			if json.Unmarshal(line, &r) != nil {
				continue
			}
			if !yield(r) {
				return
			}
		}
	}
}

// Redeliver puts one dead-lettered delivery back on the DELIVERIES stream as
// a first attempt with the same delivery id (so webhook-id stays stable).
func (in *Inspector) Redeliver(ctx context.Context, companyID, deliveryID string) error {
	raw, err := in.deadLetter(ctx, companyID, deliveryID)
	if err != nil {
		return err
	}
	_, err = in.requeue(ctx, raw.Header, raw.Data, raw.Sequence)
	return err
}

// DeadLetter returns the job of a dead-lettered or parked delivery as DEAD
// keeps it: the body every attempt sent. Errors: ErrNotDead.
func (in *Inspector) DeadLetter(ctx context.Context, companyID, deliveryID string) (job.Job, error) {
	raw, err := in.deadLetter(ctx, companyID, deliveryID)
	if err != nil {
		return job.Job{}, err
	}
	return job.FromMsg(raw.Header, raw.Data)
}

// deadLetter returns the latest dead letter of a delivery of the company.
func (in *Inspector) deadLetter(ctx context.Context, companyID, deliveryID string) (*jetstream.RawStreamMsg, error) {
	if !webhook.ValidID(deliveryID) || !webhook.ValidID(companyID) {
		return nil, ErrNotDead
	}
	s, err := in.js.Stream(ctx, stream.Dead)
	if err != nil {
		return nil, err
	}
	raw, err := s.GetLastMsgForSubject(ctx, stream.DeadSubject(companyID, "*", deliveryID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, ErrNotDead
	}
	if err != nil {
		return nil, fmt.Errorf("inspect: dead letter %s: %w", deliveryID, err)
	}
	return raw, nil
}

// RecoverResult says what Recover did.
type RecoverResult struct {
	Requeued int `json:"requeued"`
	// AlreadyRequeued counts dead letters requeued before (by redeliver or
	// an earlier recover) within DELIVERIES' deduplication window: 2 min,
	// or 2 x ACK_WAIT when that is longer.
	AlreadyRequeued int    `json:"alreadyRequeued"`
	NextCursor      string `json:"nextCursor,omitempty" doc:"More dead letters remain: call again with this cursor."`
}

// Recover requeues a webhook's dead letters since a time, at most limit per
// call; cursor (from a previous result) continues where it stopped. A
// cursor not given for this webhook: stream.ErrBadCursor.
func (in *Inspector) Recover(ctx context.Context, companyID, webhookID string, since time.Time, cursor string, limit int) (RecoverResult, error) {
	var after uint64
	listing := "recover:" + webhookID
	if cursor != "" {
		n, err := stream.ParseCursor(listing, cursor)
		if err != nil {
			return RecoverResult{}, fmt.Errorf("inspect: recover: %w", err)
		}
		after = n
	}
	var res RecoverResult
	var last uint64
	_, more, err := stream.Scan(ctx, in.js, stream.Dead, stream.DeadSubject(companyID, webhookID, "*"), stream.ScanFrom{Since: since, AfterSeq: after}, limit, func(m jetstream.Msg) error {
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		dup, err := in.requeue(ctx, m.Headers(), m.Data(), md.Sequence.Stream)
		if err != nil {
			return err
		}
		if dup {
			res.AlreadyRequeued++
		} else {
			res.Requeued++
		}
		last = md.Sequence.Stream
		return nil
	})
	if err != nil {
		return res, err
	}
	if more {
		res.NextCursor = stream.Cursor(listing, last)
	}
	return res, nil
}

// requeue publishes a dead letter back as a first attempt. The message id
// is tied to the dead letter's sequence, so requeueing it twice is one job;
// dup reports that it had been requeued already.
func (in *Inspector) requeue(ctx context.Context, h map[string][]string, data []byte, deadSeq uint64) (dup bool, err error) {
	j, err := job.FromMsg(h, data)
	if err != nil {
		return false, err
	}
	j.Attempt = 1
	j.Header = job.CopyHeader(h, job.HeaderDeadReason)
	ack, err := in.js.PublishMsg(ctx, j.Msg(stream.DeliverySubject(j.WebhookID, in.shards)),
		jetstream.WithMsgID("requeue."+j.DeliveryID+"."+strconv.FormatUint(deadSeq, 10)))
	if err != nil {
		return false, err
	}
	return ack.Duplicate, nil
}
