package webhook

import (
	"encoding/json"
	"time"
)

// Public is a webhook as customers see it: in API responses and in the
// platform's own events (WEBHOOK_TEST, WEBHOOK_DISABLED). Secret is set only
// in the response to create and rotate-secret; it is null everywhere else.
type Public struct {
	ID          string    `json:"id" doc:"Webhook id."`
	UID         string    `json:"uid"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Secret      *string   `json:"secret" doc:"The signing secret: returned once, on create (and rotate-secret); null afterwards."`
	Status      string    `json:"status" enum:"HEALTHY,UNHEALTHY"`
	Enabled     bool      `json:"enabled"`
	Events      []string  `json:"events" doc:"Event types delivered; empty means all."`
	ProjectIDs  []string  `json:"projectIds" doc:"Projects whose events are delivered; empty means all."`
	Filter      string    `json:"filter,omitempty" doc:"CEL expression over the variable event; only events for which it is true are delivered."`
	CreatedByID string    `json:"createdById,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// The webhook's own caps; null when unset (the server's default applies).
	RateLimit      *float64 `json:"rateLimit" doc:"Deliveries per second to this webhook, across all deliverers; null: the server's default (DELIVERY_ENDPOINT_RATE; 0 there means no limit)."`
	MaxConcurrency *int     `json:"maxConcurrency" doc:"Attempts in flight to this webhook, across all deliverers; null: the server's default (DELIVERY_ENDPOINT_CONCURRENCY, 32 unless set)."`
}

// Public returns the customer-facing view of w, without any secret.
func (w *Webhook) Public() Public {
	p := Public{
		ID: w.ID, UID: w.UID, Name: w.Name, URL: w.URL, Status: w.Status, Enabled: w.Enabled,
		Events: nonNil(w.Events), ProjectIDs: nonNil(w.ProjectIDs), Filter: w.Filter,
		CreatedByID: w.CreatedByID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	if rate := w.RateLimit; rate != 0 { // copies: w may be a shared cache entry
		p.RateLimit = &rate
	}
	if conc := w.MaxConcurrency; conc != 0 {
		p.MaxConcurrency = &conc
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Payload is the webhook as the delivery body shows it (Blue's documented
// payload): the secret is always "".
type Payload struct {
	ID          string          `json:"id"`
	UID         string          `json:"uid"`
	Name        string          `json:"name"`
	URL         string          `json:"url"`
	Secret      string          `json:"secret"`
	Status      string          `json:"status"`
	Enabled     bool            `json:"enabled"`
	Metadata    PayloadMetadata `json:"metadata"`
	CreatedByID string          `json:"createdById"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// PayloadMetadata is the webhook's scope in the delivery body.
type PayloadMetadata struct {
	Events     []string `json:"events"`
	ProjectIDs []string `json:"projectIds"`
}

// PayloadJSON renders w's part of the delivery body, once per webhook
// version rather than once per delivery.
func (w *Webhook) PayloadJSON() ([]byte, error) {
	return json.Marshal(Payload{
		ID: w.ID, UID: w.UID, Name: w.Name, URL: w.URL, Status: w.Status, Enabled: w.Enabled,
		Metadata:    PayloadMetadata{Events: nonNil(w.Events), ProjectIDs: nonNil(w.ProjectIDs)},
		CreatedByID: w.CreatedByID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	})
}
