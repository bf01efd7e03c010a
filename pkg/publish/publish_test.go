package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/publish"
)

type bundle struct {
	client *publish.Client
	events jetstream.Stream
}

func setup(t *testing.T, opts ...publish.Option) *bundle {
	t.Helper()
	n := testenv.StartNATS(t, 1)
	c, err := publish.New(n.Conn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events, err := n.JS.Stream(ctx, stream.Events)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{client: c, events: events}
}

// stored returns the last event stored for company (project p1, given type).
func (b *bundle) stored(t *testing.T, company, typ string) (*jetstream.RawStreamMsg, publish.Event) {
	t.Helper()
	msg, err := b.events.GetLastMsgForSubject(t.Context(), stream.EventSubject(company, "p1", typ))
	if err != nil {
		t.Fatalf("event not stored: %v", err)
	}
	var e publish.Event
	if err := json.Unmarshal(msg.Data, &e); err != nil {
		t.Fatal(err)
	}
	return msg, e
}

func (b *bundle) count(t *testing.T, company string) uint64 {
	t.Helper()
	info, err := b.events.Info(t.Context(), jetstream.WithSubjectFilter("events."+company+".>"))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

func todo(company string) publish.Event {
	return publish.Event{
		Type: "TODO_CREATED", CompanyID: company, ProjectID: "p1", ActorID: "u1",
		CurrentValue: json.RawMessage(`{"id":"t1","title":"Ship it"}`),
	}
}

func TestPublishFillsIDAndTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	at := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		id     string
		at     time.Time
		wantID string // "" means a generated evt_ id
	}{
		{name: "both filled"},
		{name: "id given", id: "evt_given_1", wantID: "evt_given_1"},
		{name: "time given", at: at},
		{name: "both given", id: "custom-id", at: at, wantID: "custom-id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			co := testenv.ID("co")
			e := todo(co)
			e.ID, e.OccurredAt = tc.id, tc.at
			before := time.Now()
			id, err := b.client.Publish(t.Context(), e)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.wantID != "" && id != tc.wantID:
				t.Errorf("id %q, want the given %q", id, tc.wantID)
			case tc.wantID == "" && !strings.HasPrefix(id, "evt_"):
				t.Errorf("generated id %q, want evt_...", id)
			}
			msg, got := b.stored(t, co, "TODO_CREATED")
			if got.ID != id || msg.Header.Get(jetstream.MsgIDHeader) != id {
				t.Errorf("stored id %q, Nats-Msg-Id %q; want %q", got.ID, msg.Header.Get(jetstream.MsgIDHeader), id)
			}
			if tc.at.IsZero() {
				if got.OccurredAt.Before(before.Add(-time.Second)) || got.OccurredAt.After(time.Now().Add(time.Second)) {
					t.Errorf("occurredAt %v, want about now", got.OccurredAt)
				}
			} else if !got.OccurredAt.Equal(tc.at) {
				t.Errorf("occurredAt %v, want the given %v", got.OccurredAt, tc.at)
			}
			if got.CompanyID != co || got.Type != "TODO_CREATED" || got.ActorID != "u1" || string(got.CurrentValue) != `{"id":"t1","title":"Ship it"}` {
				t.Errorf("stored %+v", got)
			}
			if e.ID != tc.id {
				t.Errorf("Publish changed the caller's event")
			}
		})
	}
}

func TestPublishGeneratesDistinctIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	seen := map[string]bool{}
	for range 20 {
		id, err := b.client.Publish(t.Context(), todo(co))
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("id %s generated twice", id)
		}
		seen[id] = true
	}
	if n := b.count(t, co); n != 20 {
		t.Errorf("%d stored, want 20", n)
	}
}

func TestPublishInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tests := []struct {
		name   string
		change func(e *publish.Event)
		field  string
	}{
		{name: "missing company", change: func(e *publish.Event) { e.CompanyID = "" }, field: "/companyId"},
		{name: "company with a dot", change: func(e *publish.Event) { e.CompanyID = "a.b" }, field: "/companyId"},
		{name: "unknown type", change: func(e *publish.Event) { e.Type = "TODO_EXPLODED" }, field: "/type"},
		{name: "lower-case type", change: func(e *publish.Event) { e.Type = "todo_created" }, field: "/type"},
		{name: "bad id", change: func(e *publish.Event) { e.ID = "evt 1" }, field: "/id"},
		{name: "no current value", change: func(e *publish.Event) { e.CurrentValue = nil }, field: "/currentValue"},
		{name: "current value without id", change: func(e *publish.Event) { e.CurrentValue = json.RawMessage(`{"title":"x"}`) }, field: "/currentValue/id"},
		{name: "previous value of wrong shape", change: func(e *publish.Event) { e.PreviousValue = json.RawMessage(`{"id":42}`) }, field: "/previousValue/id"},
		{name: "wildcard project", change: func(e *publish.Event) { e.ProjectID = "*" }, field: "/projectId"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				e := todo(co)
				tc.change(&e)
				id, err := b.client.Publish(t.Context(), e)
				if err == nil {
					t.Fatalf("Publish = %q, nil; want an error", id)
				}
				if id != "" {
					t.Errorf("id %q returned with an error", id)
				}
				if !errors.Is(err, publish.ErrInvalid) || !publish.IsInvalid(err) {
					t.Errorf("errors.Is(%v, ErrInvalid) is false", err)
				}
				var fe *publish.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("errors.As(%v, *FieldError) is false", err)
				}
				if fe.Field != tc.field || fe.Detail == "" {
					t.Errorf("field %q detail %q, want field %q", fe.Field, fe.Detail, tc.field)
				}
				// Wrapped once more, the error keeps its meaning.
				wrapped := fmt.Errorf("saving todo: %w", err)
				if !errors.Is(wrapped, publish.ErrInvalid) || !errors.As(wrapped, &fe) {
					t.Errorf("wrapped error lost its class")
				}
			})
		}
	})
	if n := b.count(t, co); n != 0 {
		t.Errorf("%d events stored after only invalid publishes, want 0", n)
	}
}

func TestPublishJSONBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name      string
		body      func(co string) string
		wantIDs   []string // suffixes of the ids, which start with the company
		wantField string
	}{
		{name: "one", body: func(co string) string {
			return `{"id":"` + co + `e1","type":"TODO_CREATED","occurredAt":"2024-05-01T12:00:00Z","companyId":"` + co + `","projectId":"p1","currentValue":{"id":"t1"}}`
		}, wantIDs: []string{"e1"}},
		{name: "batch", body: func(co string) string {
			return `[{"id":"` + co + `e1","type":"TODO_CREATED","occurredAt":"2024-05-01T12:00:00Z","companyId":"` + co + `","projectId":"p1","currentValue":{"id":"t1"}},
			         {"id":"` + co + `e2","type":"TODO_DELETED","occurredAt":"2024-05-01T12:00:01Z","companyId":"` + co + `","projectId":"p1","currentValue":{"id":"t1"}}]`
		}, wantIDs: []string{"e1", "e2"}},
		{name: "batch with a bad item", body: func(co string) string {
			return `[{"id":"` + co + `e1","type":"TODO_CREATED","occurredAt":"2024-05-01T12:00:00Z","companyId":"` + co + `","projectId":"p1","currentValue":{"id":"t1"}},
			         {"id":"` + co + `e2","type":"TODO_CREATED","occurredAt":"2024-05-01T12:00:01Z","projectId":"p1","currentValue":{"id":"t1"}}]`
		}, wantField: "/1/companyId"},
		{name: "not JSON", body: func(string) string { return `{` }, wantField: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			co := testenv.ID("co")
			ids, err := b.client.PublishJSON(t.Context(), []byte(tc.body(co)))
			if tc.wantIDs == nil {
				var fe *publish.FieldError
				if !errors.As(err, &fe) || fe.Field != tc.wantField {
					t.Fatalf("PublishJSON = %v, %v; want a FieldError at %q", ids, err, tc.wantField)
				}
				if n := b.count(t, co); n != 0 {
					t.Errorf("%d stored from a rejected batch, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, id := range tc.wantIDs {
				want = append(want, co+id)
			}
			if strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Errorf("ids %v, want %v", ids, want)
			}
			if n := b.count(t, co); n != uint64(len(tc.wantIDs)) {
				t.Errorf("%d stored, want %d", n, len(tc.wantIDs))
			}
		})
	}
}

func TestPublishDeduplicated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	e := todo(co)
	e.ID = "evt_once"
	for range 3 {
		id, err := b.client.Publish(t.Context(), e)
		if err != nil || id != "evt_once" {
			t.Fatalf("Publish = %q, %v", id, err)
		}
	}
	if n := b.count(t, co); n != 1 {
		t.Errorf("%d stored, want 1", n)
	}
}

func TestHeaderInjector(t *testing.T) {
	t.Parallel()
	type key struct{}
	b := setup(t, publish.WithHeaderInjector(func(ctx context.Context, h nats.Header) {
		if v, ok := ctx.Value(key{}).(string); ok {
			h.Set("traceparent", v)
		}
	}))
	co := testenv.ID("co")
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if _, err := b.client.Publish(context.WithValue(t.Context(), key{}, tp), todo(co)); err != nil {
		t.Fatal(err)
	}
	msg, _ := b.stored(t, co, "TODO_CREATED")
	if got := msg.Header.Get("traceparent"); got != tp {
		t.Errorf("traceparent %q, want %q", got, tp)
	}
}

func TestPublishCancelled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := b.client.Publish(ctx, todo(testenv.ID("co")))
	// Either the event made it before the context was looked at, or the
	// caller learns of the cancellation; never an "invalid" verdict.
	if err != nil && (!errors.Is(err, context.Canceled) || publish.IsInvalid(err)) {
		t.Errorf("Publish with a cancelled context: %v", err)
	}
}

func TestCatalogue(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if !b.client.Catalogue().Known("TODO_CREATED") || b.client.Catalogue().Known("TODO_EXPLODED") {
		t.Error("Catalogue does not know the event types")
	}
}
