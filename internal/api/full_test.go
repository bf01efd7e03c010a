package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/publish"
)

// full is a bundle with every endpoint (the delivery log, test events,
// backfill and recover), the publisher on the same JetStream, and a count
// of the errors the API logged.
type full struct {
	*bundle
	pub    *publish.Client
	errors *errorCount
}

func setupFull(t *testing.T) *full {
	t.Helper()
	return setupFullConfig(t, func(*api.Config) {})
}

// setupFullConfig is setupFull with changes to the API's configuration.
func setupFullConfig(t *testing.T, change func(*api.Config)) *full {
	t.Helper()
	f := &full{errors: &errorCount{}}
	f.bundle = setupConfig(t, registry.StoreConfig{}, func(n *testenv.NATS, cfg *api.Config) {
		pub, err := publish.New(n.Conn)
		if err != nil {
			t.Fatal(err)
		}
		backfiller, err := dispatch.New(n.JS, nil, dispatch.Config{Shards: 1})
		if err != nil {
			t.Fatal(err)
		}
		f.pub = pub
		cfg.Inspector = inspect.New(n.JS, state.NewMemory(state.BreakerPolicy{}), 1)
		cfg.Events, cfg.Backfiller = pub, backfiller
		cfg.Logger = slog.New(f.errors)
		change(cfg)
	})
	return f
}

// errorCount is a slog.Handler that counts the records at level ERROR.
type errorCount struct{ n atomic.Int64 }

func (e *errorCount) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }
func (e *errorCount) WithAttrs([]slog.Attr) slog.Handler           { return e }
func (e *errorCount) WithGroup(string) slog.Handler                { return e }
func (e *errorCount) Handle(context.Context, slog.Record) error {
	e.n.Add(1)
	return nil
}

// raw sends body as it is with the given Content-Type and bearer token
// (none if empty).
func (b *bundle) raw(t *testing.T, method, path, token, contentType, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

func locations(t *testing.T, data []byte) []string {
	t.Helper()
	var locs []string
	for _, e := range decode[problemJSON](t, data).Errors {
		locs = append(locs, e.Location)
	}
	return locs
}
