package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bluehq/webhooks/internal/registry"
)

// The served schemas are self-contained: each compiles alone and accepts
// its own example's currentValue.
func TestEventTypeSchemasSelfContained(t *testing.T) {
	t.Parallel()
	b := setup(t, registry.StoreConfig{})
	status, data := b.do(t, http.MethodGet, "/v1/event-types", "", nil)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	var out struct {
		Data []struct {
			Type    string          `json:"type"`
			Schema  json.RawMessage `json:"schema"`
			Example struct {
				CurrentValue json.RawMessage `json:"currentValue"`
			} `json:"example"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Data) == 0 {
		t.Fatalf("decode: %v", err)
	}
	for _, et := range out.Data {
		doc, err := jsonschema.UnmarshalJSON(bytesReader(et.Schema))
		if err != nil {
			t.Fatalf("%s: %v", et.Type, err)
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("mem://"+et.Type, doc); err != nil {
			t.Fatalf("%s: %v", et.Type, err)
		}
		sch, err := c.Compile("mem://" + et.Type)
		if err != nil {
			t.Errorf("%s: schema does not compile on its own: %v", et.Type, err)
			continue
		}
		v, _ := jsonschema.UnmarshalJSON(bytesReader(et.Example.CurrentValue))
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s: example currentValue invalid against the served schema: %v", et.Type, err)
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
