package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/event"
)

func loadCatalogue(t testing.TB) *event.Catalogue {
	t.Helper()
	c, err := event.LoadCatalogue()
	if err != nil {
		t.Fatalf("LoadCatalogue: %v", err)
	}
	return c
}

// example returns the catalogue's example envelope of a type.
func example(t testing.TB, c *event.Catalogue, name string) []byte {
	t.Helper()
	for _, typ := range c.Types() {
		if typ.Name == name {
			return typ.Example
		}
	}
	t.Fatalf("no type %s", name)
	return nil
}

// mutate decodes an envelope, lets f change it and encodes it again.
func mutate(t testing.TB, raw []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks into nested objects of a decoded envelope.
func at(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

func TestLoadCatalogue(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	want := []string{
		// The seed's webhook subscribes to these.
		"TODO_CREATED", "TODO_DELETED", "TODO_MOVED", "TODO_NAME_CHANGED",
		"TODO_CHECKLIST_CREATED", "TODO_CHECKLIST_NAME_CHANGED", "TODO_CHECKLIST_DELETED",
		"TODO_CHECKLIST_ITEM_CREATED", "TODO_LIST_CREATED", "TODO_LIST_DELETED",
		"TODO_LIST_NAME_CHANGED", "COMMENT_CREATED", "COMMENT_DELETED", "COMMENT_UPDATED",
		// Changes the seed names in prose.
		"TODO_UPDATED", "TODO_ASSIGNEE_ADDED", "TODO_ASSIGNEE_REMOVED", "TODO_TAG_ADDED",
		"TODO_TAG_REMOVED", "TODO_DUE_DATE_CHANGED", "TODO_DONE_STATUS_CHANGED",
		"TODO_CUSTOM_FIELD_VALUE_CHANGED", "TODO_CHECKLIST_ITEM_DONE_STATUS_CHANGED",
		// The platform's own.
		"WEBHOOK_TEST", "WEBHOOK_DISABLED",
	}
	slices.Sort(want)
	var got []string
	for _, typ := range c.Types() {
		got = append(got, typ.Name)
		if typ.Description == "" || typ.Entity == "" || len(typ.Schema) == 0 || len(typ.Example) == 0 {
			t.Errorf("%s: incomplete entry", typ.Name)
		}
		if !c.Known(typ.Name) {
			t.Errorf("Known(%q) = false", typ.Name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("Types() = %v\nwant %v", got, want)
	}
	for _, name := range []string{"", "todo_created", "TODO_EXPLODED", "RECORD_CREATED"} {
		if c.Known(name) {
			t.Errorf("Known(%q) = true", name)
		}
	}

	// Types returns a copy: sorting it differently does not reorder the catalogue.
	types := c.Types()
	slices.Reverse(types)
	if c.Types()[0].Name != want[0] {
		t.Error("Types() shares its slice")
	}
}

func TestLoadCatalogueSharesCompiledSchemas(t *testing.T) {
	t.Parallel()
	a, b := loadCatalogue(t), loadCatalogue(t)
	a.MaxBatch = 1
	if b.MaxBatch != event.DefaultMaxBatch {
		t.Errorf("MaxBatch = %d, want %d: catalogues share options", b.MaxBatch, event.DefaultMaxBatch)
	}
}

func TestCatalogueExamples(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	for _, typ := range c.Types() {
		t.Run(typ.Name, func(t *testing.T) {
			t.Parallel()
			e, err := c.Validate(typ.Example)
			if err != nil {
				t.Fatalf("example does not validate: %v", err)
			}
			if e.Type != typ.Name {
				t.Errorf("example type = %s", e.Type)
			}
			if !strings.HasPrefix(e.ID, event.IDPrefix) {
				t.Errorf("example id %q lacks %q", e.ID, event.IDPrefix)
			}
			if company := strings.HasPrefix(typ.Name, "WEBHOOK_"); company != (e.ProjectID == "") {
				t.Errorf("projectId = %q; only WEBHOOK_* events are company-level", e.ProjectID)
			}

			var cur map[string]any
			if err := json.Unmarshal(e.CurrentValue, &cur); err != nil {
				t.Fatal(err)
			}
			// The values have the shape of the seed's payload: a todo
			// nests todoList -> project -> company, a list project -> company.
			var company map[string]any
			switch typ.Entity {
			case "todo":
				company = at(cur, "todoList", "project", "company")
				if cur["todoListId"] != at(cur, "todoList")["id"] {
					t.Error("todoListId differs from todoList.id")
				}
				if at(cur, "todoList", "project")["id"] != e.ProjectID {
					t.Error("todoList.project.id differs from the envelope's projectId")
				}
			case "todoList":
				company = at(cur, "project", "company")
				if cur["projectId"] != e.ProjectID {
					t.Error("projectId differs from the envelope's projectId")
				}
			}
			if company != nil && company["id"] != e.CompanyID {
				t.Errorf("nested company id %v differs from the envelope's companyId %s", company["id"], e.CompanyID)
			}
		})
	}
}

// TestTypeSchemasRejectGarbage checks that every type's value schema rejects
// a value without a string id, in both currentValue and previousValue.
func TestTypeSchemasRejectGarbage(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	for _, typ := range c.Types() {
		for _, tc := range []struct {
			name   string
			key    string
			value  any
			field  string
			detail string
		}{
			{name: "current id missing", key: "currentValue", value: map[string]any{"title": "x"}, field: "/currentValue/id", detail: "missing property"},
			{name: "current id number", key: "currentValue", value: map[string]any{"id": 42}, field: "/currentValue/id", detail: "must be string, got number"},
			{name: "current id empty", key: "currentValue", value: map[string]any{"id": ""}, field: "/currentValue/id", detail: "minLength"},
			{name: "previous id number", key: "previousValue", value: map[string]any{"id": 42}, field: "/previousValue/id", detail: "must be string, got number"},
		} {
			t.Run(typ.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				raw := mutate(t, typ.Example, func(m map[string]any) {
					if tc.key == "previousValue" && m["previousValue"] == nil {
						var prev map[string]any // a copy of currentValue
						b, _ := json.Marshal(m["currentValue"])
						if err := json.Unmarshal(b, &prev); err != nil {
							t.Fatal(err)
						}
						m["previousValue"] = prev
					}
					for k, v := range tc.value.(map[string]any) {
						at(m, tc.key)[k] = v
					}
					if _, ok := tc.value.(map[string]any)["id"]; !ok {
						delete(at(m, tc.key), "id")
					}
				})
				_, err := c.Validate(raw)
				checkFieldError(t, err, tc.field, tc.detail)
			})
		}
	}
}

func checkFieldError(t *testing.T, err error, field, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s: %s", field, detail)
	}
	if !errors.Is(err, event.ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	fe, ok := errors.AsType[*event.FieldError](err)
	if !ok {
		t.Fatalf("error %T %v is not a *FieldError", err, err)
	}
	if fe.Field != field || !strings.Contains(fe.Detail, detail) {
		t.Errorf("error = %q %q, want field %q, detail containing %q", fe.Field, fe.Detail, field, detail)
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	base := example(t, c, "TODO_CREATED")
	set := func(key string, v any) func(map[string]any) {
		return func(m map[string]any) { m[key] = v }
	}
	del := func(key string) func(map[string]any) {
		return func(m map[string]any) { delete(m, key) }
	}
	tests := []struct {
		name   string
		raw    []byte                 // used when set
		mutate func(m map[string]any) // applied to the TODO_CREATED example
		field  string
		detail string
	}{
		{name: "missing id", mutate: del("id"), field: "/id", detail: "missing property"},
		{name: "missing type", mutate: del("type"), field: "/type", detail: "missing property"},
		{name: "missing occurredAt", mutate: del("occurredAt"), field: "/occurredAt", detail: "missing property"},
		{name: "missing companyId", mutate: del("companyId"), field: "/companyId", detail: "missing property"},
		{name: "missing currentValue", mutate: del("currentValue"), field: "/currentValue", detail: "missing property"},
		{name: "id number", mutate: set("id", 7), field: "/id", detail: "must be string, got number"},
		{name: "id empty", mutate: set("id", ""), field: "/id", detail: "1 to 64 characters"},
		{name: "id too long", mutate: set("id", strings.Repeat("a", 65)), field: "/id", detail: "1 to 64 characters"},
		{name: "companyId with dot", mutate: set("companyId", "acme.corp"), field: "/companyId", detail: "1 to 64 characters from A-Z, a-z, 0-9, _ and -"},
		{name: "companyId with wildcard", mutate: set("companyId", "*"), field: "/companyId", detail: "1 to 64 characters"},
		{name: "companyId with gt", mutate: set("companyId", ">"), field: "/companyId", detail: "1 to 64 characters"},
		{name: "companyId with space", mutate: set("companyId", "a b"), field: "/companyId", detail: "1 to 64 characters"},
		{name: "companyId with newline", mutate: set("companyId", "abc\n"), field: "/companyId", detail: "1 to 64 characters"},
		{name: "companyId non-ASCII", mutate: set("companyId", "café"), field: "/companyId", detail: "1 to 64 characters"},
		{name: "companyId null", mutate: set("companyId", nil), field: "/companyId", detail: "must be string, got null"},
		{name: "projectId with dot", mutate: set("projectId", "p.1"), field: "/projectId", detail: "1 to 64 characters"},
		{name: "projectId empty", mutate: set("projectId", ""), field: "/projectId", detail: "1 to 64 characters"},
		{name: "actorId with slash", mutate: set("actorId", "u/1"), field: "/actorId", detail: "1 to 64 characters"},
		{name: "type lower case", mutate: set("type", "todo_created"), field: "/type", detail: "starting with a letter"},
		{name: "type with dot", mutate: set("type", "TODO.CREATED"), field: "/type", detail: "starting with a letter"},
		{name: "type number", mutate: set("type", 1), field: "/type", detail: "must be string, got number"},
		{name: "unknown type", mutate: set("type", "TODO_EXPLODED"), field: "/type", detail: `unknown event type "TODO_EXPLODED"`},
		{name: "occurredAt not a date", mutate: set("occurredAt", "yesterday"), field: "/occurredAt", detail: "must be a valid date-time"},
		{name: "occurredAt without zone", mutate: set("occurredAt", "2022-12-01T11:23:09"), field: "/occurredAt", detail: "must be a valid date-time"},
		{name: "occurredAt leap second", mutate: set("occurredAt", "2016-12-31T23:59:60Z"), field: "/occurredAt", detail: "second out of range"},
		{name: "occurredAt lower-case t", mutate: set("occurredAt", "2022-12-01t11:23:09z"), field: "/occurredAt", detail: "must be a valid date-time"},
		{name: "occurredAt impossible date", mutate: set("occurredAt", "2022-02-30T11:23:09Z"), field: "/occurredAt", detail: "must be a valid date-time"},
		{name: "occurredAt number", mutate: set("occurredAt", 1669893789), field: "/occurredAt", detail: "must be string, got number"},
		{name: "currentValue array", mutate: set("currentValue", []any{}), field: "/currentValue", detail: "must be object, got array"},
		{name: "currentValue null", mutate: set("currentValue", nil), field: "/currentValue", detail: "must be object, got null"},
		{name: "previousValue string", mutate: set("previousValue", "x"), field: "/previousValue", detail: "must be null or object, got string"},
		{name: "unknown property", mutate: set("event", "TODO_CREATED"), field: "/event", detail: "unknown property"},
		{name: "property differing in case", mutate: set("companyID", "c1"), field: "/companyID", detail: "unknown property"},
		{name: "currentValue id missing", mutate: func(m map[string]any) { delete(at(m, "currentValue"), "id") }, field: "/currentValue/id", detail: "missing property"},
		{name: "currentValue id number", mutate: func(m map[string]any) { at(m, "currentValue")["id"] = 1 }, field: "/currentValue/id", detail: "must be string, got number"},
		{name: "currentValue done string", mutate: func(m map[string]any) { at(m, "currentValue")["done"] = "yes" }, field: "/currentValue/done", detail: "must be boolean, got string"},
		{
			name:   "nested company id number",
			mutate: func(m map[string]any) { at(m, "currentValue", "todoList", "project", "company")["id"] = 9 },
			field:  "/currentValue/todoList/project/company/id", detail: "must be string, got number",
		},
		{
			name: "deepest of several errors",
			mutate: func(m map[string]any) {
				at(m, "currentValue")["title"] = 1
				at(m, "currentValue", "todoList")["title"] = 2
			},
			field: "/currentValue/todoList/title", detail: "must be string, got number",
		},
		{
			name:   "envelope errors before value errors",
			mutate: func(m map[string]any) { m["companyId"] = "a.b"; at(m, "currentValue")["id"] = 1 },
			field:  "/companyId", detail: "1 to 64 characters",
		},
		{name: "several missing: first in schema order", mutate: func(m map[string]any) { delete(m, "id"); delete(m, "type") }, field: "/id", detail: "missing property"},
		{name: "extra fields in values allowed, not at top", mutate: func(m map[string]any) { at(m, "currentValue")["newBlueField"] = 1; m["x"] = 1 }, field: "/x", detail: "unknown property"},
		{name: "pointer escaping", mutate: set("a/b~c", 1), field: "/a~1b~0c", detail: "unknown property"},
		{name: "not JSON", raw: []byte("hello"), field: "", detail: "body is not valid JSON: invalid character 'h'"},
		{name: "syntax error names its offset", raw: []byte(`{"id" 1}`), field: "", detail: "invalid character '1' after object key at byte 7"},
		{name: "empty body", raw: []byte(""), field: "", detail: "body is not valid JSON: empty body"},
		{name: "white space only", raw: []byte(" \n"), field: "", detail: "body is not valid JSON: empty body"},
		{name: "truncated", raw: base[:len(base)/2], field: "", detail: "body is not valid JSON: unexpected end of input"},
		{name: "trailing garbage", raw: append(slices.Clip(base), " x"...), field: "", detail: "body is not valid JSON: unexpected data after the top-level value"},
		{name: "two objects", raw: append(slices.Clip(base), base...), field: "", detail: "unexpected data after the top-level value"},
		{name: "extra closing brace", raw: append(slices.Clip(base), '}'), field: "", detail: "unexpected data after the top-level value"},
		{name: "array", raw: []byte(`[]`), field: "", detail: "must be object, got array"},
		{name: "null", raw: []byte(`null`), field: "", detail: "must be object, got null"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := tc.raw
			if tc.mutate != nil {
				raw = mutate(t, base, tc.mutate)
			}
			e, err := c.Validate(raw)
			checkFieldError(t, err, tc.field, tc.detail)
			if e.ID != "" {
				t.Errorf("Validate returned an envelope with an error: %+v", e)
			}
		})
	}
}

func TestValidateTypeSpecificRequirements(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	tests := []struct {
		name   string
		typ    string
		remove string
		field  string
	}{
		{name: "moved without list", typ: "TODO_MOVED", remove: "todoListId", field: "/currentValue/todoListId"},
		{name: "renamed without title", typ: "TODO_NAME_CHANGED", remove: "title", field: "/currentValue/title"},
		{name: "done status without done", typ: "TODO_DONE_STATUS_CHANGED", remove: "done", field: "/currentValue/done"},
		{name: "assignee without todoUsers", typ: "TODO_ASSIGNEE_ADDED", remove: "todoUsers", field: "/currentValue/todoUsers"},
		{name: "list renamed without title", typ: "TODO_LIST_NAME_CHANGED", remove: "title", field: "/currentValue/title"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := mutate(t, example(t, c, tc.typ), func(m map[string]any) { delete(at(m, "currentValue"), tc.remove) })
			_, err := c.Validate(raw)
			checkFieldError(t, err, tc.field, "missing property")
		})
	}
}

func TestValidateWebhookSecretNeverCarried(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	raw := mutate(t, example(t, c, "WEBHOOK_TEST"), func(m map[string]any) {
		at(m, "currentValue")["secret"] = "whsec_c2VjcmV0"
	})
	_, err := c.Validate(raw)
	checkFieldError(t, err, "/currentValue/secret", "must be empty")
}

func TestValidateDecodes(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	raw := example(t, c, "TODO_CREATED")
	e, err := c.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2022, 12, 1, 11, 23, 9, 241e6, time.UTC)
	if !e.OccurredAt.Equal(want) {
		t.Errorf("OccurredAt = %v, want %v", e.OccurredAt, want)
	}
	if e.CompanyID != "clakt8jud0002vt64205yyj10" || e.ProjectID != "clakt90vu000bvt64hhffqleq" || e.ActorID != "claksl2ye0000vtas0h0ln71e" {
		t.Errorf("ids = %q %q %q", e.CompanyID, e.ProjectID, e.ActorID)
	}
	if e.PreviousValue != nil {
		t.Errorf("PreviousValue = %s, want nil for null", e.PreviousValue)
	}
	var cur struct {
		ID       string `json:"id"`
		Position string `json:"position"`
	}
	if err := json.Unmarshal(e.CurrentValue, &cur); err != nil || cur.ID != "clb4zna6x0000vt1swuwso25f" || cur.Position != "32767.5" {
		t.Errorf("CurrentValue = %s (%v)", e.CurrentValue, err)
	}
	if got, want := e.Subject(), "events.clakt8jud0002vt64205yyj10.clakt90vu000bvt64hhffqleq.TODO_CREATED"; got != want {
		t.Errorf("Subject() = %s, want %s", got, want)
	}

	// Absent previousValue and a big number in a value are fine.
	raw = mutate(t, raw, func(m map[string]any) {
		delete(m, "previousValue")
		at(m, "currentValue")["estimate"] = json.Number("1e400")
	})
	e, err = c.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if e.PreviousValue != nil || !strings.Contains(string(e.CurrentValue), "1e400") {
		t.Errorf("PreviousValue = %s, CurrentValue = %s", e.PreviousValue, e.CurrentValue)
	}
}

// Check publishes what it was given, compacted: decoded, those bytes are
// the envelope Validate returns, and they are the bytes json.Marshal writes
// for the values, so delivery bodies do not change with the path taken.
func TestCheckKeepsWhatValidateDecodes(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	var inputs [][]byte
	for _, typ := range c.Types() {
		inputs = append(inputs, typ.Example)
	}
	pretty := mutate(t, example(t, c, "TODO_CREATED"), func(m map[string]any) {
		delete(m, "previousValue")
		m["occurredAt"] = "2022-12-01T12:23:09.241+01:00"
		at(m, "currentValue")["title"] = "<b>Tom & Jerry</b> \u2028 é"
	})
	var indented bytes.Buffer
	if err := json.Indent(&indented, pretty, "", "  "); err != nil {
		t.Fatal(err)
	}
	inputs = append(inputs, indented.Bytes())
	for _, raw := range inputs {
		want, err := c.Validate(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Check(raw)
		if err != nil {
			t.Fatalf("Check refused what Validate accepts: %v", err)
		}
		if got.ID != want.ID || got.Type != want.Type || got.CompanyID != want.CompanyID || got.ProjectID != want.ProjectID {
			t.Errorf("Check = %+v, want the ids and type of %+v", got, want)
		}
		marshalled, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var fromCheck, fromValidate event.Envelope
		if err := json.Unmarshal(got.Raw, &fromCheck); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(marshalled, &fromValidate); err != nil {
			t.Fatal(err)
		}
		if string(fromCheck.PreviousValue) == "null" { // absent and null are the same event
			fromCheck.PreviousValue = nil
		}
		if string(fromValidate.PreviousValue) == "null" {
			fromValidate.PreviousValue = nil
		}
		if !fromCheck.OccurredAt.Equal(fromValidate.OccurredAt) || fromCheck.OccurredAt.Format(time.RFC3339Nano) != fromValidate.OccurredAt.Format(time.RFC3339Nano) {
			t.Errorf("occurredAt %v, want %v", fromCheck.OccurredAt, fromValidate.OccurredAt)
		}
		fromCheck.OccurredAt, fromValidate.OccurredAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(fromCheck, fromValidate) {
			t.Errorf("published envelope decodes to\n%+v\nwant\n%+v", fromCheck, fromValidate)
		}
	}
	// Check refuses what Validate refuses, with the same error.
	for _, raw := range [][]byte{[]byte(`{}`), []byte(`[1]`), mutate(t, example(t, c, "TODO_CREATED"), func(m map[string]any) {
		m["occurredAt"] = "2016-12-31T23:59:60Z"
	})} {
		_, verr := c.Validate(raw)
		_, cerr := c.Check(raw)
		if verr == nil || cerr == nil || verr.Error() != cerr.Error() {
			t.Errorf("%s: Validate: %v, Check: %v", raw, verr, cerr)
		}
	}
}

func TestValidateDoesNotAlias(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	raw := slices.Clone(example(t, c, "TODO_UPDATED"))
	e, err := c.Validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	before := string(e.CurrentValue) + string(e.PreviousValue)
	for i := range raw {
		raw[i] = ' '
	}
	if after := string(e.CurrentValue) + string(e.PreviousValue); after != before {
		t.Error("the envelope's values alias the input buffer")
	}
}

func TestValidateBatch(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	created, moved, test := example(t, c, "TODO_CREATED"), example(t, c, "TODO_MOVED"), example(t, c, "WEBHOOK_TEST")
	bad := mutate(t, created, func(m map[string]any) { delete(m, "companyId") })
	arr := func(items ...[]byte) []byte {
		return []byte("\n [" + string(slices.Concat(joinComma(items)...)) + "]\n")
	}
	tests := []struct {
		name     string
		raw      []byte
		maxBatch int
		types    []string // wanted on success
		field    string   // wanted on failure
		detail   string
	}{
		{name: "one object", raw: created, types: []string{"TODO_CREATED"}},
		{name: "array of one", raw: arr(created), types: []string{"TODO_CREATED"}},
		{name: "array of three", raw: arr(created, moved, test), types: []string{"TODO_CREATED", "TODO_MOVED", "WEBHOOK_TEST"}},
		{name: "at the limit", raw: arr(created, moved), maxBatch: 2, types: []string{"TODO_CREATED", "TODO_MOVED"}},
		{name: "over the limit", raw: arr(created, moved, test), maxBatch: 2, field: "", detail: "batch has 3 events, more than the limit of 2"},
		{name: "empty array", raw: []byte(" [ ] "), field: "", detail: "batch is empty"},
		{name: "bad third item", raw: arr(created, moved, bad), field: "/2/companyId", detail: "missing property"},
		{name: "bad first item only reported", raw: arr(bad, []byte("7"), bad), field: "/0/companyId", detail: "missing property"},
		{name: "item not an object", raw: arr(created, []byte(`"x"`)), field: "/1", detail: "must be object, got string"},
		{name: "item of unknown type", raw: arr(created, mutate(t, moved, func(m map[string]any) { m["type"] = "NOPE" })), field: "/1/type", detail: `unknown event type "NOPE"`},
		{name: "bad value in item", raw: arr(moved, mutate(t, moved, func(m map[string]any) { at(m, "currentValue")["id"] = false })), field: "/1/currentValue/id", detail: "must be string, got boolean"},
		{name: "bad single object", raw: bad, field: "/companyId", detail: "missing property"},
		{name: "array not JSON", raw: []byte(`[{"id":`), field: "", detail: "body is not valid JSON"},
		{name: "array with trailing data", raw: append(arr(created), "[]"...), field: "", detail: "body is not valid JSON"},
		{name: "empty body", raw: nil, field: "", detail: "body is not valid JSON: empty body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cat := loadCatalogue(t)
			if tc.maxBatch != 0 {
				cat.MaxBatch = tc.maxBatch
			}
			got, err := cat.ValidateBatch(tc.raw)
			if tc.types == nil {
				checkFieldError(t, err, tc.field, tc.detail)
				if got != nil {
					t.Errorf("got %d envelopes with an error", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range got {
				types = append(types, e.Type)
			}
			if !slices.Equal(types, tc.types) {
				t.Errorf("types = %v, want %v", types, tc.types)
			}
		})
	}
}

func joinComma(items [][]byte) [][]byte {
	var out [][]byte
	for i, it := range items {
		if i > 0 {
			out = append(out, []byte(","))
		}
		out = append(out, it)
	}
	return out
}

func TestValidateBatchDefaultLimit(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	c.MaxBatch = 0 // means the default
	item := example(t, c, "TODO_CREATED")
	for _, tc := range []struct {
		name string
		n    int
		ok   bool
	}{
		{name: "default limit", n: event.DefaultMaxBatch, ok: true},
		{name: "one over", n: event.DefaultMaxBatch + 1, ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items := make([][]byte, tc.n)
			for i := range items {
				items[i] = item
			}
			raw := "[" + string(slices.Concat(joinComma(items)...)) + "]"
			got, err := c.ValidateBatch([]byte(raw))
			if tc.ok && (err != nil || len(got) != tc.n) {
				t.Errorf("got %d envelopes, err %v", len(got), err)
			}
			if !tc.ok {
				checkFieldError(t, err, "", "more than the limit of 1000")
			}
		})
	}
}

func TestValidateConcurrently(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	types := c.Types()
	var wg sync.WaitGroup
	errs := make(chan error, len(types)*8)
	for range 8 {
		for _, typ := range types {
			wg.Go(func() {
				if _, err := c.Validate(typ.Example); err != nil {
					errs <- fmt.Errorf("%s: %w", typ.Name, err)
				}
				bad := mutate(t, typ.Example, func(m map[string]any) { m["companyId"] = "a.b" })
				if _, err := c.Validate(bad); err == nil {
					errs <- fmt.Errorf("%s: bad companyId accepted", typ.Name)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// BenchmarkValidate: Validate is what the ingest used to do per event, then
// marshal the envelope again to publish it; Check is what it does now.
func BenchmarkValidate(b *testing.B) {
	c := loadCatalogue(b)
	raw := example(b, c, "TODO_CREATED")
	b.Run("validate-and-marshal", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			e, err := c.Validate(raw)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("check", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Check(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkValidateInvalid(b *testing.B) {
	c := loadCatalogue(b)
	raw := mutate(b, example(b, c, "TODO_CREATED"), func(m map[string]any) { at(m, "currentValue", "todoList")["id"] = 1 })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Validate(raw); err == nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkCheck measures what the ingest does per request: one typical
// event (TODO_CREATED, the previousValue null), a batch of 100 events (the
// catalogue's examples in turn) and one refused event.
func BenchmarkCheck(b *testing.B) {
	c := loadCatalogue(b)
	one := example(b, c, "TODO_CREATED")
	types := c.Types()
	items := make([][]byte, 100)
	for i := range items {
		items[i] = types[i%len(types)].Example
	}
	batch := []byte("[" + string(slices.Concat(joinComma(items)...)) + "]")
	invalid := mutate(b, one, func(m map[string]any) { at(m, "currentValue", "todoList")["id"] = 1 })

	b.Run("one", func(b *testing.B) {
		b.SetBytes(int64(len(one)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Check(one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch-100", func(b *testing.B) {
		b.SetBytes(int64(len(batch)))
		b.ReportAllocs()
		for b.Loop() {
			if got, err := c.CheckBatch(batch); err != nil || len(got) != len(items) {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("invalid", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Check(invalid); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
