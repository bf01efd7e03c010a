package dispatch

import (
	"strings"
	"testing"
	"time"
)

// A zero field takes its default; a value out of range is refused, naming
// the field, instead of being replaced by the default.
func TestConfig(t *testing.T) {
	t.Parallel()
	got := Config{Shards: 1}.WithDefaults()
	if got.Workers != DefaultWorkers || got.SettleWait != DefaultSettleWait || got.StoreWait != DefaultStoreWait || got.Logger == nil || got.Tracer == nil {
		t.Errorf("WithDefaults = %+v", got)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no shards", cfg: Config{}, want: "Config.Shards"},
		{name: "negative workers", cfg: Config{Shards: 1, Workers: -5}, want: "Config.Workers"},
		{name: "negative settle wait", cfg: Config{Shards: 1, SettleWait: -time.Second}, want: "Config.SettleWait"},
		{name: "negative store wait", cfg: Config{Shards: 1, StoreWait: -time.Second}, want: "Config.StoreWait"},
		{name: "negative heartbeat", cfg: Config{Shards: 1, Heartbeat: -time.Second}, want: "Config.Heartbeat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := New(nil, nil, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
