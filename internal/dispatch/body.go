package dispatch

import (
	"encoding/json"
	"time"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/jsonenc"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Body documents what a customer endpoint receives: the seed's payload
// (event, webhook, currentValue) plus the ids of the event's company,
// project and actor, and the previous value. The secret is always "".
// Render writes this shape without reflection.
type Body struct {
	Event         string          `json:"event"`
	EventID       string          `json:"eventId"`
	OccurredAt    time.Time       `json:"occurredAt"`
	Webhook       webhook.Payload `json:"webhook"`
	Company       IDRef           `json:"company"`
	Project       *IDRef          `json:"project"`
	User          *IDRef          `json:"user"`
	CurrentValue  json.RawMessage `json:"currentValue"`
	PreviousValue json.RawMessage `json:"previousValue"`
}

// IDRef is {"id": ...}.
type IDRef struct {
	ID string `json:"id"`
}

// Render returns the delivery body of e for w. It is rendered once per
// webhook and sent byte-identical on every attempt.
func Render(e *event.Envelope, w *webhook.Webhook) ([]byte, error) {
	wj, err := w.PayloadJSON()
	if err != nil {
		return nil, err
	}
	return renderWith(e, wj), nil
}

// renderWith writes the body around the webhook's pre-rendered payload. The
// event's values are spliced in as they arrived (valid JSON, checked at
// publish); strings are escaped as encoding/json would.
func renderWith(e *event.Envelope, webhookJSON []byte) []byte {
	// Room for everything: the keys and punctuation (~150 bytes), the time
	// (at most 35) and every value. Growing it copied the body once more
	// and allocated about twice its size again.
	b := make([]byte, 0, 192+len(e.Type)+len(e.ID)+len(e.CompanyID)+len(e.ProjectID)+len(e.ActorID)+
		len(webhookJSON)+len(e.CurrentValue)+len(e.PreviousValue))
	b = append(b, `{"event":`...)
	b = jsonenc.AppendString(b, e.Type)
	b = append(b, `,"eventId":`...)
	b = jsonenc.AppendString(b, e.ID)
	b = append(b, `,"occurredAt":"`...)
	b = e.OccurredAt.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","webhook":`...)
	b = append(b, webhookJSON...)
	b = append(b, `,"company":{"id":`...)
	b = jsonenc.AppendString(b, e.CompanyID)
	b = append(b, `},"project":`...)
	b = appendRef(b, e.ProjectID)
	b = append(b, `,"user":`...)
	b = appendRef(b, e.ActorID)
	b = append(b, `,"currentValue":`...)
	b = appendRaw(b, e.CurrentValue)
	b = append(b, `,"previousValue":`...)
	b = appendRaw(b, e.PreviousValue)
	return append(b, '}')
}

func appendRef(b []byte, id string) []byte {
	if id == "" {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = jsonenc.AppendString(b, id)
	return append(b, '}')
}

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}
