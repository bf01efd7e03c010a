package app

import (
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/stream"
)

func env(kv map[string]string) Getenv { return func(k string) string { return kv[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.APIAddr != "127.0.0.1:8080" || c.PublisherAddr != "127.0.0.1:8081" || c.DeliveryTimeout != 7*time.Second ||
		c.DeliveryMaxHeaderBytes != 64<<10 || len(c.RetrySchedule) != 7 || c.Stream.Shards != 16 || c.MaxEventBytes != 256<<10 || c.RotationOverlap != 24*time.Hour ||
		!c.SendTraceparent || !c.LocalHandoff || !c.RemoteHandoff || c.Stream.Replicas != 1 || c.NatsSync != (stream.Sync{}) {
		t.Errorf("defaults = %+v", c)
	}
	if c.APITokens[DevAPIToken] != DevCompany {
		t.Errorf("outside production, the development token is bound to %q", DevCompany)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "production without key", env: map[string]string{"WEBHOOKS_ENV": "production", "WEBHOOKS_API_TOKENS": "t=c", "WEBHOOKS_INGEST_TOKENS": "i"}, want: "WEBHOOKS_SECRET_KEY"},
		{name: "production without api tokens", env: map[string]string{"WEBHOOKS_ENV": "production", "WEBHOOKS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "WEBHOOKS_INGEST_TOKENS": "i"}, want: "WEBHOOKS_API_TOKENS"},
		{name: "production without ingest tokens", env: map[string]string{"WEBHOOKS_ENV": "production", "WEBHOOKS_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "WEBHOOKS_API_TOKENS": "t=c"}, want: "WEBHOOKS_INGEST_TOKENS"},
		{name: "short key", env: map[string]string{"WEBHOOKS_SECRET_KEY": "c2hvcnQ="}, want: "WEBHOOKS_SECRET_KEY"},
		{name: "bad token entry", env: map[string]string{"WEBHOOKS_API_TOKENS": "tok=bad company"}, want: "WEBHOOKS_API_TOKENS"},
		{name: "bad schedule", env: map[string]string{"DELIVERY_RETRY_SCHEDULE": "5s,soon"}, want: "DELIVERY_RETRY_SCHEDULE"},
		{name: "bad timeout", env: map[string]string{"DELIVERY_TIMEOUT": "forever"}, want: "DELIVERY_TIMEOUT"},
		{name: "response headers bound too small", env: map[string]string{"DELIVERY_MAX_RESPONSE_HEADER_BYTES": "100"}, want: "DELIVERY_MAX_RESPONSE_HEADER_BYTES"},
		{name: "response headers bound not a number", env: map[string]string{"DELIVERY_MAX_RESPONSE_HEADER_BYTES": "64k"}, want: "DELIVERY_MAX_RESPONSE_HEADER_BYTES"},
		{name: "bad cidr", env: map[string]string{"DELIVERY_ALLOWED_CIDRS": "localhost"}, want: "DELIVERY_ALLOWED_CIDRS"},
		{name: "ack wait below a second", env: map[string]string{"ACK_WAIT": "500ms"}, want: "ACK_WAIT"},
		{name: "publish wait not a duration", env: map[string]string{"PUBLISH_WAIT": "ten"}, want: "PUBLISH_WAIT"},
		{name: "bad traceparent switch", env: map[string]string{"DELIVERY_TRACEPARENT": "maybe"}, want: "DELIVERY_TRACEPARENT"},
		{name: "bad handoff switch", env: map[string]string{"DELIVERY_LOCAL_HANDOFF": "sometimes"}, want: "DELIVERY_LOCAL_HANDOFF"},
		{name: "bad remote handoff switch", env: map[string]string{"DELIVERY_REMOTE_HANDOFF": "maybe"}, want: "DELIVERY_REMOTE_HANDOFF"},
		{name: "shards out of range", env: map[string]string{"DELIVERY_SHARDS": "0"}, want: "DELIVERY_SHARDS"},
		{name: "no replicas", env: map[string]string{"STREAM_REPLICAS": "0"}, want: "STREAM_REPLICAS"},
		{name: "too many replicas", env: map[string]string{"STREAM_REPLICAS": "6"}, want: "STREAM_REPLICAS"},
		{name: "replicas not a number", env: map[string]string{"STREAM_REPLICAS": "three"}, want: "STREAM_REPLICAS"},
		{name: "sync neither always nor a duration", env: map[string]string{"NATS_SYNC": "sometimes"}, want: "NATS_SYNC"},
		{name: "sync interval zero", env: map[string]string{"NATS_SYNC": "0s"}, want: "NATS_SYNC"},
		{name: "sync with an external server", env: map[string]string{"NATS_SYNC": "always", "NATS_URL": "nats://127.0.0.1:4222"}, want: "NATS_SYNC"},
		{name: "events kept shorter than their deduplication", env: map[string]string{"EVENTS_MAX_AGE": "5m"}, want: "EVENTS_MAX_AGE"},
		{name: "unknown log level", env: map[string]string{"LOG_LEVEL": "verbose"}, want: `LOG_LEVEL: "verbose" is not a log level: use one of debug, info, warn, error`},
		{name: "nats scheme nobody speaks", env: map[string]string{"NATS_URL": "foo://bar"}, want: `NATS_URL: foo://bar: scheme "foo" is not one NATS speaks: use nats://, tls://, ws://, wss://`},
		{name: "nats scheme wrong in a cluster list", env: map[string]string{"NATS_URL": "nats://a:4222, http://b:4222"}, want: `NATS_URL: http://b:4222: scheme "http"`},
		{name: "nats url without host", env: map[string]string{"NATS_URL": "nats://:4222"}, want: "NATS_URL: nats://:4222 names no host"},
		{name: "nats websocket mixed with plain", env: map[string]string{"NATS_URL": "ws://a:80,nats://b:4222"}, want: "NATS_URL: ws://a:80,nats://b:4222 mixes WebSocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadConfig error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestLoadConfigReadsReplicasAndSync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		replicas int
		sync     stream.Sync
	}{
		{name: "three replicas", env: map[string]string{"STREAM_REPLICAS": "3"}, replicas: 3},
		{name: "sync always", env: map[string]string{"NATS_SYNC": "always"}, replicas: 1, sync: stream.Sync{Always: true}},
		{name: "sync every 10s", env: map[string]string{"NATS_SYNC": "10s"}, replicas: 1, sync: stream.Sync{Interval: 10 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := LoadConfig(env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if c.Stream.Replicas != tt.replicas || c.NatsSync != tt.sync {
				t.Errorf("replicas %d, sync %+v; want %d, %+v", c.Stream.Replicas, c.NatsSync, tt.replicas, tt.sync)
			}
		})
	}
}

func TestLoadConfigNeverEchoesTokens(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(env(map[string]string{"WEBHOOKS_API_TOKENS": "supersecret-token=bad company"}))
	if err == nil || strings.Contains(err.Error(), "supersecret") {
		t.Fatalf("error %v must not repeat the token", err)
	}
}

func TestLoadConfigAcceptsNatsURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"nats://127.0.0.1:4222", "127.0.0.1:4222", "tls://nats.example:4443", "nats://a:4222,nats://b:4222", "wss://nats.example", "nats://user:pw@nats.example"} {
		if _, err := LoadConfig(env(map[string]string{"NATS_URL": u})); err != nil {
			t.Errorf("NATS_URL=%s: %v", u, err)
		}
	}
}

func TestLoadConfigNeverEchoesNatsCredentials(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"foo://someone:supersecret@bar", "nats://supersecret@:4222", "ws://a,nats://someone:supersecret@b"} {
		_, err := LoadConfig(env(map[string]string{"NATS_URL": u}))
		if err == nil || strings.Contains(err.Error(), "supersecret") || !strings.Contains(err.Error(), "redacted@") {
			t.Errorf("NATS_URL=%s: error %v must refuse it without repeating the credentials", u, err)
		}
	}
}
