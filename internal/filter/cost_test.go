package filter_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
)

// stringWork are filters whose work grows with the size of a string of
// the event; on a 200 KB field, each evaluation cost 15 to 92 ms while the
// old estimate (strings of 20 characters) let them be saved.
var stringWork = []struct{ name, expr string }{
	{name: "replace", expr: `event.currentValue.text.replace("a", "bb").size() > 10`},
	{name: "replace growing the text", expr: `event.currentValue.text.replace("", "` + strings.Repeat("x", 20) + `") != ""`},
	{name: "matches", expr: `event.currentValue.text.matches("(urgent|asap|now)+")`},
	{name: "contains a word", expr: `event.currentValue.text.contains("urgent")`},
	{name: "lowerAscii", expr: `event.currentValue.text.lowerAscii() == "urgent"`},
	{name: "split", expr: `event.currentValue.text.split(" ").exists(w, w == "urgent")`},
	{name: "split then size", expr: `size(event.currentValue.text.split("")) > 3`},
	{name: "join", expr: `event.currentValue.labels.join(",") == "a,b"`},
	{name: "concatenation", expr: `event.currentValue.text + "!" != "x"`},
	{name: "in a comprehension", expr: `event.currentValue.todoTags.exists(t, t.tag.title.contains("urgent"))`},
}

// cheap are typical filters: comparisons, membership, prefixes, string
// functions on the envelope's own bounded strings.
var cheap = []string{
	`event.type == "TODO_CREATED" && event.currentValue.todoList.id == "L1"`,
	`event.currentValue.todoTags.exists(t, t.tag.title == "urgent")`,
	`event.type.startsWith("TODO_") && event.projectId in ["p1", "p2"]`,
	`has(event.currentValue.todoList) && event.currentValue.todoList.title in ["Doing", "Review"]`,
	`event.currentValue.title.startsWith("Bug") || event.currentValue.title.endsWith("!")`,
	`event.type.contains("TAG") && event.type.matches("^TODO_(TAG|ASSIGNEE)_")`,
	`event.currentValue.todoList.id != event.previousValue.todoList.id`,
	`size(event.currentValue.title) > 3`,
	`timestamp(event.occurredAt).getHours("Europe/Paris") >= 9`,
	`event.currentValue.todoCustomFields.filter(f, f.customField.name == "Budget").map(f, f.value) != event.previousValue.todoCustomFields.filter(f, f.customField.name == "Budget").map(f, f.value)`,
}

// TestCheckBoundsStringWork checks that the estimate of Check costs string
// work for strings as long as an event may be, and still passes typical
// filters.
func TestCheckBoundsStringWork(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	for _, tt := range stringWork {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := c.Check(tt.expr)
			if !errors.Is(err, filter.ErrInvalid) || !strings.Contains(err.Error(), "too expensive") ||
				!strings.Contains(err.Error(), "as long as an event may be (262144 bytes)") {
				t.Errorf("Check = %v, want refused as too expensive, saying what the estimate assumes", err)
			}
		})
	}
	for _, expr := range cheap {
		if err := c.Check(expr); err != nil {
			t.Errorf("Check(%s) = %v, want nil", expr, err)
		}
	}
	// A smaller largest event makes a one-character search affordable,
	// never a replace.
	small := newCompiler(t, filter.WithMaxStringSize(4096))
	if err := small.Check(`event.currentValue.text.contains("urgent")`); err != nil {
		t.Errorf("Check(contains) with 4 KiB strings = %v, want nil", err)
	}
	if err := small.Check(stringWork[0].expr); !errors.Is(err, filter.ErrInvalid) {
		t.Errorf("Check(replace) with 4 KiB strings = %v, want refused", err)
	}
}

// withText is a COMMENT_CREATED event whose text has n bytes.
func withText(t *testing.T, n int) event.Envelope {
	t.Helper()
	words := strings.Repeat("lorem ipsum a ", n/14+1)[:n]
	cur, err := json.Marshal(map[string]any{
		"id": "c1", "text": words, "labels": strings.Split(words, " "),
		"todoTags": []any{map[string]any{"tag": map[string]any{"title": words}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := example(t, "COMMENT_CREATED")
	e.CurrentValue = cur
	return e
}

// TestCostLimitStopsStringWork checks the runtime bound: an evaluation of
// string work on a 200 KB field is stopped by the cost limit, which counts
// string sizes. Compile still accepts these (a filter saved before the
// estimate counted string sizes keeps working on small events).
func TestCostLimitStopsStringWork(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	big, small := withText(t, 200<<10), withText(t, 100)
	for _, tt := range stringWork {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := c.Compile(tt.expr)
			if err != nil {
				t.Fatalf("Program = %v, want a program: Compile keeps filters the estimate refuses", err)
			}
			if got, err := p.Match(&big); got || !errors.Is(err, filter.ErrCostLimit) {
				t.Errorf("on 200 KB: Match = %v, %v; want stopped by the cost limit", got, err)
			}
			if _, err := p.Match(&small); errors.Is(err, filter.ErrCostLimit) {
				t.Errorf("on 100 bytes: Match = %v; want it evaluated", err)
			}
		})
	}
}
