package webhook_test

import (
	"slices"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/webhook"
)

// secret is a sealed secret named by its bytes, expiring at exp (nil: the
// current one).
func secret(name string, exp *time.Time) webhook.Secret {
	return webhook.Secret{Sealed: []byte(name), ExpiresAt: exp}
}

func names(secrets []webhook.Secret) []string {
	var out []string
	for _, s := range secrets {
		out = append(out, string(s.Sealed))
	}
	return out
}

func TestRotate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name    string
		secrets []webhook.Secret
		overlap time.Duration
		want    []string     // secrets after, current first
		expires []*time.Time // of each, after
		ends    *time.Time   // what Rotate returns
	}{
		{
			name:    "first rotation keeps the old secret for the overlap",
			secrets: []webhook.Secret{secret("a", nil)},
			overlap: day,
			want:    []string{"b", "a"}, expires: []*time.Time{nil, ptr(now.Add(day))}, ends: ptr(now.Add(day)),
		},
		{
			name:    "no overlap ends the old secret at once",
			secrets: []webhook.Secret{secret("a", nil)},
			overlap: 0,
			want:    []string{"b"}, expires: []*time.Time{nil}, ends: nil,
		},
		{
			name:    "rotating again keeps an earlier expiry, shortens a later one",
			secrets: []webhook.Secret{secret("b", nil), secret("a", ptr(now.Add(time.Hour)))},
			overlap: day,
			want:    []string{"c", "b", "a"}, expires: []*time.Time{nil, ptr(now.Add(day)), ptr(now.Add(time.Hour))}, ends: ptr(now.Add(day)),
		},
		{
			name:    "an overlap shorter than one already running shortens it",
			secrets: []webhook.Secret{secret("b", nil), secret("a", ptr(now.Add(day)))},
			overlap: time.Hour,
			want:    []string{"c", "b", "a"}, expires: []*time.Time{nil, ptr(now.Add(time.Hour)), ptr(now.Add(time.Hour))}, ends: ptr(now.Add(time.Hour)),
		},
		{
			name:    "expired secrets are dropped",
			secrets: []webhook.Secret{secret("b", nil), secret("a", ptr(now.Add(-time.Second)))},
			overlap: day,
			want:    []string{"c", "b"}, expires: []*time.Time{nil, ptr(now.Add(day))}, ends: ptr(now.Add(day)),
		},
		{
			name:    "at most MaxSecrets, the newest kept",
			secrets: []webhook.Secret{secret("c", nil), secret("b", ptr(now.Add(day))), secret("a", ptr(now.Add(day)))},
			overlap: day,
			want:    []string{"d", "c", "b"}, expires: []*time.Time{nil, ptr(now.Add(day)), ptr(now.Add(day))}, ends: ptr(now.Add(day)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := &webhook.Webhook{Secrets: slices.Clone(tt.secrets)}
			next := string(rune('a' + len(tt.secrets)))
			ends := w.Rotate(secret(next, ptr(now)), tt.overlap, now)
			if got := names(w.Secrets); !slices.Equal(got, tt.want) {
				t.Fatalf("secrets %v, want %v", got, tt.want)
			}
			for i, s := range w.Secrets {
				if !sameTime(s.ExpiresAt, tt.expires[i]) {
					t.Errorf("secret %s expires %v, want %v", s.Sealed, s.ExpiresAt, tt.expires[i])
				}
			}
			if !sameTime(ends, tt.ends) {
				t.Errorf("Rotate = %v, want %v", ends, tt.ends)
			}
		})
	}
}

// During the overlap every valid secret signs, current first, so that the
// oldest keys X-Signature; after it, the current one alone.
func TestSigningSecrets(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	w := &webhook.Webhook{Secrets: []webhook.Secret{secret("a", nil)}}
	w.Rotate(secret("b", nil), 2*time.Hour, now)
	w.Rotate(secret("c", nil), time.Hour, now.Add(30*time.Minute))
	tests := []struct {
		name string
		at   time.Time
		want []string
	}{
		{name: "during the overlap", at: now.Add(time.Minute), want: []string{"c", "b", "a"}},
		{name: "at the end of both overlaps", at: now.Add(90 * time.Minute), want: []string{"c"}},
		{name: "after", at: now.Add(3 * time.Hour), want: []string{"c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := names(w.SigningSecrets(tt.at))
			if !slices.Equal(got, tt.want) {
				t.Errorf("signing secrets %v, want %v", got, tt.want)
			}
		})
	}
	if want := now.Add(90 * time.Minute); !w.OverlapEnds().Equal(want) {
		t.Errorf("OverlapEnds = %s, want %s", w.OverlapEnds(), want)
	}
	if !(&webhook.Webhook{Secrets: []webhook.Secret{secret("a", nil)}}).OverlapEnds().IsZero() {
		t.Error("a webhook never rotated has an overlap")
	}
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
