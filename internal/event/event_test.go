package event_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/event"
)

func TestSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		e    event.Envelope
		want string
	}{
		{name: "project event", e: event.Envelope{Type: "TODO_CREATED", CompanyID: "c1", ProjectID: "p1"}, want: "events.c1.p1.TODO_CREATED"},
		{name: "company event", e: event.Envelope{Type: "WEBHOOK_DISABLED", CompanyID: "c1"}, want: "events.c1._.WEBHOOK_DISABLED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.e.Subject(); got != tc.want {
				t.Errorf("Subject() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{name: "cuid", id: "clb4zna6x0000vt1swuwso25f", want: true},
		{name: "all classes", id: "Az09_-", want: true},
		{name: "one char", id: "a", want: true},
		{name: "64 chars", id: strings.Repeat("x", 64), want: true},
		{name: "empty", id: "", want: false},
		{name: "65 chars", id: strings.Repeat("x", 65), want: false},
		{name: "dot", id: "a.b", want: false},
		{name: "star", id: "*", want: false},
		{name: "gt", id: ">", want: false},
		{name: "space", id: "a b", want: false},
		{name: "trailing newline", id: "ab\n", want: false},
		{name: "slash", id: "a/b", want: false},
		{name: "NUL", id: "a\x00", want: false},
		{name: "non-ASCII", id: "café", want: false},
		{name: "new id", id: event.NewID(), want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := event.ValidID(tc.id); got != tc.want {
				t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	const n = 10000
	seen := make(map[string]bool, n)
	for range n {
		id := event.NewID()
		if len(id) != 30 || !strings.HasPrefix(id, "evt_") || !event.ValidID(id) {
			t.Fatalf("NewID() = %q", id)
		}
		if strings.ContainsAny(id[4:], "ILOU") {
			t.Fatalf("NewID() = %q: not Crockford base32", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestEnvelopeJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2022, 12, 1, 11, 23, 9, 241e6, time.UTC)
	tests := []struct {
		name string
		e    event.Envelope
		want string
	}{
		{
			name: "no previous value, no project, no actor",
			e:    event.Envelope{ID: "evt_1", Type: "WEBHOOK_TEST", OccurredAt: at, CompanyID: "c1", CurrentValue: json.RawMessage(`{"id":"w1"}`)},
			want: `{"id":"evt_1","type":"WEBHOOK_TEST","occurredAt":"2022-12-01T11:23:09.241Z","companyId":"c1","currentValue":{"id":"w1"},"previousValue":null}`,
		},
		{
			name: "everything",
			e: event.Envelope{ID: "evt_1", Type: "TODO_NAME_CHANGED", OccurredAt: at, CompanyID: "c1", ProjectID: "p1", ActorID: "u1",
				CurrentValue: json.RawMessage(`{"id":"t1","title":"b"}`), PreviousValue: json.RawMessage(`{"id":"t1","title":"a"}`)},
			want: `{"id":"evt_1","type":"TODO_NAME_CHANGED","occurredAt":"2022-12-01T11:23:09.241Z","companyId":"c1","projectId":"p1","actorId":"u1","currentValue":{"id":"t1","title":"b"},"previousValue":{"id":"t1","title":"a"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("Marshal = %s\nwant      %s", got, tc.want)
			}
		})
	}
}

func TestFieldError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *event.FieldError
		want string
	}{
		{name: "field", err: &event.FieldError{Field: "/companyId", Detail: "missing property"}, want: "/companyId: missing property"},
		{name: "whole body", err: &event.FieldError{Detail: "batch is empty"}, want: "batch is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			wrapped := fmt.Errorf("publish: %w", tc.err)
			if !errors.Is(wrapped, event.ErrInvalid) {
				t.Error("errors.Is(wrapped, ErrInvalid) = false")
			}
			if fe, ok := errors.AsType[*event.FieldError](wrapped); !ok || fe != tc.err {
				t.Error("errors.As does not find the *FieldError")
			}
			if errors.Is(wrapped, errors.New("invalid event")) {
				t.Error("matches an unrelated error")
			}
		})
	}
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = event.NewID()
	}
}

func BenchmarkSubject(b *testing.B) {
	e := event.Envelope{Type: "TODO_CREATED", CompanyID: "clakt8jud0002vt64205yyj10", ProjectID: "clakt90vu000bvt64hhffqleq"}
	b.ReportAllocs()
	for b.Loop() {
		_ = e.Subject()
	}
}
