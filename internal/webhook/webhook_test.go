package webhook_test

import (
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/webhook"
)

func TestSetEnabled(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	earlier := now.Add(-time.Hour).UTC()
	enabled := func() *webhook.Webhook { return &webhook.Webhook{Enabled: true, Status: webhook.StatusHealthy} }
	disabled := func() *webhook.Webhook {
		return &webhook.Webhook{Status: webhook.StatusUnhealthy, DisabledAt: &earlier, DisabledReason: webhook.DisabledGone}
	}
	tests := []struct {
		name    string
		w       *webhook.Webhook
		enable  bool
		reason  string
		changed bool
		want    webhook.Webhook
	}{
		{name: "disable", w: enabled(), enable: false, reason: webhook.DisabledByUser, changed: true,
			want: webhook.Webhook{Status: webhook.StatusUnhealthy, DisabledAt: ptr(now.UTC()), DisabledReason: webhook.DisabledByUser}},
		{name: "disable what is disabled keeps when and why", w: disabled(), enable: false, reason: webhook.DisabledByUser,
			want: webhook.Webhook{Status: webhook.StatusUnhealthy, DisabledAt: &earlier, DisabledReason: webhook.DisabledGone}},
		{name: "enable", w: disabled(), enable: true, changed: true,
			want: webhook.Webhook{Enabled: true, Status: webhook.StatusHealthy}},
		{name: "enable what is enabled keeps its health", w: &webhook.Webhook{Enabled: true, Status: webhook.StatusUnhealthy}, enable: true,
			want: webhook.Webhook{Enabled: true, Status: webhook.StatusUnhealthy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if changed := tt.w.SetEnabled(tt.enable, tt.reason, now); changed != tt.changed {
				t.Errorf("SetEnabled reported a change: %t, want %t", changed, tt.changed)
			}
			got := tt.w
			if got.Enabled != tt.want.Enabled || got.Status != tt.want.Status || got.DisabledReason != tt.want.DisabledReason || !sameTime(got.DisabledAt, tt.want.DisabledAt) {
				t.Errorf("after: enabled %t, status %s, disabled at %v for %q; want %t, %s, %v, %q",
					got.Enabled, got.Status, got.DisabledAt, got.DisabledReason, tt.want.Enabled, tt.want.Status, tt.want.DisabledAt, tt.want.DisabledReason)
			}
		})
	}
}

func TestSetStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		w       webhook.Webhook
		status  string
		changed bool
		want    string
	}{
		{name: "a transition", w: webhook.Webhook{Enabled: true, Status: webhook.StatusHealthy}, status: webhook.StatusUnhealthy, changed: true, want: webhook.StatusUnhealthy},
		{name: "no transition", w: webhook.Webhook{Enabled: true, Status: webhook.StatusHealthy}, status: webhook.StatusHealthy, want: webhook.StatusHealthy},
		{name: "disabled stays unhealthy", w: webhook.Webhook{Status: webhook.StatusUnhealthy}, status: webhook.StatusHealthy, want: webhook.StatusUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := tt.w
			if changed := w.SetStatus(tt.status); changed != tt.changed || w.Status != tt.want {
				t.Errorf("SetStatus(%s) = %t, status %s; want %t, %s", tt.status, changed, w.Status, tt.changed, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
