package job

import (
	"strings"
	"testing"
	"time"
)

func TestDeliveryIDRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		webhookID string
		wantHook  string
	}{
		{name: "standard webhook id", webhookID: "wh_01a21ddca12927e8dc4b5379", wantHook: "wh_01a21ddca12927e8dc4b5379"},
		{name: "id with underscores", webhookID: "wh_0001_002", wantHook: "wh_0001_002"},
		{name: "too long to fit", webhookID: strings.Repeat("w", 64), wantHook: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := DeliveryID("evt_1", tt.webhookID, at)
			if len(id) > 64 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
				t.Fatalf("DeliveryID = %q: not a valid subject token", id)
			}
			if id != DeliveryID("evt_1", tt.webhookID, at) {
				t.Fatal("DeliveryID is not deterministic")
			}
			if id == DeliveryID("evt_2", tt.webhookID, at) {
				t.Fatal("different events share a delivery id")
			}
			gotAt, gotHook, ok := ParseDeliveryID(id)
			if !ok || !gotAt.Equal(at) || gotHook != tt.wantHook {
				t.Fatalf("ParseDeliveryID(%q) = %v, %q, %v; want %v, %q", id, gotAt, gotHook, ok, at, tt.wantHook)
			}
		})
	}
	for _, bad := range []string{"", "dlv_", "dlv_zz", "evt_0000000000000000000000000", "dlv_0000000g0000000000000000"} {
		if _, _, ok := ParseDeliveryID(bad); ok {
			t.Errorf("ParseDeliveryID(%q) ok, want not ok", bad)
		}
	}
}

func FuzzParseDeliveryID(f *testing.F) {
	f.Add(DeliveryID("evt_1", "wh_1", time.Unix(1795797328, 0)))
	f.Add("dlv_")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = ParseDeliveryID(s) // never panics
	})
}

// Delivery ids must not change between versions: a job re-dispatched after
// an upgrade has to get the id (and the Nats-Msg-Id) it had before. The
// values were computed independently (Python hashlib) from the definition.
func TestDeliveryIDGolden(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	tests := []struct{ event, webhook, want string }{
		{"evt_1", "wh_01a21ddca12927e8dc4b5379", "dlv_6b0954a0020d0ee8f7485e1a_wh_01a21ddca12927e8dc4b5379"},
		{"evt_01M8F6E983WFKR5R0MJDAGEXP0", strings.Repeat("w", 64), "dlv_6b0954a0bbf8db2bb9b518d9"},
	}
	for _, tt := range tests {
		if got := DeliveryID(tt.event, tt.webhook, at); got != tt.want {
			t.Errorf("DeliveryID(%q, %q) = %q, want %q", tt.event, tt.webhook, got, tt.want)
		}
	}
}
