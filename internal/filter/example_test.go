package filter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/filter"
)

func ExampleCompiler() {
	c, err := filter.NewCompiler()
	if err != nil {
		panic(err)
	}
	f, err := c.Compile(`event.type == "TODO_CREATED" && event.currentValue.todoList.id == "L1"`)
	if err != nil {
		panic(err)
	}
	e := event.Envelope{
		ID: "evt_1", Type: "TODO_CREATED", OccurredAt: time.Date(2022, 12, 1, 11, 23, 9, 0, time.UTC),
		CompanyID: "c1", ProjectID: "p1", ActorID: "u1",
		CurrentValue: json.RawMessage(`{"id": "t1", "title": "Ship it", "todoList": {"id": "L1", "title": "Doing"}}`),
	}
	fmt.Println(f.Match(&e))

	err = c.Check(`evnt.type == "TODO_CREATED"`)
	fmt.Println(err, errors.Is(err, filter.ErrInvalid))
	// Output:
	// true <nil>
	// line 1, column 1: undeclared reference to 'evnt' true
}

// Several webhooks' filters evaluated on one event share one Activation,
// which decodes the event's values once.
func ExampleProgram_MatchActivation() {
	c, err := filter.NewCompiler()
	if err != nil {
		panic(err)
	}
	e := event.Envelope{
		ID: "evt_2", Type: "TODO_TAG_ADDED", CompanyID: "c1", ProjectID: "p1",
		CurrentValue:  json.RawMessage(`{"id": "t1", "todoTags": [{"tagId": "g1", "tag": {"id": "g1", "title": "Urgent"}}]}`),
		PreviousValue: json.RawMessage(`{"id": "t1", "todoTags": []}`),
	}
	a, err := filter.NewActivation(&e)
	if err != nil {
		panic(err)
	}
	for _, expr := range []string{
		`event.currentValue.todoTags.exists(t, t.tag.title == "Urgent")`,
		`event.projectId in ["p2", "p3"]`,
		`event.currentValue.todoList.id == "L1"`,
	} {
		p, err := c.Compile(expr)
		if err != nil {
			panic(err)
		}
		fmt.Println(p.MatchActivation(a))
	}
	// Output:
	// true <nil>
	// false <nil>
	// false filter evaluation failed: line 1, column 28: no such key: todoList
}
