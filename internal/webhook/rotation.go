package webhook

import "time"

// Bounds of a secret rotation's overlap: how long the secrets it rotates
// out stay valid.
const (
	// DefaultRotationOverlap is the overlap unless the call, or
	// WEBHOOKS_ROTATION_OVERLAP, says otherwise.
	DefaultRotationOverlap = 24 * time.Hour
	// MaxRotationOverlap is the longest overlap a rotation may ask for.
	MaxRotationOverlap = 7 * 24 * time.Hour
)
