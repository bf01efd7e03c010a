package delivery

import (
	"net/http"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/webhook"
)

// unused stands in for the collaborators a test of New never calls: a
// call panics on the nil interface it embeds.
type unused struct {
	JetStream
	Resolver
	Registry
}

func configDeps() Deps {
	return Deps{JS: unused{}, Resolver: unused{}, Registry: unused{}, State: state.NewMemory(state.BreakerPolicy{}), Client: &http.Client{}}
}

// validConfig is the least a Config needs.
func validConfig() Config { return Config{Shards: 1, Timeout: 3 * time.Second} }

// New refuses a value out of bounds, naming its field, instead of
// replacing it with the default.
func TestNewRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"no shards", func(c *Config) { c.Shards = 0 }, "delivery: Config.Shards must be > 0, got 0"},
		{"no timeout", func(c *Config) { c.Timeout = 0 }, "delivery: Config.Timeout must be > 0, got 0s"},
		{"negative MaxInFlight", func(c *Config) { c.MaxInFlight = -5 }, "delivery: Config.MaxInFlight must be > 0, got -5"},
		{"negative PullBatch", func(c *Config) { c.PullBatch = -1 }, "delivery: Config.PullBatch must be > 0, got -1"},
		{"negative EndpointConcurrency", func(c *Config) { c.EndpointConcurrency = -2 }, "delivery: Config.EndpointConcurrency must be > 0, got -2"},
		{"negative SlotWait", func(c *Config) { c.SlotWait = -time.Second }, "delivery: Config.SlotWait must be > 0, got -1s"},
		{"negative EndpointRate", func(c *Config) { c.EndpointRate = -1 }, "delivery: Config.EndpointRate must be >= 0, got -1"},
		{"negative EndpointBurst", func(c *Config) { c.EndpointBurst = -3 }, "delivery: Config.EndpointBurst must be > 0, got -3"},
		{"negative UnhealthyAfter", func(c *Config) { c.UnhealthyAfter = -1 }, "delivery: Config.UnhealthyAfter must be > 0, got -1"},
		{"negative DisableAfter", func(c *Config) { c.DisableAfter = -time.Hour }, "delivery: Config.DisableAfter must be > 0, got -1h0m0s"},
		{"negative AttemptIndexSize", func(c *Config) { c.AttemptIndexSize = -1 }, "delivery: Config.AttemptIndexSize must be > 0, got -1"},
		{"negative Heartbeat", func(c *Config) { c.Heartbeat = -time.Second }, "delivery: Config.Heartbeat must be >= 0, got -1s"},
		{"negative StoreWait", func(c *Config) { c.StoreWait = -time.Second }, "delivery: Config.StoreWait must be > 0, got -1s"},
		{"negative StopTimeout", func(c *Config) { c.StopTimeout = -time.Second }, "delivery: Config.StopTimeout must be > 0, got -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := validConfig()
			tt.set(&cfg)
			_, err := New(configDeps(), cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("New returned the error %v, want %q", err, tt.want)
			}
		})
	}
}

// A zero field gets its default; a set one is kept.
func TestConfigWithDefaults(t *testing.T) {
	t.Parallel()
	d, err := New(configDeps(), validConfig())
	if err != nil {
		t.Fatal(err)
	}
	got := d.cfg
	want := Config{
		Shards: 1, Timeout: 3 * time.Second, MaxInFlight: DefaultMaxInFlight, PullBatch: DefaultPullBatch,
		UserAgent: DefaultUserAgent, EndpointConcurrency: webhook.DefaultConcurrency, SlotWait: DefaultSlotWait,
		EndpointBurst: 1, UnhealthyAfter: DefaultUnhealthyAfter, DisableAfter: DefaultDisableAfter,
		AttemptIndexSize: DefaultAttemptIndexSize, StoreWait: DefaultStoreWait, StopTimeout: 3*time.Second + StopGrace,
	}
	if got.Logger == nil || got.Metrics == nil || got.Tracer == nil {
		t.Errorf("Logger, Metrics, Tracer = %v, %v, %v; want each set", got.Logger, got.Metrics, got.Tracer)
	}
	got.Logger, got.Metrics, got.Tracer = nil, nil, nil
	if !sameConfig(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if cap(d.sem) != DefaultMaxInFlight || d.deps.Publisher == nil {
		t.Errorf("attempt slots %d, publisher %v; want %d and JetStream's", cap(d.sem), d.deps.Publisher, DefaultMaxInFlight)
	}

	set := Config{
		Shards: 2, Timeout: time.Second, MaxInFlight: 7, PullBatch: 9, UserAgent: "ua", EndpointConcurrency: 3,
		SlotWait: 2 * time.Second, EndpointRate: 4.5, EndpointBurst: 6, UnhealthyAfter: 8, DisableAfter: time.Hour,
		AttemptIndexSize: 10, Heartbeat: time.Second, StoreWait: 11 * time.Second, StopTimeout: 12 * time.Second,
	}
	if got := set.WithDefaults(); !sameConfig(got, set) {
		t.Errorf("WithDefaults changed set values:\n got %+v\nwant %+v", got, set)
	}
	if got := (Config{EndpointRate: 4.5}).WithDefaults().EndpointBurst; got != 4 {
		t.Errorf("EndpointBurst for a rate of 4.5 = %d, want 4", got)
	}
}

// sameConfig compares the comparable fields (all but Policy and the
// collaborators).
func sameConfig(a, b Config) bool {
	return a.Shards == b.Shards && a.Timeout == b.Timeout && a.MaxInFlight == b.MaxInFlight && a.PullBatch == b.PullBatch &&
		a.UserAgent == b.UserAgent && a.EndpointConcurrency == b.EndpointConcurrency && a.SlotWait == b.SlotWait &&
		a.EndpointRate == b.EndpointRate && a.EndpointBurst == b.EndpointBurst && a.UnhealthyAfter == b.UnhealthyAfter &&
		a.DisableAfter == b.DisableAfter && a.AttemptIndexSize == b.AttemptIndexSize && a.Heartbeat == b.Heartbeat &&
		a.StoreWait == b.StoreWait && a.StopTimeout == b.StopTimeout && a.SendTraceparent == b.SendTraceparent
}
