package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// The attempt log is written in batches, one ATTEMPTS message per webhook
// and flush, and read back per delivery and per webhook: through the recent
// index, and from the stream alone when the index is empty.
func TestAttemptLogBatches(t *testing.T) {
	ctx := context.Background()
	n := testenv.StartNATS(t, 2)
	index := state.NewMemory(state.BreakerPolicy{})
	l := newAttemptLog(n.JS, index, 100, slog.New(slog.DiscardHandler))

	company, hookA, hookB := "co_batch", "wh_aaaaaaaaaaaaaaaaaaaaaaaa", "wh_bbbbbbbbbbbbbbbbbbbbbbbb"
	at := time.Now().Add(-time.Minute)
	dlvA1, dlvA2 := job.DeliveryID("evt_1", hookA, at), job.DeliveryID("evt_2", hookA, at)
	dlvB := job.DeliveryID("evt_1", hookB, at)
	add := func(dlv, hook string, n int, outcome string) {
		l.add(t.Context(), attempt.Record{DeliveryID: dlv, WebhookID: hook, CompanyID: company, EventID: "evt", Attempt: n, At: time.Now().UTC(), Outcome: outcome})
	}
	add(dlvA1, hookA, 1, attempt.Retry)
	add(dlvA2, hookA, 1, attempt.Delivered)
	add(dlvB, hookB, 1, attempt.Delivered)
	add(dlvA1, hookA, 2, attempt.Delivered)
	l.flush(ctx)
	// The writes are asynchronous: wait for their acks before reading.
	select {
	case <-n.JS.PublishAsyncComplete():
	case <-time.After(5 * time.Second):
		t.Fatal("attempt log writes not acked within 5s")
	}

	// One message per webhook, its records in order.
	s, err := n.JS.Stream(ctx, stream.Attempts)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := s.GetLastMsgForSubject(ctx, stream.AttemptSubject(company, hookA))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get(HeaderAttemptCount); got != "3" {
		t.Errorf("%s = %q, want 3", HeaderAttemptCount, got)
	}
	if lines := strings.Count(string(msg.Data), "\n"); lines != 3 {
		t.Errorf("hook A's message has %d lines, want 3: %s", lines, msg.Data)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("ATTEMPTS holds %d messages, want 2 (one per webhook)", info.State.Msgs)
	}

	in := inspect.New(n.JS, index, 2)
	recs, err := in.Delivery(ctx, company, dlvA1)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Attempt != 1 || recs[1].Attempt != 2 || recs[1].Outcome != attempt.Delivered {
		t.Errorf("Delivery(%s) = %+v, want attempts 1 (retry) and 2 (delivered)", dlvA1, recs)
	}
	recent, err := in.Recent(ctx, company, hookA, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recent) != 3 || recent[0].DeliveryID != dlvA1 || recent[0].Attempt != 2 {
		t.Errorf("Recent from the index = %+v, want 3, newest (%s attempt 2) first", recent, dlvA1)
	}
	// An empty index (a Redis flush): the stream answers.
	fromLog, err := inspect.New(n.JS, state.NewMemory(state.BreakerPolicy{}), 2).Recent(ctx, company, hookA, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromLog) != 2 || fromLog[0].DeliveryID != dlvA1 || fromLog[0].Attempt != 2 || fromLog[1].DeliveryID != dlvA2 {
		t.Errorf("Recent from the stream = %+v, want the newest 2, newest first", fromLog)
	}
}

// A batch that reaches attemptBatchBytes is written without waiting for the
// next flush.
func TestAttemptLogWritesFullBatch(t *testing.T) {
	ctx := context.Background()
	n := testenv.StartNATS(t, 1)
	l := newAttemptLog(n.JS, state.NewMemory(state.BreakerPolicy{}), 100, slog.New(slog.DiscardHandler))
	company, hook := "co_full", "wh_cccccccccccccccccccccccc"
	resp := strings.Repeat("x", attempt.MaxResponse)
	written := 0
	for i := 0; written < attemptBatchBytes; i++ {
		r := attempt.Record{DeliveryID: fmt.Sprintf("dlv_%d", i), WebhookID: hook, CompanyID: company, Attempt: 1, Outcome: attempt.Retry, Response: resp}
		l.add(ctx, r)
		written += len(resp) + 100
	}
	s, err := n.JS.Stream(ctx, stream.Attempts)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() bool {
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs == 1
	}, "a full batch written before any flush")
}
