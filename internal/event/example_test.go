package event_test

import (
	"errors"
	"fmt"

	"github.com/bluehq/webhooks/internal/event"
)

func ExampleCatalogue_Validate() {
	c, err := event.LoadCatalogue()
	if err != nil {
		panic(err)
	}
	e, err := c.Validate([]byte(`{
		"id": "evt_01GK6PT5HSQ86JVMH6CYYBHF0Y", "type": "TODO_NAME_CHANGED",
		"occurredAt": "2022-12-01T11:24:15.330Z",
		"companyId": "clakt8jud0002vt64205yyj10", "projectId": "clakt90vu000bvt64hhffqleq",
		"currentValue": {"id": "clb4zna6x0000vt1swuwso25f", "title": "Write launch announcement"},
		"previousValue": {"id": "clb4zna6x0000vt1swuwso25f", "title": "GGGG"}}`))
	fmt.Println(e.Subject(), err)

	_, err = c.Validate([]byte(`{"id": "evt_1", "type": "TODO_CREATED", "occurredAt": "2022-12-01T11:24:15Z",
		"companyId": "acme.corp", "currentValue": {"id": "t1"}}`))
	fmt.Println(err, errors.Is(err, event.ErrInvalid))

	_, err = c.Validate([]byte(`{"id": "evt_1", "type": "TODO_EXPLODED", "occurredAt": "2022-12-01T11:24:15Z",
		"companyId": "acme", "currentValue": {"id": "t1"}}`))
	fmt.Println(err)
	// Output:
	// events.clakt8jud0002vt64205yyj10.clakt90vu000bvt64hhffqleq.TODO_NAME_CHANGED <nil>
	// /companyId: must be 1 to 64 characters from A-Z, a-z, 0-9, _ and - true
	// /type: unknown event type "TODO_EXPLODED"
}
