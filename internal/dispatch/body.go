package dispatch

import (
	"encoding/json"
	"time"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/webhook"
)

// Body is what a customer endpoint receives: the seed's payload (event,
// webhook, currentValue) plus the ids of the event's company, project and
// actor, and the previous value. The secret is always "".
type Body struct {
	Event         string          `json:"event"`
	EventID       string          `json:"eventId"`
	OccurredAt    time.Time       `json:"occurredAt"`
	Webhook       BodyWebhook     `json:"webhook"`
	Company       IDRef           `json:"company"`
	Project       *IDRef          `json:"project"`
	User          *IDRef          `json:"user"`
	CurrentValue  json.RawMessage `json:"currentValue"`
	PreviousValue json.RawMessage `json:"previousValue"`
}

// BodyWebhook is the webhook as Blue's payload shows it.
type BodyWebhook struct {
	ID          string       `json:"id"`
	UID         string       `json:"uid"`
	Name        string       `json:"name"`
	URL         string       `json:"url"`
	Secret      string       `json:"secret"`
	Status      string       `json:"status"`
	Enabled     bool         `json:"enabled"`
	Metadata    BodyMetadata `json:"metadata"`
	CreatedByID string       `json:"createdById"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
}

// BodyMetadata is the webhook's scope.
type BodyMetadata struct {
	Events     []string `json:"events"`
	ProjectIDs []string `json:"projectIds"`
}

// IDRef is {"id": ...}.
type IDRef struct {
	ID string `json:"id"`
}

var nullJSON = json.RawMessage("null")

// Render returns the delivery body of e for w. It is rendered once per
// webhook and sent byte-identical on every attempt.
func Render(e *event.Envelope, w *webhook.Webhook) ([]byte, error) {
	b := Body{
		Event:      e.Type,
		EventID:    e.ID,
		OccurredAt: e.OccurredAt,
		Webhook: BodyWebhook{
			ID: w.ID, UID: w.UID, Name: w.Name, URL: w.URL,
			Status: w.Status, Enabled: w.Enabled,
			Metadata:    BodyMetadata{Events: orEmpty(w.Events), ProjectIDs: orEmpty(w.ProjectIDs)},
			CreatedByID: w.CreatedByID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
		},
		Company:       IDRef{ID: e.CompanyID},
		CurrentValue:  e.CurrentValue,
		PreviousValue: e.PreviousValue,
	}
	if e.ProjectID != "" {
		b.Project = &IDRef{ID: e.ProjectID}
	}
	if e.ActorID != "" {
		b.User = &IDRef{ID: e.ActorID}
	}
	if len(b.CurrentValue) == 0 {
		b.CurrentValue = nullJSON
	}
	if len(b.PreviousValue) == 0 {
		b.PreviousValue = nullJSON
	}
	return json.Marshal(&b)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
