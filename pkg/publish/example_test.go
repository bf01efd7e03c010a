package publish_test

import (
	"context"
	"encoding/json"
	"errors"
	"log"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/pkg/publish"
)

// A Blue service publishes an event after its change is committed. The id
// and time are filled in when empty; Publish returns once JetStream has
// stored the event, and retrying with the same id is deduplicated.
// (No Output: it needs a running NATS server.)
func ExampleClient_Publish() {
	nc, err := nats.Connect(nats.DefaultURL)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	client, err := publish.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	id, err := client.Publish(context.Background(), publish.Event{
		Type:         "TODO_CREATED",
		CompanyID:    "clakt8jud0002vt64205yyj10",
		ProjectID:    "clakt90vu000bvt64hhffqleq",
		ActorID:      "claksl2ye0000vtas0h0ln71e",
		CurrentValue: json.RawMessage(`{"id": "clb4zna6x0000vt1swuwso25f", "title": "Write launch announcement"}`),
	})
	var fe *publish.FieldError
	switch {
	case errors.As(err, &fe):
		log.Printf("event refused, nothing published: %s: %s", fe.Field, fe.Detail)
	case err != nil:
		log.Printf("not stored (retry with the same id): %v", err)
	default:
		log.Printf("published %s", id)
	}
}
