package dispatch

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/webhook"
)

func sampleEvent(t testing.TB) event.Envelope {
	cat, err := event.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for _, ty := range cat.Types() {
		if ty.Name == "TODO_CREATED" {
			e, err := cat.Validate(ty.Example)
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
	}
	t.Fatal("no TODO_CREATED in the catalogue")
	return event.Envelope{}
}

func sampleHook() *webhook.Webhook {
	now := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	return &webhook.Webhook{ID: "wh_1", UID: "u1", CompanyID: "c1", Name: `Q&A <hook> "1"`, URL: "https://example.com/h?a=1&b=2",
		Status: webhook.StatusHealthy, Enabled: true, Events: []string{"TODO_CREATED"}, CreatedByID: "usr", CreatedAt: now, UpdatedAt: now}
}

// The hand-written renderer produces what encoding/json would for Body.
func TestRenderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	base := sampleEvent(t)
	w := sampleHook()
	tests := []struct {
		name   string
		change func(e *event.Envelope)
	}{
		{name: "full", change: func(*event.Envelope) {}},
		{name: "no project, no actor", change: func(e *event.Envelope) { e.ProjectID, e.ActorID = "", "" }},
		{name: "no previous value", change: func(e *event.Envelope) { e.PreviousValue = nil }},
		{name: "previous value", change: func(e *event.Envelope) { e.PreviousValue = json.RawMessage(`{"id":"x","title":"é \u003c"}`) }},
		{name: "odd id", change: func(e *event.Envelope) { e.ID = "evt_\"quoted\"\n<&>" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := base
			tt.change(&e)
			got, err := Render(&e, w)
			if err != nil {
				t.Fatal(err)
			}
			wp, _ := w.PayloadJSON()
			var p webhook.Payload
			_ = json.Unmarshal(wp, &p)
			ref := Body{Event: e.Type, EventID: e.ID, OccurredAt: e.OccurredAt, Webhook: p, Company: IDRef{e.CompanyID},
				CurrentValue: orNull(e.CurrentValue), PreviousValue: orNull(e.PreviousValue)}
			if e.ProjectID != "" {
				ref.Project = &IDRef{e.ProjectID}
			}
			if e.ActorID != "" {
				ref.User = &IDRef{e.ActorID}
			}
			want, _ := json.Marshal(ref)
			var g, wnt any
			if err := json.Unmarshal(got, &g); err != nil {
				t.Fatalf("rendered body is not JSON: %v\n%s", err, got)
			}
			_ = json.Unmarshal(want, &wnt)
			if !reflect.DeepEqual(g, wnt) {
				t.Errorf("rendered\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func orNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return json.RawMessage("null")
	}
	return r
}

func BenchmarkRender(b *testing.B) {
	e := sampleEvent(b)
	w := sampleHook()
	wp, _ := w.PayloadJSON()
	b.Run("prerendered-webhook", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = renderWith(&e, wp)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var p webhook.Payload
		_ = json.Unmarshal(wp, &p)
		for b.Loop() {
			_, _ = json.Marshal(Body{Event: e.Type, EventID: e.ID, OccurredAt: e.OccurredAt, Webhook: p, Company: IDRef{e.CompanyID},
				Project: &IDRef{e.ProjectID}, User: &IDRef{e.ActorID}, CurrentValue: e.CurrentValue, PreviousValue: orNull(e.PreviousValue)})
		}
	})
}

func BenchmarkSelect(b *testing.B) {
	e := sampleEvent(b)
	w := sampleHook()
	w.ProjectIDs = []string{"p0", "p1", e.ProjectID}
	entry := &struct{ *webhook.Webhook }{w}
	b.ReportAllocs()
	for b.Loop() {
		_ = entry.Matches(e.Type, e.ProjectID)
	}
}

// A body is one allocation of the right size: growing it copied the whole
// body again and allocated about twice its size.
func TestRenderAllocatesOnce(t *testing.T) {
	e := sampleEvent(t)
	wp, _ := sampleHook().PayloadJSON()
	for _, prev := range []json.RawMessage{nil, e.CurrentValue} {
		e.PreviousValue = prev
		if n := testing.AllocsPerRun(100, func() { _ = renderWith(&e, wp) }); n != 1 {
			t.Errorf("previousValue %d bytes: %.0f allocations per body, want 1", len(prev), n)
		}
	}
}
