// Package attempt is the delivery log's record: one per delivery attempt,
// kept durably in the ATTEMPTS stream and, capped, per webhook in the shared
// state for quick listing.
package attempt

import "time"

// Outcomes of an attempt.
const (
	Delivered = "delivered" // 2xx: done
	Retry     = "retry"     // failed; the next attempt is scheduled
	Dead      = "dead"      // failed; attempts exhausted, copied to DEAD
	Parked    = "parked"    // webhook disabled; copied to DEAD for replay
	Deferred  = "deferred"  // not attempted: circuit open; rescheduled
	Dropped   = "dropped"   // webhook deleted
	// HandedBack: not attempted: the endpoint was at its in-flight cap;
	// the job goes back to its shard for a moment (never logged as an
	// attempt, only counted).
	HandedBack = "handed_back"
)

// MaxResponse is how much of the response body a record keeps.
const MaxResponse = 1024

// Record is one attempt.
type Record struct {
	DeliveryID    string     `json:"deliveryId"`
	WebhookID     string     `json:"webhookId"`
	CompanyID     string     `json:"-"`
	EventID       string     `json:"eventId"`
	EventType     string     `json:"eventType"`
	Attempt       int        `json:"attempt"`
	At            time.Time  `json:"at"`
	Outcome       string     `json:"outcome"`
	StatusCode    int        `json:"statusCode,omitempty"`
	LatencyMs     float64    `json:"latencyMs"`
	ErrorClass    string     `json:"errorClass,omitempty"`
	Error         string     `json:"error,omitempty"`
	Response      string     `json:"response,omitempty" doc:"The first 1 KiB of the response body."`
	TraceID       string     `json:"traceId,omitempty"`
	NextAttemptAt *time.Time `json:"nextAttemptAt,omitempty"`
}
