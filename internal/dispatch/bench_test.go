package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

const (
	benchCompanies = 1000
	benchPerCo     = 100 // 100,000 webhooks
)

// fillRegistry writes benchCompanies x benchPerCo webhooks straight to the
// KV bucket's subjects with async publishes. A quarter carry a filter, a
// third are scoped to event types, a third to projects.
func fillRegistry(b *testing.B, js jetstream.JetStream, box *seal.Box) {
	b.Helper()
	sealed := box.Seal([]byte("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	now := time.Now().UTC()
	var futures []jetstream.PubAckFuture
	for c := range benchCompanies {
		for i := range benchPerCo {
			w := webhook.Webhook{
				ID: fmt.Sprintf("wh_%04d_%03d", c, i), UID: "u", CompanyID: fmt.Sprintf("co%04d", c),
				Name: "bench", URL: "https://example.com/hook", Status: webhook.StatusHealthy, Enabled: true,
				Secrets: []webhook.Secret{{Sealed: sealed}}, CreatedAt: now, UpdatedAt: now,
			}
			switch i % 3 {
			case 1:
				w.Events = []string{"TODO_CREATED", "COMMENT_CREATED"}
			case 2:
				w.ProjectIDs = []string{"p1", "p2"}
			}
			if i%4 == 0 {
				w.Filter = `event.currentValue.todoList.id == "L1"`
			}
			data, _ := json.Marshal(&w)
			f, err := js.PublishAsync("$KV."+stream.Registry+"."+w.Key(), data)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
	}
}

// BenchmarkResolveAndSelect measures what the dispatcher does per event
// once the registry is cached: resolve the company's webhooks (100 of
// 100,000 across 1,000 companies) and run scope and filter on each.
func BenchmarkResolveAndSelect(b *testing.B) {
	n := testenv.StartNATS(b, 1)
	kv, box := n.Registry(b)
	fillRegistry(b, n.JS, box)
	filters, _ := filter.NewCompiler()
	cache := registry.NewCache(kv, registry.CacheConfig{Box: box, CompileFilter: filters.Compile})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = cache.Run(ctx) }()
	<-cache.Ready()

	cat, _ := event.LoadCatalogue()
	var example event.Envelope
	for _, t := range cat.Types() {
		if t.Name == "TODO_CREATED" {
			_ = json.Unmarshal(t.Example, &example)
		}
	}
	start := time.Now()
	for c := range benchCompanies {
		if _, err := cache.Company(ctx, fmt.Sprintf("co%04d", c)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/benchCompanies, "µs/cold-company")
	log := slog.New(slog.DiscardHandler)
	events := make([]event.Envelope, benchCompanies)
	for c := range events {
		events[c] = example
		events[c].CompanyID = fmt.Sprintf("co%04d", c)
		events[c].ProjectID = []string{"p1", "p9"}[c%2]
	}
	selected := 0
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		e := &events[i%len(events)]
		i++
		comp, err := cache.Company(ctx, e.CompanyID)
		if err != nil {
			b.Fatal(err)
		}
		sel := NewSelector(e, log)
		for _, w := range comp.Hooks {
			if sel.Selects(ctx, w) {
				selected++
			}
		}
	}
	b.ReportMetric(float64(selected)/float64(b.N), "selected/event")
}
