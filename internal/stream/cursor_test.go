package stream_test

import (
	"errors"
	"math"
	"testing"

	"github.com/bluehq/webhooks/internal/stream"
)

func TestCursor(t *testing.T) {
	t.Parallel()
	for _, seq := range []uint64{1, 42, math.MaxUint64} {
		c := stream.Cursor("recover:wh_1", seq)
		if got, err := stream.ParseCursor("recover:wh_1", c); err != nil || got != seq {
			t.Errorf("ParseCursor(Cursor(%d)) = %d, %v", seq, got, err)
		}
		for _, other := range []string{"recover:wh_2", "backfill:wh_1", "recover:wh_", "recover:wh_10"} {
			if _, err := stream.ParseCursor(other, c); !errors.Is(err, stream.ErrBadCursor) {
				t.Errorf("a cursor of recover:wh_1 read as one of %s: %v", other, err)
			}
		}
	}
	for _, bad := range []string{"", "x", "-1", "1", "abc:def", "!!", stream.Cursor("recover:wh_1", 0)} {
		if _, err := stream.ParseCursor("recover:wh_1", bad); !errors.Is(err, stream.ErrBadCursor) {
			t.Errorf("ParseCursor(%q) = %v, want ErrBadCursor", bad, err)
		}
	}
}

// FuzzParseCursor: any input is either a cursor of the listing, which
// Cursor gives back unchanged, or ErrBadCursor.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", "x", stream.Cursor("backfill:w", 7), "YmFja2ZpbGw6d0A3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, err := stream.ParseCursor("backfill:w", s)
		if err != nil {
			if !errors.Is(err, stream.ErrBadCursor) {
				t.Fatalf("ParseCursor(%q): %v, want ErrBadCursor", s, err)
			}
			return
		}
		if seq == 0 {
			t.Fatalf("ParseCursor(%q) accepted sequence 0", s)
		}
		if _, err := stream.ParseCursor("backfill:w", stream.Cursor("backfill:w", seq)); err != nil {
			t.Fatalf("the cursor of %d does not parse: %v", seq, err)
		}
	})
}
