// Package webhook defines the registry record of a customer's webhook and
// the rules of the domain on it: its validation, the matching of events to
// webhooks, its caps, the enable/disable transition and the rotation of
// its signing secrets. It is the leaf of the domain: of the module it
// imports only leaf packages (event, problem, signing).
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Health statuses, as Blue's API names them.
const (
	StatusHealthy   = "HEALTHY"
	StatusUnhealthy = "UNHEALTHY"
)

// Webhook is the record of one customer endpoint, as stored in the registry.
// Secrets hold encrypted secrets only; the plain secret never leaves the API
// response to the create (or rotate) call.
type Webhook struct {
	ID          string    `json:"id"`
	UID         string    `json:"uid"`
	CompanyID   string    `json:"companyId"`
	Name        string    `json:"name"`
	URL         string    `json:"url"`
	Status      string    `json:"status"`
	Enabled     bool      `json:"enabled"`
	Events      []string  `json:"events"`
	ProjectIDs  []string  `json:"projectIds"`
	Filter      string    `json:"filter,omitempty"`
	Secrets     []Secret  `json:"secrets"`
	CreatedByID string    `json:"createdById,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// DisabledAt is set while the webhook is disabled: jobs for it are parked
	// in DEAD from then on and can be replayed when it is enabled again.
	DisabledAt *time.Time `json:"disabledAt,omitempty"`
	// DisabledReason says why: DisabledByUser, DisabledGone or
	// DisabledFailing.
	DisabledReason string `json:"disabledReason,omitempty"`
	// RateLimit (deliveries per second) and MaxConcurrency (attempts in
	// flight) are the webhook's own caps, across all deliverers. 0 is
	// unset: the process-wide default applies (see Limits).
	RateLimit      float64 `json:"rateLimit,omitempty"`
	MaxConcurrency int     `json:"maxConcurrency,omitempty"`
}

// Secret is one signing secret, sealed with the registry's key. The current
// secret has no expiry; a rotated-out one stays valid until ExpiresAt.
type Secret struct {
	Sealed    []byte     `json:"sealed"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
}

// Why a webhook was disabled (DisabledReason).
const (
	DisabledByUser  = "user"    // the API or the portal
	DisabledGone    = "gone"    // the endpoint answered 410 Gone
	DisabledFailing = "failing" // it failed for DELIVERY_DISABLE_AFTER
)

// SetEnabled switches w on or off at now and reports whether that changed
// it. Disabling marks it UNHEALTHY (as Blue does) and records when and
// why (reason), so that the jobs parked since can be found; enabling
// clears both and makes it HEALTHY again.
func (w *Webhook) SetEnabled(enabled bool, reason string, now time.Time) bool {
	if w.Enabled == enabled {
		return false
	}
	w.Enabled = enabled
	if enabled {
		w.DisabledAt, w.DisabledReason, w.Status = nil, "", StatusHealthy
		return true
	}
	at := now.UTC()
	w.DisabledAt, w.DisabledReason, w.Status = &at, reason, StatusUnhealthy
	return true
}

// SetStatus records a health transition and reports whether it changed w.
// A disabled webhook keeps the UNHEALTHY it was disabled with.
func (w *Webhook) SetStatus(status string) bool {
	if w.Status == status || !w.Enabled {
		return false
	}
	w.Status = status
	return true
}

// Key is the registry key of a webhook: "<companyId>.<webhookId>".
func Key(companyID, id string) string { return companyID + "." + id }

// Key returns the registry key of w.
func (w *Webhook) Key() string { return Key(w.CompanyID, w.ID) }

// Matches reports whether an event of the given type in the given project is
// addressed to w by its scope. The filter expression, if any, is evaluated by
// the caller. Empty lists mean "all". A disabled webhook still matches: its
// jobs are parked in DEAD so that enabling it can replay them.
func (w *Webhook) Matches(eventType, projectID string) bool {
	if len(w.Events) > 0 && !slices.Contains(w.Events, eventType) {
		return false
	}
	if len(w.ProjectIDs) > 0 && !slices.Contains(w.ProjectIDs, projectID) {
		return false
	}
	return true
}

// NewID returns a new webhook id: "wh_", 12 hex digits of the creation time
// in milliseconds, then 12 random hex digits. Ids sort by creation time, which
// is what list paging relies on.
func NewID() string {
	return fmt.Sprintf("wh_%012x%s", time.Now().UnixMilli(), randomHex(6))
}

// NewUID returns a new 32-hex-digit uid, the form Blue's payloads carry.
func NewUID() string { return randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
