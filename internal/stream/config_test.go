package stream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/stream"
)

// A zero field takes its default; a value out of range is refused, naming
// the field, instead of being replaced by the default.
func TestConfig(t *testing.T) {
	t.Parallel()
	if got := (stream.Config{}).WithDefaults(); got != stream.DefaultConfig() || got.Shards != stream.DefaultShards || got.AckWait != stream.DefaultAckWait {
		t.Errorf("WithDefaults = %+v", got)
	}
	if err := stream.DefaultConfig().Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
	tests := []struct {
		name   string
		change func(*stream.Config)
		want   string
	}{
		{name: "negative shards", change: func(c *stream.Config) { c.Shards = -1 }, want: "Shards"},
		{name: "too many shards", change: func(c *stream.Config) { c.Shards = stream.MaxShards + 1 }, want: "Shards"},
		{name: "negative events age", change: func(c *stream.Config) { c.EventsMaxAge = -time.Hour }, want: "EventsMaxAge"},
		{name: "negative dead age", change: func(c *stream.Config) { c.DeadMaxAge = -time.Hour }, want: "DeadMaxAge"},
		{name: "negative attempts age", change: func(c *stream.Config) { c.AttemptsMaxAge = -time.Hour }, want: "AttemptsMaxAge"},
		{name: "short duplicate window", change: func(c *stream.Config) { c.DuplicateWindow = time.Minute }, want: "DuplicateWindow"},
		{name: "short ack wait", change: func(c *stream.Config) { c.AckWait = time.Millisecond }, want: "AckWait"},
		{name: "negative ack pending", change: func(c *stream.Config) { c.ShardMaxAckPending = -1 }, want: "ShardMaxAckPending"},
		{name: "too many replicas", change: func(c *stream.Config) { c.Replicas = stream.MaxReplicas + 1 }, want: "Replicas"},
		{name: "events kept shorter than deduplicated", change: func(c *stream.Config) { c.EventsMaxAge = 5 * time.Minute }, want: "EventsMaxAge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := stream.DefaultConfig()
			tt.change(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}
