package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
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

func (s *Server) registerEventTypes() {
	huma.Register(s.humaAPI, huma.Operation{
		OperationID: "list-event-types", Method: http.MethodGet, Path: "/v1/event-types",
		Summary: "The event-type catalogue", Tags: []string{"Events"},
		Security: []map[string][]string{{}}, // public
	}, func(ctx context.Context, _ *struct{}) (*eventTypesOut, error) {
		out := &eventTypesOut{}
		for _, t := range s.cat.Types() {
			out.Body.Data = append(out.Body.Data, EventType{Type: t.Name, Description: t.Description, Entity: t.Entity, Schema: t.Schema, Example: t.Example})
		}
		return out, nil
	})
}
