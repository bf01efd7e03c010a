package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ScanFrom says where a Scan starts: after a stream sequence (a cursor) if
// AfterSeq is set, else at Since if set, else at the start of the stream.
// An AfterSeq past the stream's last sequence was not given by a Scan:
// ErrBadCursor.
type ScanFrom struct {
	Since    time.Time
	AfterSeq uint64
}

// How a Scan reads: its consumer is dropped by the server if a crash
// leaves it behind; a fetch asks for at most scanBatch messages.
const (
	scanInactive = time.Minute
	scanBatch    = 512
)

// Scan calls f for the messages of streamName on subject (wildcards
// allowed), at most limit, with an ephemeral consumer of its own, deleted
// when it returns. It reads only what was in the stream when it started,
// so it always ends. It returns how many messages it read and whether more
// remained.
//
// The consumer is a plain pull consumer without acks rather than an
// ordered one: an ordered consumer is deleted and made again on every
// fetch, and the last one stays on the server until it has been idle for
// five minutes.
func Scan(ctx context.Context, js jetstream.JetStream, streamName, subject string, from ScanFrom, limit int, f func(jetstream.Msg) error) (int, bool, error) {
	cfg := jetstream.ConsumerConfig{
		FilterSubjects: []string{subject}, AckPolicy: jetstream.AckNonePolicy,
		InactiveThreshold: scanInactive, MemoryStorage: true, Replicas: 1,
	}
	switch {
	case from.AfterSeq > 0:
		last, err := checkAfter(ctx, js, streamName, from.AfterSeq)
		if err != nil {
			return 0, false, err
		}
		if last == from.AfterSeq {
			return 0, false, nil // nothing stored since
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.AfterSeq+1
	case !from.Since.IsZero():
		since := from.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.CreateConsumer(ctx, streamName, cfg)
	if err != nil {
		return 0, false, fmt.Errorf("stream: scan %s: %w", streamName, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(ctx, streamName, cons.CachedInfo().Name) // else it expires after scanInactive
	}()
	pending := int(cons.CachedInfo().NumPending)
	read := 0
	for read < pending && read < limit {
		batch, err := cons.Fetch(min(scanBatch, limit-read, pending-read), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return read, true, fmt.Errorf("stream: scan %s: %w", streamName, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			read++
			if err := f(m); err != nil {
				return read, true, err
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return read, true, fmt.Errorf("stream: scan %s: %w", streamName, err)
		}
		if got == 0 {
			break
		}
	}
	return read, read < pending, nil
}

// checkAfter refuses a sequence to resume after that the stream has not
// reached (a Scan never gives one), and returns the stream's last sequence.
func checkAfter(ctx context.Context, js jetstream.JetStream, streamName string, seq uint64) (uint64, error) {
	s, err := js.Stream(ctx, streamName)
	if err != nil {
		return 0, fmt.Errorf("stream: scan %s: %w", streamName, err)
	}
	last := s.CachedInfo().State.LastSeq
	if seq > last {
		return 0, fmt.Errorf("stream: scan %s after %d: %w", streamName, seq, ErrBadCursor)
	}
	return last, nil
}
