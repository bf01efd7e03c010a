// Package event defines the event envelope that Blue services publish and
// validates it against the JSON Schemas and the event-type catalogue embedded
// in package schemas.
//
// Validation happens once, at the edge (pkg/publish, cmd/publisher); after it,
// an Envelope's ids are safe as NATS subject tokens and KV keys.
package event

import (
	"encoding/json"
	"time"
)

// Envelope is one event published by a Blue service.
type Envelope struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurredAt"`
	CompanyID  string    `json:"companyId"`
	// ProjectID is empty for company-level events such as WEBHOOK_DISABLED.
	ProjectID string `json:"projectId,omitempty"`
	// ActorID is empty for system events.
	ActorID      string          `json:"actorId,omitempty"`
	CurrentValue json.RawMessage `json:"currentValue"`
	// PreviousValue is nil when there is none; it then marshals as null.
	PreviousValue json.RawMessage `json:"previousValue"`
}

// DefaultMaxBytes is the largest body of events the ingest takes unless
// MAX_EVENT_BYTES says otherwise, and so the longest string of an event
// that a filter's cost estimate assumes by default.
const DefaultMaxBytes = 256 << 10

// noProject is the subject token used for events without a project.
const noProject = "_"

// Subject returns the NATS subject the event is stored under in the EVENTS
// stream: events.<companyId>.<projectId>.<TYPE>, with "_" as the project of
// company-level events. It is only meaningful for a validated envelope.
func (e Envelope) Subject() string {
	project := e.ProjectID
	if project == "" {
		project = noProject
	}
	return "events." + e.CompanyID + "." + project + "." + e.Type
}

// ValidID reports whether s may be used as an id that becomes a NATS subject
// token or a KV key: 1 to 64 characters from [A-Za-z0-9_-].
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
