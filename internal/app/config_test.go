package app

import (
	"reflect"
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
	if want := (HTTPLimits{ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10, MaxConns: 1024}); c.HTTP != want {
		t.Errorf("HTTP limits %+v, want %+v", c.HTTP, want)
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
		{name: "duplicate api token", env: map[string]string{"WEBHOOKS_API_TOKENS": "tok-1=a,tok-2=b,tok-1=c"}, want: "WEBHOOKS_API_TOKENS: api tokens: entry 3 repeats the token of entry 1"},
		{name: "duplicate ingest token", env: map[string]string{"WEBHOOKS_INGEST_TOKENS": "tok-1,tok-1=*"}, want: "WEBHOOKS_INGEST_TOKENS: ingest tokens: entry 2 repeats the token of entry 1"},
		{name: "bad ingest token company", env: map[string]string{"WEBHOOKS_INGEST_TOKENS": "tok-1=a b"}, want: "WEBHOOKS_INGEST_TOKENS"},
		{name: "read timeout not a duration", env: map[string]string{"HTTP_READ_TIMEOUT": "soon"}, want: "HTTP_READ_TIMEOUT"},
		{name: "read timeout zero", env: map[string]string{"HTTP_READ_TIMEOUT": "0s"}, want: "HTTP_READ_TIMEOUT"},
		{name: "write timeout shorter than a read and a publish", env: map[string]string{"HTTP_WRITE_TIMEOUT": "30s"}, want: "HTTP_WRITE_TIMEOUT"},
		{name: "write timeout shorter than a raised publish wait", env: map[string]string{"HTTP_WRITE_TIMEOUT": "1m", "PUBLISH_WAIT": "1m"}, want: "HTTP_WRITE_TIMEOUT"},
		{name: "idle timeout zero", env: map[string]string{"HTTP_IDLE_TIMEOUT": "0s"}, want: "HTTP_IDLE_TIMEOUT"},
		{name: "header limit too small", env: map[string]string{"HTTP_MAX_HEADER_BYTES": "100"}, want: "HTTP_MAX_HEADER_BYTES"},
		{name: "no connections", env: map[string]string{"HTTP_MAX_CONNS": "0"}, want: "HTTP_MAX_CONNS"},
		{name: "negative connections", env: map[string]string{"HTTP_MAX_CONNS": "-1"}, want: "HTTP_MAX_CONNS: -1 must be an integer between 1 and 1000000"},
		{name: "write timeout zero", env: map[string]string{"HTTP_WRITE_TIMEOUT": "0s"}, want: "HTTP_WRITE_TIMEOUT"},
		{name: "write timeout above its bound", env: map[string]string{"HTTP_WRITE_TIMEOUT": "3h"}, want: "HTTP_WRITE_TIMEOUT"},
		{name: "negative in-flight attempts", env: map[string]string{"DELIVERY_MAX_IN_FLIGHT": "-5"}, want: "DELIVERY_MAX_IN_FLIGHT: -5 must be an integer between 1 and 65536"},
		{name: "no in-flight attempts", env: map[string]string{"DELIVERY_MAX_IN_FLIGHT": "0"}, want: "DELIVERY_MAX_IN_FLIGHT"},
		{name: "in-flight attempts not a number", env: map[string]string{"DELIVERY_MAX_IN_FLIGHT": "many"}, want: "DELIVERY_MAX_IN_FLIGHT"},
		{name: "negative workers", env: map[string]string{"DISPATCH_WORKERS": "-5"}, want: "DISPATCH_WORKERS"},
		{name: "too many workers", env: map[string]string{"DISPATCH_WORKERS": "5000"}, want: "DISPATCH_WORKERS"},
		{name: "event bound too small", env: map[string]string{"MAX_EVENT_BYTES": "100"}, want: "MAX_EVENT_BYTES"},
		{name: "event bound zero", env: map[string]string{"MAX_EVENT_BYTES": "0"}, want: "MAX_EVENT_BYTES"},
		{name: "no webhooks per company", env: map[string]string{"WEBHOOKS_PER_COMPANY_LIMIT": "0"}, want: "WEBHOOKS_PER_COMPANY_LIMIT"},
		{name: "timeout zero", env: map[string]string{"DELIVERY_TIMEOUT": "0s"}, want: "DELIVERY_TIMEOUT"},
		{name: "timeout above its bound", env: map[string]string{"DELIVERY_TIMEOUT": "2m"}, want: "DELIVERY_TIMEOUT"},
		{name: "negative endpoint concurrency", env: map[string]string{"DELIVERY_ENDPOINT_CONCURRENCY": "-1"}, want: "DELIVERY_ENDPOINT_CONCURRENCY"},
		{name: "negative endpoint rate", env: map[string]string{"DELIVERY_ENDPOINT_RATE": "-1"}, want: "DELIVERY_ENDPOINT_RATE"},
		{name: "endpoint rate above its bound", env: map[string]string{"DELIVERY_ENDPOINT_RATE": "1000001"}, want: "DELIVERY_ENDPOINT_RATE"},
		{name: "disable at once", env: map[string]string{"DELIVERY_DISABLE_AFTER": "0s"}, want: "DELIVERY_DISABLE_AFTER"},
		{name: "negative rotation overlap", env: map[string]string{"WEBHOOKS_ROTATION_OVERLAP": "-1s"}, want: "WEBHOOKS_ROTATION_OVERLAP"},
		{name: "rotation overlap above its bound", env: map[string]string{"WEBHOOKS_ROTATION_OVERLAP": "169h"}, want: "WEBHOOKS_ROTATION_OVERLAP"},
		{name: "negative shards", env: map[string]string{"DELIVERY_SHARDS": "-16"}, want: "DELIVERY_SHARDS"},
		{name: "attempts kept under a minute", env: map[string]string{"ATTEMPTS_MAX_AGE": "30s"}, want: "ATTEMPTS_MAX_AGE"},
		{name: "ack wait zero", env: map[string]string{"ACK_WAIT": "0s"}, want: "ACK_WAIT"},
		{name: "negative publish wait", env: map[string]string{"PUBLISH_WAIT": "-10s"}, want: "PUBLISH_WAIT"},
		{name: "portal link ttl zero", env: map[string]string{"PORTAL_LINK_TTL": "0s"}, want: "PORTAL_LINK_TTL"},
		{name: "negative portal session ttl", env: map[string]string{"PORTAL_SESSION_TTL": "-1h"}, want: "PORTAL_SESSION_TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadConfig(env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadConfig error = %v, want one naming %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "tok-1") {
				t.Errorf("the error shows a token: %v", err)
			}
		})
	}
}

// A value that is a setting of its own is kept, not replaced by a default.
func TestLoadConfigKeepsMeaningfulZeros(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env(map[string]string{
		"WEBHOOKS_ROTATION_OVERLAP": "0s", "DELIVERY_ENDPOINT_RATE": "0",
		"DELIVERY_TRACEPARENT": "false", "DELIVERY_LOCAL_HANDOFF": "false", "DELIVERY_REMOTE_HANDOFF": "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RotationOverlap != 0 || c.EndpointRate != 0 || c.SendTraceparent || c.LocalHandoff || c.RemoteHandoff {
		t.Errorf("overlap %s, rate %g, traceparent %t, local handoff %t, remote handoff %t; want 0s, 0 and every switch off",
			c.RotationOverlap, c.EndpointRate, c.SendTraceparent, c.LocalHandoff, c.RemoteHandoff)
	}
}

// LoadConfig of an empty environment is WithDefaults of an empty Config
// but for what LoadConfig starts at its defaults, so that the defaults are
// written once.
func TestWithDefaultsIsWhatLoadConfigFills(t *testing.T) {
	t.Parallel()
	loaded, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	filled := Config{RotationOverlap: loaded.RotationOverlap, SendTraceparent: true, LocalHandoff: true, RemoteHandoff: true}.WithDefaults()
	loaded.Logger, loaded.Getenv, filled.Logger = nil, nil, nil
	if !reflect.DeepEqual(loaded, filled) {
		t.Errorf("LoadConfig of nothing\n%+v\nWithDefaults of nothing\n%+v", loaded, filled)
	}
	if err := filled.validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
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

// Unless HTTP_WRITE_TIMEOUT is set, it covers a slow body read and a
// publish held for PUBLISH_WAIT, plus 20 s to answer.
func TestWriteTimeoutFollowsThePublishWait(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig(env(map[string]string{"HTTP_READ_TIMEOUT": "10s", "PUBLISH_WAIT": "1m"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := 90 * time.Second; c.HTTP.WriteTimeout != want {
		t.Errorf("write timeout %s, want %s", c.HTTP.WriteTimeout, want)
	}
}

// A bare ingest token (all companies, as before tokens could be bound)
// gets one start-up warning recommending token=*, however many there are.
func TestBareIngestTokensWarnOnce(t *testing.T) {
	t.Parallel()
	const warning = "WEBHOOKS_INGEST_TOKENS: a token listed without =companyId publishes for every company; write token=* to say so, or token=companyId to bind it to one"
	tests := []struct {
		tokens string
		want   int
	}{
		{tokens: "bare-1,bare-2,all=*,bound=co1", want: 1},
		{tokens: "all=*,bound=co1", want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.tokens, func(t *testing.T) {
			t.Parallel()
			_, log := startLogged(t, map[string]string{"WEBHOOKS_INGEST_TOKENS": tc.tokens})
			if n := log.count(warning); n != tc.want {
				t.Errorf("%d warnings, want %d", n, tc.want)
			}
		})
	}
}
