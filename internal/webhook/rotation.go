package webhook

import "time"

// Bounds of a secret rotation.
const (
	// DefaultRotationOverlap is how long the secrets a rotation replaces
	// stay valid unless the call, or WEBHOOKS_ROTATION_OVERLAP, says
	// otherwise.
	DefaultRotationOverlap = 24 * time.Hour
	// MaxRotationOverlap is the longest overlap a rotation may ask for.
	MaxRotationOverlap = 7 * 24 * time.Hour
	// MaxSecrets is the most secrets a webhook holds: the current one and
	// the newest of those still in their overlap.
	MaxSecrets = 3
)

// Rotate makes next (sealed, without expiry) w's current secret at now.
// The secrets it replaces that are still valid stay valid for overlap
// more, and no longer than they already were; with an overlap of 0 they
// end at once. Of those, the newest are kept, up to MaxSecrets in all.
// It returns when the replaced secrets stop being valid, or nil when none
// stays valid.
func (w *Webhook) Rotate(next Secret, overlap time.Duration, now time.Time) *time.Time {
	expires := now.Add(overlap).UTC()
	next.ExpiresAt = nil
	kept := []Secret{next}
	for _, old := range w.Secrets {
		if !old.validAt(now) {
			continue
		}
		if old.ExpiresAt == nil || old.ExpiresAt.After(expires) {
			old.ExpiresAt = &expires
		}
		if overlap > 0 && len(kept) < MaxSecrets {
			kept = append(kept, old)
		}
	}
	w.Secrets = kept
	if len(kept) == 1 {
		return nil
	}
	return &expires
}

// SigningSecrets are the secrets that sign a delivery at now, current
// first: the current one and, during a rotation's overlap, those rotated
// out that are still valid, newest first. Each keys one webhook-signature
// entry. The last keys X-Signature, so that a receiver that has not
// switched to the new secret keeps verifying through the overlap; the
// others key X-Signature-Next.
func (w *Webhook) SigningSecrets(now time.Time) []Secret {
	out := make([]Secret, 0, len(w.Secrets))
	for _, s := range w.Secrets {
		if s.validAt(now) {
			out = append(out, s)
		}
	}
	return out
}

// OverlapEnds is when the last secret a rotation replaced stops being
// valid: until then deliveries are signed with more than one secret. It is
// zero when no rotated-out secret is kept.
func (w *Webhook) OverlapEnds() time.Time {
	var end time.Time
	for _, s := range w.Secrets {
		if s.ExpiresAt != nil && s.ExpiresAt.After(end) {
			end = *s.ExpiresAt
		}
	}
	return end
}

// validAt reports whether s may sign at now: it has no expiry, or has not
// reached it.
func (s Secret) validAt(now time.Time) bool {
	return s.ExpiresAt == nil || s.ExpiresAt.After(now)
}
