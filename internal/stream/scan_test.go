package stream_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// Scan reads every message of its subject that was stored before it
// started, however recently: each round stores one more dead letter (among
// another webhook's) and scans them all from a time before the first.
func TestScanReadsEverythingStoredBeforeIt(t *testing.T) {
	n := testenv.StartNATS(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	since := time.Now().Add(-5 * time.Second)
	for i := range 60 {
		for _, hook := range []string{"wh_other", "wh_scan"} {
			if _, err := n.JS.Publish(ctx, stream.DeadSubject("co_scan", hook, fmt.Sprintf("dlv_%d", i)), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		got := 0
		read, more, err := stream.Scan(ctx, n.JS, stream.Dead, stream.DeadSubject("co_scan", "wh_scan", "*"), stream.ScanFrom{Since: since}, 10000, func(jetstream.Msg) error {
			got++
			return nil
		})
		if err != nil || more || read != i+1 || got != i+1 {
			t.Fatalf("round %d: Scan read %d (f saw %d), more %v, err %v; want %d", i, read, got, more, err, i+1)
		}
	}
}
