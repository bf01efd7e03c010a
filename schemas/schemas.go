// Package schemas embeds the JSON Schemas (draft 2020-12) of the event envelope
// and of the entities carried in event values, and the event-type catalogue.
//
// The files are the single source of truth: envelope.schema.json (what a Blue
// service publishes), entities.schema.json (shared definitions referenced as
// entities.schema.json#/$defs/<name>) and catalogue.json (one entry per event
// type: type, description, entity, schema of currentValue/previousValue,
// example envelope). Schemas are identified by BaseURI plus the file name, so
// relative references resolve between files of this directory. Package
// internal/event compiles them.
package schemas

import "embed"

// BaseURI is the base of the schemas' $id values; a file's $id is BaseURI
// followed by its name.
const BaseURI = "https://github.com/bluehq/webhooks/schemas/"

// File names inside FS.
const (
	EnvelopeFile  = "envelope.schema.json"
	EntitiesFile  = "entities.schema.json"
	CatalogueFile = "catalogue.json"
)

// FS holds the schema files and the catalogue, at the root of the FS.
//
//go:embed *.json
var FS embed.FS
