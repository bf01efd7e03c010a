package api_test

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/pkg/publish"
)

// A cursor of recover or backfill that the server did not give for that
// webhook's listing is refused with 400 naming body.cursor, never 500:
// malformed, of another webhook or of the other listing, past the end of
// the stream. A nextCursor as given continues the listing.
func TestCursors(t *testing.T) {
	t.Parallel()
	f := setupFull(t)
	w := f.create(t, f.tokA, validBody("cursors"))
	other := f.create(t, f.tokA, validBody("cursors-other"))
	for range 3 {
		if _, err := f.pub.Publish(t.Context(), todoEvent(f.coA)); err != nil {
			t.Fatal(err)
		}
	}
	since := time.Now().Add(-time.Hour)

	// A backfill of one event at a time pages through the three.
	var cursor string
	for page := 1; ; page++ {
		status, data := f.do(t, http.MethodPost, "/v1/webhooks/"+w.ID+"/backfill", f.tokA, map[string]any{"since": since, "limit": 1, "cursor": cursor})
		if status != http.StatusAccepted {
			t.Fatalf("backfill page %d: status %d, body %s", page, status, data)
		}
		res := decode[dispatch.BackfillResult](t, data)
		if res.NextCursor == "" {
			if page != 3 {
				t.Errorf("backfill ended after %d pages of one event, want 3", page)
			}
			break
		}
		if page == 3 {
			t.Fatalf("backfill gives a cursor after the last event: %s", data)
		}
		cursor = res.NextCursor
	}

	bad := []struct {
		name   string
		cursor func(listing string) string
	}{
		{name: "a word", cursor: func(string) string { return "x" }},
		{name: "negative", cursor: func(string) string { return "-1" }},
		{name: "a plain sequence", cursor: func(string) string { return "1" }},
		{name: "two parts", cursor: func(string) string { return "abc:def" }},
		{name: "very long", cursor: func(string) string { return strings.Repeat("9", 100_000) }},
		{name: "base64 of nothing of ours", cursor: func(string) string { return "aGVsbG8gd29ybGQ" }},
		{name: "base64 garbage", cursor: func(string) string { return "!!@@##$$" }},
		{name: "a huge number", cursor: func(string) string { return "18446744073709551616" }},
		{name: "unicode", cursor: func(string) string { return "ñ☃🚀" }},
		{name: "NUL", cursor: func(string) string { return "\x00" }},
		{name: "of another webhook", cursor: func(listing string) string {
			return stream.Cursor(strings.Replace(listing, w.ID, other.ID, 1), 1)
		}},
		{name: "of the other listing", cursor: func(listing string) string {
			kind, id, _ := strings.Cut(listing, ":")
			if kind == "backfill" {
				return stream.Cursor("recover:"+id, 1)
			}
			return stream.Cursor("backfill:"+id, 1)
		}},
		{name: "past the end of the stream", cursor: func(listing string) string { return stream.Cursor(listing, 1<<40) }},
		{name: "the largest sequence", cursor: func(listing string) string { return stream.Cursor(listing, math.MaxUint64) }},
		{name: "sequence zero", cursor: func(listing string) string { return stream.Cursor(listing, 0) }},
	}
	t.Run("cases", func(t *testing.T) {
		for _, action := range []string{"backfill", "recover"} {
			for _, tc := range bad {
				t.Run(action+" "+tc.name, func(t *testing.T) {
					t.Parallel()
					body := map[string]any{"since": since, "cursor": tc.cursor(action + ":" + w.ID)}
					status, data := f.do(t, http.MethodPost, "/v1/webhooks/"+w.ID+"/"+action, f.tokA, body)
					if status != http.StatusBadRequest {
						t.Fatalf("status %d, want 400; body %.300s", status, data)
					}
					if locs := locations(t, data); !slices.Contains(locs, "body.cursor") {
						t.Errorf("errors at %q, want body.cursor; body %.300s", locs, data)
					}
				})
			}
		}
	})
	if n := f.errors.n.Load(); n != 0 {
		t.Errorf("the API logged %d errors for bad cursors", n)
	}
}

func todoEvent(company string) publish.Event {
	return event.Envelope{Type: "TODO_CREATED", CompanyID: company, ProjectID: "p1",
		CurrentValue: []byte(`{"id":"t1","title":"x"}`)}
}
