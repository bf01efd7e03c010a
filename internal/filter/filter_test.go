package filter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/registry"
)

// Compile as a method value is what the registry cache takes.
var _ registry.FilterCompiler = (*filter.Compiler)(nil).Compile

func newCompiler(t testing.TB, opts ...filter.Option) *filter.Compiler {
	t.Helper()
	c, err := filter.NewCompiler(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFilterSelectsEvents checks that each filter matches exactly the intended
// events, and fails (not matched) exactly where a key it reads is missing.
func TestFilterSelectsEvents(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	evs := events(t)
	tests := []struct {
		name  string
		expr  string
		match []string // events it matches; it is false on the others
		errs  []string // events on which it fails with ErrEval
	}{
		{
			name:  "todo in list, guarded",
			expr:  `has(event.currentValue.todoList) && event.currentValue.todoList.id == "L1"`,
			match: []string{"created-L1", "moved-L2-L1"},
		},
		{
			name:  "todo in list, unguarded fails on values without todoList",
			expr:  `event.currentValue.todoList.id == "L1"`,
			match: []string{"created-L1", "moved-L2-L1"},
			errs:  []string{"comment-created", "list-created", "webhook-disabled", "checklist-created"},
		},
		{
			name:  "moved out of a list; && ignores the error on other types",
			expr:  `event.type == "TODO_MOVED" && event.previousValue.todoList.id == "L2"`,
			match: []string{"moved-L2-L1"},
		},
		{
			name:  "list title matches a regular expression",
			expr:  `has(event.currentValue.todoList) && event.currentValue.todoList.title.matches("^(In progress|Doing)$")`,
			match: []string{"moved-L2-L1"},
		},
		{
			name:  "tagged",
			expr:  `event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`,
			match: []string{"created-L1", "tag-added"},
			errs:  []string{"comment-created", "list-created", "webhook-disabled", "checklist-created"},
		},
		{
			name:  "tag just added",
			expr:  `event.type == "TODO_TAG_ADDED" && event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`,
			match: []string{"tag-added"},
		},
		{
			name:  "assigned to a user",
			expr:  `has(event.currentValue.todoUsers) && event.currentValue.todoUsers.exists(u, u.userId == "` + graceID + `")`,
			match: []string{"created-L2", "assignee-added"},
		},
		{
			name:  "assigned to a user by username",
			expr:  `has(event.currentValue.todoUsers) && event.currentValue.todoUsers.map(u, u.user.username).exists(n, n == "grace")`,
			match: []string{"created-L2", "assignee-added"},
		},
		{
			name:  "user newly assigned",
			expr:  `event.type == "TODO_ASSIGNEE_ADDED" && event.currentValue.todoUsers.exists(u, u.userId == "` + graceID + `")`,
			match: []string{"assignee-added"},
		},
		{
			name: "custom field value changed",
			expr: `has(event.previousValue.todoCustomFields) &&
				event.currentValue.todoCustomFields.filter(f, f.customFieldId == "` + budgetID + `").map(f, f.value) !=
				event.previousValue.todoCustomFields.filter(f, f.customFieldId == "` + budgetID + `").map(f, f.value)`,
			match: []string{"budget-changed"},
		},
		{
			name: "custom field value changed, nested comprehension by name",
			expr: `event.type.startsWith("TODO_") && has(event.previousValue.todoCustomFields) &&
				event.currentValue.todoCustomFields.exists(c, c.customField.name == "Budget" &&
					event.previousValue.todoCustomFields.exists(p, p.customFieldId == c.customFieldId && p.value != c.value))`,
			match: []string{"budget-changed"},
		},
		{
			name:  "custom field value above a number (JSON double vs int literal)",
			expr:  `has(event.currentValue.todoCustomFields) && event.currentValue.todoCustomFields.exists(f, f.customField.name == "Budget" && f.value > 40000)`,
			match: []string{"budget-changed", "budget-same"},
		},
		{
			name: "type prefix",
			expr: `event.type.startsWith("TODO_")`,
			match: []string{"created-L1", "created-L2", "moved-L2-L1", "tag-added", "assignee-added", "budget-changed",
				"budget-same", "done", "list-created", "checklist-created"},
		},
		{
			name: "todos only, not their lists or checklists",
			expr: `event.type.startsWith("TODO_") && !event.type.startsWith("TODO_LIST_") && !event.type.startsWith("TODO_CHECKLIST_")`,
			match: []string{"created-L1", "created-L2", "moved-L2-L1", "tag-added", "assignee-added", "budget-changed",
				"budget-same", "done"},
		},
		{
			name:  "type list",
			expr:  `event.type in ["TODO_CREATED", "TODO_MOVED"]`,
			match: []string{"created-L1", "created-L2", "moved-L2-L1"},
		},
		{
			name:  "project",
			expr:  `event.projectId in ["p1", "p2"]`,
			match: []string{"created-L1", "created-L2"},
		},
		{
			name:  "company-level events have an empty projectId",
			expr:  `event.projectId == ""`,
			match: []string{"webhook-disabled"},
		},
		{
			name:  "system events have an empty actorId",
			expr:  `event.type == "WEBHOOK_DISABLED" && event.actorId == ""`,
			match: []string{"webhook-disabled"},
		},
		{
			name:  "marked done",
			expr:  `event.type == "TODO_DONE_STATUS_CHANGED" && event.currentValue.done == true`,
			match: []string{"done"},
		},
		{
			name:  "comment text, strings extension",
			expr:  `event.type == "COMMENT_CREATED" && event.currentValue.text.lowerAscii().contains("friday")`,
			match: []string{"comment-created"},
		},
		{
			name:  "occurred after",
			expr:  `timestamp(event.occurredAt) > timestamp("2022-12-05T00:00:00Z")`,
			match: []string{"created-L2", "done", "webhook-disabled"},
		},
		{
			name:  "no previous value",
			expr:  `event.previousValue == null`,
			match: []string{"created-L1", "created-L2", "comment-created", "list-created", "checklist-created"},
		},
		{
			name:  "event as a map",
			expr:  `size(event) == 8 && "previousValue" in event && event.all(k, k in ["id", "type", "occurredAt", "companyId", "projectId", "actorId", "currentValue", "previousValue"]) && event["type"] == event.type`,
			match: slices.Collect(maps.Keys(evs)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := c.Compile(tt.expr)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			for name, e := range evs {
				got, err := f.Match(&e)
				switch {
				case slices.Contains(tt.errs, name):
					if !errors.Is(err, filter.ErrEval) || got {
						t.Errorf("%s: Match = %v, %v; want an error wrapping ErrEval", name, got, err)
					}
				case err != nil:
					t.Errorf("%s: Match: %v", name, err)
				case got != slices.Contains(tt.match, name):
					t.Errorf("%s: Match = %v, want %v", name, got, !got)
				}
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	tests := []struct {
		name string
		expr string
		want string // the whole message
		// compiles: Compile accepts it all the same (a cost estimate over
		// the limit refuses a filter to save, not one saved).
		compiles bool
	}{
		{
			name: "syntax error",
			expr: `event.type == `,
			want: "line 1, column 15: Syntax error: unexpected end of expression",
		},
		{
			name: "unclosed call",
			expr: `event.currentValue.todoTags.exists(t, t.tag.title == "Urgent"`,
			want: "line 1, column 62: Syntax error: missing ')' at end of expression",
		},
		{
			name: "unknown variable",
			expr: `evnt.type == "TODO_CREATED"`,
			want: "line 1, column 1: undeclared reference to 'evnt'",
		},
		{
			name: "unknown variable on a later line",
			expr: "event.type == \"TODO_CREATED\" &&\n  evnt.projectId == \"p1\"",
			want: "line 2, column 3: undeclared reference to 'evnt'",
		},
		{
			name: "unknown function",
			expr: `event.type.shout() == "X"`,
			want: "line 1, column 17: undeclared reference to 'shout'",
		},
		{
			name: "operand not bool",
			expr: `event.type == "TODO_CREATED" && 1`,
			want: "line 1, column 33: expected type 'bool' but found 'int'",
		},
		{
			name: "not bool: dyn",
			expr: `event.type`,
			want: "the expression must be a condition (type bool), but its type is only known when it runs (dyn); compare the value, e.g. event.currentValue.done == true",
		},
		{
			name: "not bool: string",
			expr: `"TODO_" + event.id`,
			want: "the expression must be a condition (type bool), but its type is string",
		},
		{
			name: "empty",
			expr: "  \n ",
			want: "the expression is empty",
		},
		{
			name: "too long",
			expr: strings.Repeat(`event.type == "TODO_CREATED" || `, 200) + "false",
			want: "the expression is 6405 bytes long; the limit is 4096",
		},
		{
			name: "too expensive",
			expr: `event.currentValue.todoTags.exists(t, event.currentValue.todoUsers.exists(u,
				event.currentValue.todoCustomFields.exists(f, f.value == t.tag.title + u.userId)))`,
			want: "the expression is too expensive: its estimated cost is 106943, the limit is 10000. " +
				"The estimate assumes lists and maps of 20 entries, and strings of the event as long as an event may be (262144 bytes): " +
				"avoid nesting exists, all, map and filter, and functions that scan or build strings " +
				"(contains, matches, replace, split, join, lowerAscii, +) on values of the event; " +
				"==, in, startsWith and endsWith with a literal are cheap",
			compiles: true,
		},
		{
			name: "invalid regular expression",
			expr: `event.currentValue.title.matches("(urgent")`,
			want: "error parsing regexp: missing closing ): `(urgent`",
		},
		{
			name: "nested too deep",
			expr: strings.Repeat("(", 300) + "true" + strings.Repeat(")", 300),
			want: "expression recursion limit exceeded: 250",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := c.Check(tt.expr)
			var inv *filter.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, filter.ErrInvalid) {
				t.Fatalf("Check = %v; want an *InvalidError wrapping ErrInvalid", err)
			}
			if err.Error() != tt.want {
				t.Errorf("Check:\n got %s\nwant %s", err, tt.want)
			}
			f, cerr := c.Compile(tt.expr)
			switch {
			case tt.compiles && (f == nil || cerr != nil):
				t.Errorf("Compile = %v, %v; want the filter", f, cerr)
			case !tt.compiles && (f != nil || cerr == nil || cerr.Error() != err.Error()):
				t.Errorf("Compile = %v, %v; want nil and Check's error", f, cerr)
			}
		})
	}
}

// TestSyntaxErrorsAreShort checks that CEL's noise (the source name, the
// container, ANTLR's list of expected tokens) does not reach the person.
func TestSyntaxErrorsAreShort(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	for _, expr := range []string{`event.type ==`, `event..type`, `event.type == "x`, `event.type = "x"`, `)(`, `event.type == "a" event.type`} {
		err := c.Check(expr)
		if err == nil {
			t.Fatalf("Check(%q) = nil", expr)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "line 1, column ") || strings.Contains(msg, "<input>") ||
			strings.Contains(msg, "container") || strings.Contains(msg, "{") || len(msg) > 200 {
			t.Errorf("Check(%q) = %q", expr, msg)
		}
	}
}

func TestMissingKey(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	comment := example(t, "COMMENT_CREATED")
	p, err := c.Compile(`event.currentValue.todoList.id == "L1"`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Match(&comment)
	if got || !errors.Is(err, filter.ErrEval) {
		t.Fatalf("Match = %v, %v; want false and ErrEval", got, err)
	}
	if want := "filter evaluation failed: line 1, column 28: no such key: todoList"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

func TestCostLimitStopsExpensiveEvaluation(t *testing.T) {
	t.Parallel()
	// withTags returns a TODO_CREATED event with n tags.
	withTags := func(n int) event.Envelope {
		items := make([]any, n)
		for i := range items {
			items[i] = map[string]any{"id": fmt.Sprint("i", i), "value": i}
		}
		cur, err := json.Marshal(map[string]any{"id": "t1", "todoTags": items})
		if err != nil {
			t.Fatal(err)
		}
		e := example(t, "TODO_CREATED")
		e.CurrentValue = cur
		return e
	}
	big, medium := withTags(10_000), withTags(3_000)
	const nested = `event.currentValue.todoTags.exists(a, event.currentValue.todoTags.exists(b, a.id == b.id && a.value != b.value))`
	const single = `event.currentValue.todoTags.exists(a, a.value < 0)`

	tests := []struct {
		name    string
		limit   uint64
		expr    string
		event   *event.Envelope
		ctx     func() context.Context
		wantErr error // nil: evaluates to false
	}{
		{name: "nested over 10000 items", expr: nested, event: &big, wantErr: filter.ErrCostLimit},
		{name: "nested over 10000 items with a context", expr: nested, event: &big, wantErr: filter.ErrCostLimit, ctx: context.Background},
		{name: "one pass over 3000 items exceeds the default", expr: single, event: &medium, wantErr: filter.ErrCostLimit},
		{name: "one pass over 3000 items within a higher limit", expr: single, event: &medium, limit: 30_000},
		{name: "nested over 10000 items exceeds a higher limit too", expr: nested, event: &big, limit: 30_000, wantErr: filter.ErrCostLimit},
		{
			name: "cancelled context", expr: nested, event: &big, limit: 1 << 62, wantErr: context.Canceled,
			ctx: func() context.Context {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []filter.Option
			if tt.limit != 0 {
				opts = append(opts, filter.WithCostLimit(tt.limit))
			}
			p, err := newCompiler(t, opts...).Compile(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			a, err := filter.NewActivation(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			var got bool
			if tt.ctx != nil {
				got, err = p.MatchContext(tt.ctx(), a)
			} else {
				got, err = p.MatchActivation(a)
			}
			if tt.wantErr == nil {
				if got || err != nil {
					t.Fatalf("Match = %v, %v; want false, nil", got, err)
				}
				return
			}
			if got || !errors.Is(err, tt.wantErr) || !errors.Is(err, filter.ErrEval) {
				t.Fatalf("Match = %v, %v; want false and an error wrapping ErrEval and %v", got, err, tt.wantErr)
			}
		})
	}
}

// TestActivationIsLazy checks that an Activation decodes a value only when
// an expression reads it, and once for several programs.
func TestActivationIsLazy(t *testing.T) {
	t.Parallel()
	c := newCompiler(t)
	e := example(t, "TODO_CREATED")
	e.CurrentValue = []byte(`{"id": "t1", "title": `) // truncated: never valid
	a, err := filter.NewActivation(&e)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		expr    string
		want    bool
		wantErr string
	}{
		{name: "envelope fields only", expr: `event.type == "TODO_CREATED" && event.occurredAt == "2022-12-01T11:23:09.241Z"`, want: true},
		{name: "previousValue only", expr: `event.previousValue == null`, want: true},
		{name: "currentValue", expr: `event.currentValue.id == "t1"`, wantErr: "filter evaluation failed: line 1, column 6: currentValue is not valid JSON: unexpected end of JSON input"},
		{name: "currentValue again", expr: `has(event.currentValue.id)`, wantErr: "currentValue is not valid JSON"},
	}
	for _, tt := range tests {
		p, err := c.Compile(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := p.MatchActivation(a)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, filter.ErrEval) {
				t.Errorf("%s: Match = %v, %v; want error %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if got != tt.want || err != nil {
			t.Errorf("%s: Match = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestNilInputs(t *testing.T) {
	t.Parallel()
	if _, err := filter.NewActivation(nil); err == nil {
		t.Error("NewActivation(nil) = nil error")
	}
	p, err := newCompiler(t).Compile(`true`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Match(nil); err == nil {
		t.Error("Match(nil) = nil error")
	}
	if _, err := p.MatchActivation(nil); err == nil {
		t.Error("MatchActivation(nil) = nil error")
	}
}

func TestCompileCaches(t *testing.T) {
	t.Parallel()
	const a, b, c = `event.type == "A"`, `event.type == "B"`, `event.type == "C"`
	tests := []struct {
		name      string
		size      int
		sequence  []string // compiled in order
		same      string   // compiled again at the end
		wantSame  bool     // ... returns the program of its first compilation
		wantCount int
	}{
		{name: "hit", size: 10, sequence: []string{a, b}, same: a, wantSame: true},
		{name: "least recently used evicted", size: 2, sequence: []string{a, b, c}, same: a, wantSame: false},
		{name: "recent use keeps it", size: 2, sequence: []string{a, b, a, c}, same: a, wantSame: true},
		{name: "disabled", size: 0, sequence: []string{a}, same: a, wantSame: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			comp := newCompiler(t, filter.WithCacheSize(tt.size))
			first := map[string]*filter.Program{}
			for _, expr := range tt.sequence {
				p, err := comp.Compile(expr)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := first[expr]; !ok {
					first[expr] = p
				}
			}
			p, err := comp.Compile(tt.same)
			if err != nil {
				t.Fatal(err)
			}
			if got := p == first[tt.same]; got != tt.wantSame {
				t.Errorf("same program = %v, want %v", got, tt.wantSame)
			}
			if p.String() != tt.same {
				t.Errorf("String() = %q", p.String())
			}
		})
	}
}

// TestConcurrentUse compiles and evaluates from many goroutines, sharing
// programs and an Activation (for the race detector).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := newCompiler(t, filter.WithCacheSize(3))
	e := events(t)["created-L1"]
	a, err := filter.NewActivation(&e)
	if err != nil {
		t.Fatal(err)
	}
	exprs := []string{
		`event.currentValue.todoList.id == "L1"`,
		`event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`,
		`event.projectId in ["p1", "p2"]`,
		`event.previousValue == null`,
		`event.type.startsWith("TODO_")`,
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				expr := exprs[(g+i)%len(exprs)]
				p, err := c.Compile(expr)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := p.MatchActivation(a)
				if !got || err != nil {
					t.Errorf("%s: Match = %v, %v", expr, got, err)
					return
				}
				if got, err := p.Match(&e); !got || err != nil {
					t.Errorf("%s: Match = %v, %v", expr, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []filter.Option
		wantErr bool
	}{
		{name: "defaults"},
		{name: "valid", opts: []filter.Option{filter.WithCostLimit(50_000), filter.WithCacheSize(100)}},
		{name: "zero cost limit", opts: []filter.Option{filter.WithCostLimit(0)}, wantErr: true},
		{name: "negative cache size", opts: []filter.Option{filter.WithCacheSize(-1)}, wantErr: true},
		{name: "string size", opts: []filter.Option{filter.WithMaxStringSize(1 << 20)}},
		{name: "zero string size", opts: []filter.Option{filter.WithMaxStringSize(0)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := filter.NewCompiler(tt.opts...)
			if tt.wantErr {
				if c != nil || !errors.Is(err, filter.ErrOption) {
					t.Errorf("NewCompiler = %v, %v; want ErrOption", c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCostLimitOptionBoundsCheck checks that the static bound follows
// WithCostLimit.
func TestCostLimitOptionBoundsCheck(t *testing.T) {
	t.Parallel()
	const nested = `event.currentValue.todoTags.exists(t, event.currentValue.todoUsers.exists(u, u.userId == t.tagId))`
	if err := newCompiler(t).Check(nested); err != nil {
		t.Errorf("default limit: %v", err)
	}
	if err := newCompiler(t, filter.WithCostLimit(1000)).Check(nested); !errors.Is(err, filter.ErrInvalid) {
		t.Errorf("limit 1000: %v, want ErrInvalid", err)
	}
}

func TestAsRegistryFilterCompiler(t *testing.T) {
	t.Parallel()
	var compile registry.FilterCompiler = newCompiler(t).Compile
	f, err := compile(`event.type == "TODO_CREATED"`)
	if err != nil {
		t.Fatal(err)
	}
	e := event.Envelope{Type: "TODO_CREATED", CurrentValue: []byte(`{}`)}
	if ok, err := f.Match(&e); !ok || err != nil {
		t.Errorf("Match = %v, %v", ok, err)
	}
	if f, err := compile(`event.type`); f != nil || err == nil {
		t.Errorf("compile(non-bool) = %v, %v", f, err)
	}
}

// TestDocExamplesCompile keeps the examples of the package comment valid.
func TestDocExamplesCompile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(src), "// Examples customers use:\n//\n")
	block, _, ok2 := strings.Cut(after, "\n//\n")
	if !ok || !ok2 {
		t.Fatal("no examples in doc.go")
	}
	var exprs []string
	for line := range strings.Lines(block) {
		line = strings.TrimSuffix(strings.TrimPrefix(line, "//\t"), "\n")
		if cont, ok := strings.CutPrefix(line, "    "); ok {
			exprs[len(exprs)-1] += " " + cont
			continue
		}
		exprs = append(exprs, line)
	}
	if len(exprs) < 6 {
		t.Fatalf("%d examples, want 6 or more", len(exprs))
	}
	c := newCompiler(t)
	for _, expr := range exprs {
		if err := c.Check(expr); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}
