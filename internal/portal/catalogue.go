package portal

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/webhook"
)

func (p *Portal) catalogue(w http.ResponseWriter, r *http.Request, s *Session) {
	pg := p.pageFor(s, "Event catalogue")
	pg.Nav = "catalogue"
	pg.Data = p.cfg.API.EventTypes()
	p.render(w, r, "catalogue", pg)
}

// eventTypeData is the page of one event type.
type eventTypeData struct {
	Type api.EventType
	// Body is what an endpoint receives for the example event.
	Body json.RawMessage
}

func (p *Portal) eventType(w http.ResponseWriter, r *http.Request, s *Session) {
	name := r.PathValue("type")
	for _, t := range p.cfg.API.EventTypes() {
		if t.Type != name {
			continue
		}
		pg := p.pageFor(s, t.Type)
		pg.Nav = "catalogue"
		pg.Data = eventTypeData{Type: t, Body: exampleBody(t.Example)}
		p.render(w, r, "event-type", pg)
		return
	}
	p.apiError(w, r, s, notFound("no such event type"))
}

// exampleBody renders the delivery body of an example event, for a
// webhook made up for the purpose.
func exampleBody(example json.RawMessage) json.RawMessage {
	var e event.Envelope
	if json.Unmarshal(example, &e) != nil {
		return nil
	}
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	w := &webhook.Webhook{
		ID: "wh_0123456789ab0123456789ab", UID: "0123456789abcdef0123456789abcdef", Name: "My webhook",
		URL: "https://example.com/webhooks", Status: webhook.StatusHealthy, Enabled: true, Events: []string{e.Type},
		CreatedAt: at, UpdatedAt: at,
	}
	body, err := dispatch.Render(&e, w)
	if err != nil {
		return nil
	}
	return body
}

// filterCheck checks a filter as it is typed, with the API's own check:
// {"ok": true}, or {"ok": false, "message": what is wrong and where}.
func (p *Portal) filterCheck(w http.ResponseWriter, r *http.Request, s *Session) {
	out := struct {
		OK      bool   `json:"ok"`
		Message string `json:"message,omitempty"`
	}{OK: true}
	if err := p.cfg.API.CheckFilter(r.Context(), r.URL.Query().Get("filter")); err != nil {
		ref, ok := refusalOf(err)
		if !ok {
			p.internal(w, r, err)
			return
		}
		out.OK, out.Message = false, ref.Problem
		if msgs := ref.Fields["filter"]; len(msgs) > 0 {
			out.Message = msgs[0]
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
