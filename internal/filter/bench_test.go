package filter_test

import (
	"encoding/json"
	"testing"

	"github.com/bluehq/webhooks/internal/filter"
)

// BenchmarkMatch evaluates typical filters on the catalogue's TODO_CREATED
// event. Match decodes the values it reads on every call; MatchActivation on
// a shared Activation shows the cost of the evaluation alone.
func BenchmarkMatch(b *testing.B) {
	e := example(b, "TODO_CREATED")
	c, err := filter.NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	benchmarks := []struct {
		name string
		expr string
	}{
		{name: "list", expr: `event.type == "TODO_CREATED" && event.currentValue.todoList.id == "clakt9v5t000kvt64f563l90l"`},
		{name: "type", expr: `event.type.startsWith("TODO_") && event.projectId in ["p1", "clakt90vu000bvt64hhffqleq"]`},
		{name: "tag", expr: `event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`},
	}
	for _, bm := range benchmarks {
		p, err := c.Compile(bm.expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Match(&e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bm.name+"/shared-activation", func(b *testing.B) {
			a, err := filter.NewActivation(&e)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.MatchActivation(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMatchCostLimit is the worst case of one evaluation at the default
// cost limit: a nested comprehension over a 10,000-item list, stopped by the
// limit.
func BenchmarkMatchCostLimit(b *testing.B) {
	items := make([]any, 10_000)
	for i := range items {
		items[i] = map[string]any{"id": i}
	}
	cur, err := json.Marshal(map[string]any{"todoTags": items})
	if err != nil {
		b.Fatal(err)
	}
	e := example(b, "TODO_CREATED")
	e.CurrentValue = cur
	c, err := filter.NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	p, err := c.Compile(`event.currentValue.todoTags.exists(a, event.currentValue.todoTags.exists(b, a.id == b.id + 0.5))`)
	if err != nil {
		b.Fatal(err)
	}
	a, err := filter.NewActivation(&e)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.MatchActivation(a); err == nil {
			b.Fatal("no error")
		}
	}
}

// BenchmarkCompileCached is the registry's path: the expression was compiled
// before.
func BenchmarkCompileCached(b *testing.B) {
	c, err := filter.NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	const expr = `event.type == "TODO_CREATED" && event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`
	if _, err := c.Compile(expr); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compile(expr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileUncached compiles with the cache disabled, for comparison.
func BenchmarkCompileUncached(b *testing.B) {
	c, err := filter.NewCompiler(filter.WithCacheSize(0))
	if err != nil {
		b.Fatal(err)
	}
	const expr = `event.type == "TODO_CREATED" && event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compile(expr); err != nil {
			b.Fatal(err)
		}
	}
}
