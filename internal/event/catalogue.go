package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluehq/webhooks/schemas"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// DefaultMaxBatch is the most events ValidateBatch accepts in one array
// unless Catalogue.MaxBatch says otherwise.
const DefaultMaxBatch = 1000

// Type is one entry of the event-type catalogue. It marshals as the entry
// does in schemas/catalogue.json.
type Type struct {
	Name        string `json:"type"`
	Description string `json:"description"`
	// Entity names the definition in entities.schema.json that the values
	// are (todo, checklist, todoList, comment, webhook, ...).
	Entity string `json:"entity"`
	// Schema is the JSON Schema that currentValue and a non-null
	// previousValue must match. Its $refs are relative to schemas.BaseURI.
	Schema json.RawMessage `json:"schema"`
	// Example is a complete, valid envelope of this type.
	Example json.RawMessage `json:"example"`
}

// Catalogue knows the event types and validates envelopes. Its methods are
// safe for concurrent use; set MaxBatch before sharing it.
type Catalogue struct {
	// MaxBatch is the most events ValidateBatch accepts in one array; zero
	// or less means DefaultMaxBatch.
	MaxBatch int

	c *compiled
}

// compiled is the immutable result of compiling the embedded schemas.
type compiled struct {
	envelope *jsonschema.Schema
	types    []Type // sorted by name
	values   map[string]*jsonschema.Schema

	// The same schemas as rules, for the fast path of verify.
	envelopeRule *rule
	valueRules   map[string]*rule
}

// loadOnce compiles the embedded schemas the first time it is called; they
// cannot change at run time.
var loadOnce = sync.OnceValues(func() (*compiled, error) { return compile(schemas.FS) })

// LoadCatalogue returns the catalogue of the schemas embedded in package
// schemas, with MaxBatch set to DefaultMaxBatch. The schemas are compiled
// once per process. It returns an error if the embedded files are malformed,
// which the tests of this package rule out.
func LoadCatalogue() (*Catalogue, error) {
	c, err := loadOnce()
	if err != nil {
		return nil, err
	}
	return &Catalogue{MaxBatch: DefaultMaxBatch, c: c}, nil
}

func compile(fsys fs.FS) (*compiled, error) {
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()

	// Every *.schema.json file is a resource, so that the catalogue may
	// reference any of them.
	files, err := fs.Glob(fsys, "*.schema.json")
	if err != nil {
		return nil, err
	}
	for _, name := range files {
		if err := addResource(comp, fsys, name); err != nil {
			return nil, err
		}
	}

	entries, err := readCatalogue(fsys)
	if err != nil {
		return nil, err
	}
	c := &compiled{values: make(map[string]*jsonschema.Schema, len(entries))}
	for _, t := range entries {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(t.Schema))
		if err != nil {
			return nil, fmt.Errorf("catalogue: %s: schema: %w", t.Name, err)
		}
		// Same directory as the schema files: relative $refs resolve to them.
		url := schemas.BaseURI + schemas.CatalogueFile + "?type=" + t.Name
		if err := comp.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("catalogue: %s: %w", t.Name, err)
		}
		sch, err := comp.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("catalogue: %s: %w", t.Name, err)
		}
		c.values[t.Name] = sch
	}
	slices.SortFunc(entries, func(a, b Type) int { return strings.Compare(a.Name, b.Name) })
	c.types = entries

	if c.envelope, err = comp.Compile(schemas.BaseURI + schemas.EnvelopeFile); err != nil {
		return nil, err
	}
	rs := rules{}
	c.envelopeRule = rs.of(c.envelope)
	c.valueRules = make(map[string]*rule, len(c.values))
	for name, sch := range c.values {
		c.valueRules[name] = rs.of(sch)
	}
	rs.breakRefCycles()
	return c, nil
}

func addResource(comp *jsonschema.Compiler, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return comp.AddResource(schemas.BaseURI+name, doc)
}

// readCatalogue reads catalogue.json and checks what a schema cannot: that
// names are unique and every entry is complete.
func readCatalogue(fsys fs.FS) ([]Type, error) {
	data, err := fs.ReadFile(fsys, schemas.CatalogueFile)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var entries []Type
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("%s: %w", schemas.CatalogueFile, err)
	}
	seen := make(map[string]bool, len(entries))
	for i, t := range entries {
		switch {
		case !validTypeName(t.Name):
			return nil, fmt.Errorf("%s: entry %d: bad type %q", schemas.CatalogueFile, i, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("%s: type %s listed twice", schemas.CatalogueFile, t.Name)
		case t.Description == "" || t.Entity == "" || len(t.Schema) == 0 || len(t.Example) == 0:
			return nil, fmt.Errorf("%s: %s: description, entity, schema and example are required", schemas.CatalogueFile, t.Name)
		}
		seen[t.Name] = true
		for _, raw := range []*json.RawMessage{&entries[i].Schema, &entries[i].Example} {
			var b bytes.Buffer
			if err := json.Compact(&b, *raw); err != nil {
				return nil, err
			}
			*raw = b.Bytes()
		}
	}
	return entries, nil
}

// validTypeName is the type pattern of envelope.schema.json,
// ^[A-Z][A-Z0-9_]{0,63}$.
func validTypeName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Types returns the event types sorted by name. The slice is the caller's;
// the Schema and Example bytes are shared and must not be modified.
func (c *Catalogue) Types() []Type {
	return slices.Clone(c.c.types)
}

// Known reports whether name is an event type of the catalogue.
func (c *Catalogue) Known(name string) bool {
	_, ok := c.c.values[name]
	return ok
}

// Validate checks one envelope: raw must be a single JSON object (nothing
// after it but white space) matching the envelope schema, of a known type,
// whose currentValue and non-null previousValue match the type's schema. It
// returns the decoded envelope, or a *FieldError (matching ErrInvalid) that
// names the most specific field at fault.
func (c *Catalogue) Validate(raw []byte) (Envelope, error) {
	if _, ok := c.c.verifyOne(raw, false); !ok {
		if _, err := c.check(raw); err != nil {
			return Envelope{}, err
		}
	}
	return unmarshal(raw)
}

// Checked is an envelope that passed Check, as it arrived: the fields that
// route it, and its bytes to publish.
type Checked struct {
	ID, Type, CompanyID, ProjectID string
	// Raw is the envelope compacted, with <, > and & escaped in strings as
	// json.Marshal escapes them, so that what is published (and spliced
	// into every delivery body) is what a marshalled Envelope would be.
	Raw []byte
}

// Check validates raw as Validate does, without decoding it a second time
// into an Envelope: for publishers, which only route and store it.
func (c *Catalogue) Check(raw []byte) (Checked, error) {
	if e, ok := c.c.verifyOne(raw, true); ok {
		return e, nil
	}
	return c.checkDecoded(raw)
}

// checkDecoded is Check the slow way, which also finds the errors: the
// envelope decoded into any and validated by the jsonschema library.
func (c *Catalogue) checkDecoded(raw []byte) (Checked, error) {
	obj, err := c.check(raw)
	if err != nil {
		return Checked{}, err
	}
	compact, err := json.Marshal(json.RawMessage(raw))
	if err != nil { // check has decoded it: not reached
		return Checked{}, &FieldError{Detail: err.Error()}
	}
	str := func(key string) string {
		s, _ := obj[key].(string) // the schema has made sure of the type
		return s
	}
	return Checked{ID: str("id"), Type: str("type"), CompanyID: str("companyId"), ProjectID: str("projectId"), Raw: compact}, nil
}

// check validates raw and returns it decoded.
func (c *Catalogue) check(raw []byte) (map[string]any, error) {
	v, err := decode(raw)
	if err != nil {
		return nil, err
	}
	if err := c.c.envelope.Validate(v); err != nil {
		return nil, schemaError(err, "")
	}
	// The schema has made sure of both; a failed assertion gives an
	// unknown type "", not a panic.
	obj, _ := v.(map[string]any)
	name, _ := obj["type"].(string)
	sch, ok := c.c.values[name]
	if !ok {
		return nil, &FieldError{Field: "/type", Detail: fmt.Sprintf("unknown event type %q", name)}
	}
	if err := sch.Validate(obj["currentValue"]); err != nil {
		return nil, schemaError(err, "/currentValue")
	}
	if prev := obj["previousValue"]; prev != nil {
		if err := sch.Validate(prev); err != nil {
			return nil, schemaError(err, "/previousValue")
		}
	}
	// A time the schema accepts but Go cannot represent (a leap second).
	occurred, _ := obj["occurredAt"].(string)
	if _, err := parseTime(occurred); err != nil {
		return nil, err
	}
	return obj, nil
}

// ValidateBatch checks a body that is either one envelope or a JSON array of
// 1 to MaxBatch envelopes. It accepts all of them or none: the error, a
// *FieldError matching ErrInvalid, is about the first invalid item, and its
// Field starts with the item's index ("/2/companyId").
func (c *Catalogue) ValidateBatch(raw []byte) ([]Envelope, error) {
	return eachItem(c, raw, c.Validate)
}

// CheckBatch is ValidateBatch with Check for each envelope.
func (c *Catalogue) CheckBatch(raw []byte) ([]Checked, error) {
	if out, ok := c.verifyBatch(raw); ok {
		return out, nil
	}
	return eachItem(c, raw, c.Check)
}

func (c *Catalogue) maxBatch() int {
	if c.MaxBatch <= 0 {
		return DefaultMaxBatch
	}
	return c.MaxBatch
}

// eachItem applies one to raw, a single envelope, or to each item of raw, an
// array of envelopes.
func eachItem[T any](c *Catalogue, raw []byte, one func([]byte) (T, error)) ([]T, error) {
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '[' {
		e, err := one(raw)
		if err != nil {
			return nil, err
		}
		return []T{e}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, syntaxError(err)
	}
	limit := c.maxBatch()
	switch {
	case len(items) == 0:
		return nil, &FieldError{Detail: "batch is empty"}
	case len(items) > limit:
		return nil, &FieldError{Detail: fmt.Sprintf("batch has %d events, more than the limit of %d", len(items), limit)}
	}
	out := make([]T, len(items))
	for i, item := range items {
		e, err := one(item)
		if err != nil {
			fe, ok := errors.AsType[*FieldError](err)
			if !ok { // Validate and Check return nothing else
				fe = &FieldError{Detail: err.Error()}
			}
			return nil, &FieldError{Field: fmt.Sprintf("/%d%s", i, fe.Field), Detail: fe.Detail}
		}
		out[i] = e
	}
	return out, nil
}

// decode parses raw as exactly one JSON value, keeping numbers exact, and
// refuses a number out of range (numberInRange) before any reaches the
// jsonschema library.
func decode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, notJSON("empty body")
		}
		return nil, syntaxError(err)
	}
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, notJSON(fmt.Sprintf("unexpected data after the top-level value at byte %d", len(raw)-len(rest)+1))
	}
	if fe := outOfRange(v, ""); fe != nil {
		return nil, fe
	}
	return v, nil
}

// syntaxError describes a JSON syntax error with where it is.
func syntaxError(err error) *FieldError {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return notJSON("unexpected end of input")
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		if se.Error() == "unexpected end of JSON input" {
			return notJSON("unexpected end of input")
		}
		return notJSON(fmt.Sprintf("%v at byte %d", se, se.Offset)) // Offset: 1-based position of the bad byte
	}
	return notJSON(err.Error())
}

// wire is Envelope as received, with occurredAt parsed separately so that a
// time the schema accepts but Go cannot represent names its field.
type wire struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	OccurredAt    string          `json:"occurredAt"`
	CompanyID     string          `json:"companyId"`
	ProjectID     string          `json:"projectId"`
	ActorID       string          `json:"actorId"`
	CurrentValue  json.RawMessage `json:"currentValue"`
	PreviousValue json.RawMessage `json:"previousValue"`
}

// unmarshal decodes an envelope that has passed the schema.
func unmarshal(raw []byte) (Envelope, error) {
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Envelope{}, &FieldError{Detail: err.Error()}
	}
	at, err := parseTime(w.OccurredAt)
	if err != nil {
		return Envelope{}, err
	}
	prev := w.PreviousValue
	if string(prev) == "null" {
		prev = nil
	}
	return Envelope{
		ID:            w.ID,
		Type:          w.Type,
		OccurredAt:    at,
		CompanyID:     w.CompanyID,
		ProjectID:     w.ProjectID,
		ActorID:       w.ActorID,
		CurrentValue:  w.CurrentValue,
		PreviousValue: prev,
	}, nil
}

// parseTime reads occurredAt as time.Time unmarshals it.
func parseTime(s string) (time.Time, error) {
	var at time.Time
	if err := at.UnmarshalText([]byte(s)); err != nil {
		return time.Time{}, &FieldError{Field: "/occurredAt", Detail: "must be a valid date-time: " + err.Error()}
	}
	return at, nil
}
