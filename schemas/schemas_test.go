package schemas_test

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/bluehq/webhooks/schemas"
)

func TestFiles(t *testing.T) {
	t.Parallel()
	for _, name := range []string{schemas.EnvelopeFile, schemas.EntitiesFile, schemas.CatalogueFile} {
		if _, err := fs.Stat(schemas.FS, name); err != nil {
			t.Errorf("%s not embedded: %v", name, err)
		}
	}
}

// TestSchemaIDs checks that every schema file declares draft 2020-12 and an
// $id of BaseURI plus its name, which relative $refs depend on.
func TestSchemaIDs(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(schemas.FS, "*.schema.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("Glob = %v, %v", names, err)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := fs.ReadFile(schemas.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			var head struct {
				Schema string `json:"$schema"`
				ID     string `json:"$id"`
			}
			if err := json.Unmarshal(data, &head); err != nil {
				t.Fatal(err)
			}
			if head.Schema != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %q", head.Schema)
			}
			if want := schemas.BaseURI + name; head.ID != want {
				t.Errorf("$id = %q, want %q", head.ID, want)
			}
		})
	}
}
