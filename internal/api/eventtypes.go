package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/schemas"
)

// EventType is one entry of the catalogue.
type EventType struct {
	Type        string          `json:"type"`
	Description string          `json:"description"`
	Entity      string          `json:"entity"`
	Schema      json.RawMessage `json:"schema" doc:"JSON Schema of currentValue and previousValue."`
	Example     json.RawMessage `json:"example" doc:"A complete example event envelope."`
}

type eventTypesOut struct {
	Body struct {
		Data []EventType `json:"data"`
	}
}

// bundle makes a type's value schema self-contained: the shared entity
// definitions it references are inlined under $defs, so a client can
// validate with the document alone.
func bundle(schema json.RawMessage, defs json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(schema, &m) != nil {
		return schema
	}
	m["$schema"] = json.RawMessage(`"https://json-schema.org/draft/2020-12/schema"`)
	m["$defs"] = defs
	out, err := json.Marshal(m)
	if err != nil {
		return schema
	}
	return json.RawMessage(strings.ReplaceAll(string(out), `"`+schemas.EntitiesFile+`#/$defs/`, `"#/$defs/`))
}

func entityDefs() json.RawMessage {
	raw, err := schemas.FS.ReadFile(schemas.EntitiesFile)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	var doc struct {
		Defs json.RawMessage `json:"$defs"`
	}
	if json.Unmarshal(raw, &doc) != nil || doc.Defs == nil {
		return json.RawMessage(`{}`)
	}
	return doc.Defs
}

// bundleTypes returns the catalogue's types with self-contained schemas.
func bundleTypes(cat *event.Catalogue) []EventType {
	defs := entityDefs()
	types := cat.Types()
	bundled := make([]EventType, 0, len(types))
	for _, t := range types {
		bundled = append(bundled, EventType{Type: t.Name, Description: t.Description, Entity: t.Entity, Schema: bundle(t.Schema, defs), Example: t.Example})
	}
	return bundled
}

// EventTypes is the catalogue as GET /v1/event-types serves it, sorted by
// type. The slice is shared: do not change it.
func (s *Server) EventTypes() []EventType { return s.eventTypes }

func (s *Server) registerEventTypes() {
	s.eventTypes = bundleTypes(s.cat)
	bundled := s.eventTypes
	huma.Register(s.humaAPI, huma.Operation{
		OperationID: "list-event-types", Method: http.MethodGet, Path: "/v1/event-types",
		Summary: "The event-type catalogue", Tags: []string{"Events"},
		Security: []map[string][]string{{}}, // public
	}, func(ctx context.Context, _ *struct{}) (*eventTypesOut, error) {
		out := &eventTypesOut{}
		out.Body.Data = bundled
		return out, nil
	})
}
