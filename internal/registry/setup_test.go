package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// bundle is a registry bucket on a real JetStream with the sealing box.
type bundle struct {
	kv  jetstream.KeyValue
	box *seal.Box
}

func setup(t *testing.T) *bundle {
	t.Helper()
	kv, box := testenv.StartNATS(t, 1).Registry(t)
	return &bundle{kv: kv, box: box}
}

func (b *bundle) store(t *testing.T, cfg registry.StoreConfig) *registry.Store {
	t.Helper()
	cfg.Box = b.box
	s, err := registry.NewStore(b.kv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cache starts a Cache and waits until it is ready; it stops, and Run has
// returned, when the test ends.
func (b *bundle) cache(t *testing.T, cfg registry.CacheConfig) *registry.Cache {
	t.Helper()
	if cfg.Box == nil {
		cfg.Box = b.box
	}
	c := registry.NewCache(b.kv, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache Run: %v", err)
		}
	})
	select {
	case <-c.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("cache not ready within 10s")
	}
	return c
}

func newHook(company, name string) *webhook.Webhook {
	return &webhook.Webhook{
		CompanyID: company, Name: name, URL: "https://example.com/" + name,
		Enabled: true, Events: []string{"TODO_CREATED"},
	}
}

func mustCreate(t *testing.T, s *registry.Store, w *webhook.Webhook, secret string) (*webhook.Webhook, string) {
	t.Helper()
	created, plain, err := s.Create(t.Context(), w, secret)
	if err != nil {
		t.Fatalf("create %s: %v", w.Name, err)
	}
	return created, plain
}

// syncCompany is what a reader does for read-your-writes: Sync, then resolve.
func syncCompany(t *testing.T, c *registry.Cache, company string) *registry.Company {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("sync: %v", err)
	}
	comp, err := c.Company(ctx, company)
	if err != nil {
		t.Fatalf("company %s: %v", company, err)
	}
	return comp
}

func names(comp *registry.Company) map[string]string {
	out := make(map[string]string, len(comp.Hooks))
	for _, e := range comp.Hooks {
		out[e.ID] = e.Name
	}
	return out
}
