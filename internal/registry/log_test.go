package registry_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/testenv"
)

// A webhook left out of a company (its filter does not compile without a
// compiler) is logged with the context of the read that resolved it, so
// that the line carries that read's trace.
func TestSkippedWebhookIsLoggedWithTheReadersTrace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	filtered := newHook(co, "filtered")
	filtered.Filter = `event.projectId == "p1"`
	mustCreate(t, s, filtered, "")
	logs := &testenv.Traces{}
	c := b.cache(t, registry.CacheConfig{Logger: slog.New(logs)})
	ctx, cancel := context.WithTimeout(testenv.WithTrace(t.Context()), 10*time.Second)
	defer cancel()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Company(ctx, co); err != nil {
		t.Fatal(err)
	}
	if got := logs.Of("registry: skipping webhook"); got != testenv.TraceID {
		t.Errorf("logged with trace %q, want the reader's %s", got, testenv.TraceID)
	}
}
