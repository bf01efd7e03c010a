package filter_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/filter"
)

// maxFuzzDuration bounds one fuzz input: compiling and evaluating any
// expression on any value must end long before it. An evaluation at the
// default cost limit takes tens of milliseconds at worst.
const maxFuzzDuration = 2 * time.Second

// FuzzCompileEval feeds arbitrary expression text and an arbitrary
// currentValue to Check, Compile and Match: none may panic, they agree (but
// for the cost estimate, which only Check enforces), every
// refusal is an *InvalidError, every evaluation failure wraps ErrEval, and
// every input ends in bounded time.
func FuzzCompileEval(f *testing.F) {
	c, err := filter.NewCompiler(filter.WithCacheSize(256))
	if err != nil {
		f.Fatal(err)
	}
	base := example(f, "TODO_CUSTOM_FIELD_VALUE_CHANGED")
	values := []string{string(base.CurrentValue), `null`, `{}`, `[]`, `"x"`, `1e308`, `{"todoTags": [{"tag": {"title": "Urgent"}}]}`,
		`{"todoList": {"id": "L1"}}`, `{"a": [[[[[]]]]]}`, `{"todoTags": 3}`, `{"id": `}
	exprs := []string{
		`event.currentValue.todoList.id == "L1"`,
		`has(event.currentValue.todoList) && event.currentValue.todoList.id == "L1"`,
		`event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`,
		`event.currentValue.todoUsers.exists(u, u.userId == "u1")`,
		`event.currentValue.todoCustomFields.filter(f, f.customField.name == "Budget").map(f, f.value) != event.previousValue.todoCustomFields.filter(f, f.customField.name == "Budget").map(f, f.value)`,
		`event.currentValue.todoTags.exists(a, event.currentValue.todoTags.exists(b, a == b))`,
		`event.type.startsWith("TODO_") && event.projectId in ["p1", "p2"]`,
		`timestamp(event.occurredAt) > timestamp("2022-12-05T00:00:00Z")`,
		`event.currentValue.text.lowerAscii().contains("urgent")`,
		`event.currentValue.title.matches("^[A-Z]+$")`,
		`size(event) == 8 && event.all(k, k != "")`,
		`event == {}`, `event.type ==`, `evnt.type`, `event.type`, `1 / 0 == 1`, `"a".format([event]) == "a"`,
		`event.currentValue.map(k, k).size() > 0`, `dyn(event.currentValue) == dyn(event.previousValue)`,
	}
	for i, expr := range exprs {
		f.Add(expr, []byte(values[i%len(values)]))
	}
	for _, v := range values {
		f.Add(`event.currentValue == event.previousValue`, []byte(v))
	}
	f.Fuzz(func(t *testing.T, expr string, value []byte) {
		start := time.Now()
		checkErr := c.Check(expr)
		p, err := c.Compile(expr)
		// They agree, but for an estimate over the limit, which refuses a
		// filter to save and not one saved.
		expensive := checkErr != nil && strings.HasPrefix(checkErr.Error(), "the expression is too expensive")
		if (checkErr == nil) != (err == nil) && !(expensive && err == nil) {
			t.Fatalf("Check = %v but Program = %v", checkErr, err)
		}
		if err != nil {
			var inv *filter.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, filter.ErrInvalid) || len(inv.Issues) == 0 {
				t.Fatalf("Program error %v (%T); want an *InvalidError", err, err)
			}
			if msg := err.Error(); msg == "" || strings.Contains(msg, "<input>") {
				t.Fatalf("unhelpful message %q", msg)
			}
		} else {
			e := base
			e.CurrentValue = value
			got, err := p.Match(&e)
			if err != nil && (got || !errors.Is(err, filter.ErrEval)) {
				t.Fatalf("Match = %v, %v; want false and an error wrapping ErrEval", got, err)
			}
			a, aerr := filter.NewActivation(&e)
			if aerr != nil {
				t.Fatal(aerr)
			}
			got2, err2 := p.MatchContext(t.Context(), a)
			if got2 != got || (err == nil) != (err2 == nil) {
				t.Fatalf("MatchContext = %v, %v; Match = %v, %v", got2, err2, got, err)
			}
		}
		if d := time.Since(start); d > maxFuzzDuration {
			t.Fatalf("took %v", d)
		}
	})
}
