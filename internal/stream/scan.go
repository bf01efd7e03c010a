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

// Scan calls f for the messages of streamName on subject (wildcards
// allowed), at most limit, with an ordered consumer. It reads only what was
// in the stream when it started, so it always ends. It returns how many
// messages it read and whether more remained.
func Scan(ctx context.Context, js jetstream.JetStream, streamName, subject string, from ScanFrom, limit int, f func(jetstream.Msg) error) (int, bool, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}}
	switch {
	case from.AfterSeq > 0:
		if err := checkAfter(ctx, js, streamName, from.AfterSeq); err != nil {
			return 0, false, err
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from.AfterSeq+1
	case !from.Since.IsZero():
		since := from.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := js.OrderedConsumer(ctx, streamName, cfg)
	if err != nil {
		return 0, false, fmt.Errorf("stream: scan %s: %w", streamName, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("stream: scan %s: %w", streamName, err)
	}
	pending := int(info.NumPending)
	read := 0
	for read < pending && read < limit {
		batch, err := cons.Fetch(min(256, limit-read, pending-read), jetstream.FetchMaxWait(2*time.Second))
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
// reached: a Scan never gives one.
func checkAfter(ctx context.Context, js jetstream.JetStream, streamName string, seq uint64) error {
	s, err := js.Stream(ctx, streamName)
	if err != nil {
		return fmt.Errorf("stream: scan %s: %w", streamName, err)
	}
	if seq > s.CachedInfo().State.LastSeq {
		return fmt.Errorf("stream: scan %s after %d: %w", streamName, seq, ErrBadCursor)
	}
	return nil
}
