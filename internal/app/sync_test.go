package app

import (
	"log/slog"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/stream"
)

// NATS_SYNC reaches the running embedded server: its JetStream
// configuration, read back, says so.
func TestNatsSyncReachesTheEmbeddedServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sync string
		want stream.Sync
	}{
		{name: "unset: the server's default", sync: "", want: stream.Sync{Interval: 2 * time.Minute}},
		{name: "always", sync: "always", want: stream.Sync{Always: true, Interval: 2 * time.Minute}},
		{name: "an interval", sync: "10s", want: stream.Sync{Interval: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(env(map[string]string{"DATA_DIR": t.TempDir(), "NATS_SYNC": tt.sync}))
			if err != nil {
				t.Fatal(err)
			}
			nc, emb, err := connectNATS(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer emb.Shutdown()
			defer nc.Close()
			if got := emb.Sync(); got != tt.want {
				t.Errorf("the embedded server syncs %+v, want %+v", got, tt.want)
			}
		})
	}
}
