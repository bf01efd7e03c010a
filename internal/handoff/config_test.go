package handoff

import (
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/stream"
)

// A zero field takes its default; a value out of range is refused, naming
// the field, instead of being replaced by the default.
func TestConfig(t *testing.T) {
	t.Parallel()
	if got := (Config{}).WithDefaults(); got.StoreWait != dispatch.DefaultStoreWait || got.Silence != stream.DefaultAckWait {
		t.Errorf("WithDefaults = %+v", got)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no publisher", cfg: Config{}, want: "Config.Publisher"},
		{name: "negative store wait", cfg: Config{Publisher: nopPublisher{}, StoreWait: -time.Second}, want: "Config.StoreWait"},
		{name: "negative silence", cfg: Config{Publisher: nopPublisher{}, Silence: -time.Second}, want: "Config.Silence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewClient(nil, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

// nopPublisher is a stream.AsyncPublisher for checks that never publish.
type nopPublisher struct{ stream.AsyncPublisher }
