package delivery

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
)

// Batching of the attempt log. One ATTEMPTS message per webhook and flush
// instead of one per attempt: the message, its store and its ack were a
// quarter of the JetStream work of a delivery.
const (
	attemptFlushEvery = 20 * time.Millisecond
	attemptBatchBytes = 256 << 10 // a batch this large is written at once
	// attemptIndexWriters bounds the index writes of one flush in flight.
	attemptIndexWriters = 8
)

// HeaderAttemptCount is the number of records in an ATTEMPTS message.
const HeaderAttemptCount = "Wh-Attempt-Count"

// attemptLog batches attempt records per webhook. Each flush writes one
// ATTEMPTS message per webhook (its records as JSON lines, oldest first)
// and one AddAttempts call to the recent index. Like the single writes it
// replaces, it never holds a job's fate: a record is written within
// attemptFlushEvery of its attempt, and a crash loses at most that window
// of the log, never a delivery.
type attemptLog struct {
	js    stream.AsyncPublisher
	index state.State
	keep  int
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]*attemptBatch // by webhook id
}

type attemptBatch struct {
	companyID, webhookID string
	lines                []byte   // JSON lines
	records              [][]byte // the same records, for the index
}

func newAttemptLog(js stream.AsyncPublisher, index state.State, keep int, log *slog.Logger) *attemptLog {
	return &attemptLog{js: js, index: index, keep: keep, log: log, pending: map[string]*attemptBatch{}}
}

// add queues r; a batch that reached attemptBatchBytes is written now,
// logging with ctx (the context of the job whose record filled it).
func (l *attemptLog) add(ctx context.Context, r attempt.Record) {
	data := r.AppendJSON(make([]byte, 0, 768)) // a record with its request is about 600 bytes
	l.mu.Lock()
	b := l.pending[r.WebhookID]
	if b == nil {
		b = &attemptBatch{companyID: r.CompanyID, webhookID: r.WebhookID}
		l.pending[r.WebhookID] = b
	}
	b.lines = append(append(b.lines, data...), '\n')
	b.records = append(b.records, data)
	full := len(b.lines) >= attemptBatchBytes
	if full {
		delete(l.pending, r.WebhookID)
	}
	l.mu.Unlock()
	if full {
		l.write(context.WithoutCancel(ctx), []*attemptBatch{b})
	}
}

// run flushes every attemptFlushEvery until ctx ends, and once more then.
func (l *attemptLog) run(ctx context.Context) {
	t := time.NewTicker(attemptFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			l.flush(ctx)
			return
		case <-t.C:
			l.flush(ctx)
		}
	}
}

// flush writes every pending batch.
func (l *attemptLog) flush(ctx context.Context) {
	l.mu.Lock()
	if len(l.pending) == 0 {
		l.mu.Unlock()
		return
	}
	batches := make([]*attemptBatch, 0, len(l.pending))
	for _, b := range l.pending {
		batches = append(batches, b)
	}
	clear(l.pending)
	l.mu.Unlock()
	l.write(context.WithoutCancel(ctx), batches)
}

// write publishes the batches to ATTEMPTS (asynchronously: a failed write is
// reported by the JetStream context's error handler) and adds them to the
// recent index, a few webhooks at a time.
func (l *attemptLog) write(ctx context.Context, batches []*attemptBatch) {
	for _, b := range batches {
		msg := &nats.Msg{Subject: stream.AttemptSubject(b.companyID, b.webhookID), Data: b.lines,
			Header: nats.Header{HeaderAttemptCount: []string{strconv.Itoa(len(b.records))}}}
		if _, err := l.js.PublishMsgAsync(msg); err != nil {
			l.log.WarnContext(ctx, "delivery: attempt log write failed", "webhook_id", b.webhookID, "records", len(b.records), "err", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sem := make(chan struct{}, attemptIndexWriters)
	var wg sync.WaitGroup
	for _, b := range batches {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := l.index.AddAttempts(ctx, b.webhookID, b.records, l.keep); err != nil {
				l.log.WarnContext(ctx, "delivery: recent-attempts index write failed", "webhook_id", b.webhookID, "err", err)
			}
		})
	}
	wg.Wait()
}
