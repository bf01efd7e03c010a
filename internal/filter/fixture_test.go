package filter_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/event"
)

// Ids of the catalogue's examples.
const (
	graceID  = "clb51q8zd0006vt1s2g9k4m7p" // the assignee in TODO_ASSIGNEE_ADDED
	budgetID = "clakta1zx000nvt64q8r7s6t5" // the custom field in TODO_CUSTOM_FIELD_VALUE_CHANGED
)

// example returns the catalogue's example envelope of an event type.
func example(tb testing.TB, typ string) event.Envelope {
	tb.Helper()
	cat, err := event.LoadCatalogue()
	if err != nil {
		tb.Fatal(err)
	}
	for _, ty := range cat.Types() {
		if ty.Name == typ {
			var e event.Envelope
			if err := json.Unmarshal(ty.Example, &e); err != nil {
				tb.Fatal(err)
			}
			return e
		}
	}
	tb.Fatalf("no example of %s in the catalogue", typ)
	return event.Envelope{}
}

// edit returns a copy of e whose values f changed; prev is nil when
// previousValue is null.
func edit(tb testing.TB, e event.Envelope, f func(e *event.Envelope, cur, prev map[string]any)) event.Envelope {
	tb.Helper()
	var cur, prev map[string]any
	if err := json.Unmarshal(e.CurrentValue, &cur); err != nil {
		tb.Fatal(err)
	}
	if len(e.PreviousValue) > 0 {
		if err := json.Unmarshal(e.PreviousValue, &prev); err != nil {
			tb.Fatal(err)
		}
	}
	f(&e, cur, prev)
	var err error
	if e.CurrentValue, err = json.Marshal(cur); err != nil {
		tb.Fatal(err)
	}
	if prev != nil {
		if e.PreviousValue, err = json.Marshal(prev); err != nil {
			tb.Fatal(err)
		}
	} else {
		e.PreviousValue = nil
	}
	return e
}

func setList(v map[string]any, id string) {
	v["todoListId"] = id
	v["todoList"].(map[string]any)["id"] = id
}

func tag(title string) map[string]any {
	return map[string]any{"id": "tt_" + title, "todoId": "clb4zna6x0000vt1swuwso25f", "tagId": "tag_" + title,
		"tag": map[string]any{"id": "tag_" + title, "uid": "u", "title": title, "color": "#e53935", "projectId": "p1"}}
}

func assignee(userID, username string) map[string]any {
	return map[string]any{"id": "tu_" + userID, "todoId": "clb4zna6x0000vt1swuwso25f", "userId": userID,
		"user": map[string]any{"id": userID, "username": username, "fullName": username}}
}

// events are realistic Blue events, by name, built from the catalogue's
// examples.
func events(tb testing.TB) map[string]event.Envelope {
	tb.Helper()
	created := example(tb, "TODO_CREATED")
	moved := example(tb, "TODO_MOVED")
	updated := example(tb, "TODO_UPDATED")
	changed := example(tb, "TODO_CUSTOM_FIELD_VALUE_CHANGED")
	return map[string]event.Envelope{
		// In list L1 of project p1, tagged Urgent.
		"created-L1": edit(tb, created, func(e *event.Envelope, cur, _ map[string]any) {
			e.ProjectID = "p1"
			setList(cur, "L1")
			cur["todoTags"] = []any{tag("Urgent"), tag("Backend")}
		}),
		// In list L2 of project p2, tagged Low, assigned to Grace.
		"created-L2": edit(tb, created, func(e *event.Envelope, cur, _ map[string]any) {
			e.ProjectID = "p2"
			e.OccurredAt = time.Date(2022, 12, 5, 9, 30, 0, 0, time.UTC)
			setList(cur, "L2")
			cur["todoTags"] = []any{tag("Low")}
			cur["todoUsers"] = []any{assignee(graceID, "grace")}
		}),
		// From list L2 to list L1, in project p3.
		"moved-L2-L1": edit(tb, moved, func(e *event.Envelope, cur, prev map[string]any) {
			e.ProjectID = "p3"
			setList(cur, "L1")
			setList(prev, "L2")
		}),
		"tag-added":      example(tb, "TODO_TAG_ADDED"),
		"assignee-added": example(tb, "TODO_ASSIGNEE_ADDED"),
		// Budget 35000 -> 42000.
		"budget-changed": changed,
		// Description edited; Budget stays 42000.
		"budget-same": edit(tb, updated, func(_ *event.Envelope, cur, prev map[string]any) {
			var v map[string]any
			_ = json.Unmarshal(changed.CurrentValue, &v)
			cur["todoCustomFields"] = v["todoCustomFields"]
			prev["todoCustomFields"] = v["todoCustomFields"]
		}),
		"done":              example(tb, "TODO_DONE_STATUS_CHANGED"),
		"comment-created":   example(tb, "COMMENT_CREATED"),
		"list-created":      example(tb, "TODO_LIST_CREATED"),
		"webhook-disabled":  example(tb, "WEBHOOK_DISABLED"),
		"checklist-created": example(tb, "TODO_CHECKLIST_CREATED"),
	}
}
