package event

import (
	"reflect"
	"slices"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// A rule is a compiled JSON Schema (a *jsonschema.Schema of the library)
// read again for validating tokens without decoding them: it answers only
// "valid", or "not sure", and it must never answer "valid" for a value the
// library refuses. The callers then ask the library, which also words the
// errors. So the schemas stay the one definition of what is valid: a rule
// holds nothing that is not in them, and evaluates the keywords our schemas
// use the way the library does (validator.go of jsonschema/v6); a schema
// with any other keyword makes its rule answer "not sure" for every value.
type rule struct {
	sch *jsonschema.Schema

	anything bool // the schema true
	unsure   bool // the schema false, a keyword rules do not evaluate, a $ref cycle

	ref *rule // $ref, evaluated beside the other keywords (draft 2019 and later)

	types   uint8 // bits of typeBits; 0: any type
	integer bool  // "integer" is among the types but "number" is not: the library decides for numbers
	numeric bool  // minimum, maximum, exclusive..., multipleOf: the library decides for numbers

	enum    bool     // enum is set: a string must be one of strings; the library decides for other scalars
	strings []string // the enum's string values
	format  *jsonschema.Format

	minLength, maxLength int // -1: none
	pattern              jsonschema.Regexp

	properties   map[string]*rule
	required     []string
	additional   *rule // additionalProperties as a schema
	noAdditional bool  // additionalProperties: false
	items        *rule // items (draft 2020)
}

// typeBits maps a token kind to its JSON type's bit in rule.types.
var typeBits = [256]uint8{
	kindNull:   1 << 0,
	kindTrue:   1 << 1,
	kindFalse:  1 << 1,
	kindNumber: 1 << 2,
	kindString: 1 << 3,
	kindArray:  1 << 4,
	kindObject: 1 << 5,
}

var typeNames = map[string]uint8{
	"null": typeBits[kindNull], "boolean": typeBits[kindTrue], "number": typeBits[kindNumber],
	"string": typeBits[kindString], "array": typeBits[kindArray], "object": typeBits[kindObject],
}

// evaluated are the fields of jsonschema.Schema that rules evaluate, and
// inert those that do not affect validation as rules use it (annotations,
// identifiers, and anchors that only $dynamicRef and $recursiveRef resolve,
// which rules do not evaluate). Any other field set makes a rule unsure;
// a field a new version of the library adds is "any other".
var (
	evaluated = []string{
		"Bool", "Ref", "Types", "Enum", "Format", "Required", "Properties", "AdditionalProperties",
		"Items2020", "MinLength", "MaxLength", "Pattern",
		"Maximum", "Minimum", "ExclusiveMaximum", "ExclusiveMinimum", "MultipleOf",
	}
	inert = []string{
		"DraftVersion", "Location", "ID", "Anchor", "DynamicAnchor", "RecursiveAnchor",
		"Title", "Description", "Default", "Comment", "ReadOnly", "WriteOnly", "Examples", "Deprecated",
	}
)

// onlyKnownKeywords reports whether s sets no field but those rules evaluate
// or ignore.
func onlyKnownKeywords(s *jsonschema.Schema) bool {
	v := reflect.ValueOf(s).Elem()
	for _, f := range reflect.VisibleFields(v.Type()) {
		if !f.IsExported() || slices.Contains(evaluated, f.Name) || slices.Contains(inert, f.Name) {
			continue
		}
		if !v.FieldByIndex(f.Index).IsZero() {
			return false
		}
	}
	return true
}

// rules compiles the library's schemas into rules, sharing the rule of a
// schema referenced from several places.
type rules map[*jsonschema.Schema]*rule

func (rs rules) of(s *jsonschema.Schema) *rule {
	if r, ok := rs[s]; ok {
		return r
	}
	r := &rule{sch: s, minLength: -1, maxLength: -1}
	rs[s] = r
	switch {
	case !onlyKnownKeywords(s) || s.DraftVersion < 2020:
		r.unsure = true
		return r
	case s.Bool != nil:
		r.anything, r.unsure = *s.Bool, !*s.Bool
		return r
	}
	if s.Ref != nil {
		r.ref = rs.of(s.Ref)
	}
	if s.Types != nil {
		names := s.Types.ToStrings()
		for _, name := range names {
			r.types |= typeNames[name]
		}
		r.integer = slices.Contains(names, "integer") && !slices.Contains(names, "number")
		if r.types == 0 && !r.integer {
			r.unsure = true // a type the library knows and rules do not
		}
	}
	r.numeric = s.Maximum != nil || s.Minimum != nil || s.ExclusiveMaximum != nil || s.ExclusiveMinimum != nil || s.MultipleOf != nil
	if s.Enum != nil {
		r.enum = true
		for _, v := range s.Enum.Values {
			if str, ok := v.(string); ok {
				r.strings = append(r.strings, str)
			}
		}
	}
	r.format = s.Format
	if s.MinLength != nil {
		r.minLength = *s.MinLength
	}
	if s.MaxLength != nil {
		r.maxLength = *s.MaxLength
	}
	r.pattern = s.Pattern
	if len(s.Properties) > 0 {
		r.properties = make(map[string]*rule, len(s.Properties))
		for name, p := range s.Properties {
			r.properties[name] = rs.of(p)
		}
	}
	r.required = s.Required
	switch a := s.AdditionalProperties.(type) {
	case nil:
	case bool:
		r.noAdditional = !a
	case *jsonschema.Schema:
		r.additional = rs.of(a)
	default:
		r.unsure = true
	}
	if s.Items2020 != nil {
		r.items = rs.of(s.Items2020)
	}
	return r
}

// breakRefCycles makes unsure every rule whose chain of $refs comes back on
// itself; the library reports such a cycle as an error, and valid would
// follow it for ever.
func (rs rules) breakRefCycles() {
	var cyclic []*rule
	for _, r := range rs {
		steps := 0
		for next := r.ref; next != nil; next = next.ref {
			if steps++; steps > len(rs) {
				cyclic = append(cyclic, r)
				break
			}
		}
	}
	for _, r := range cyclic {
		r.unsure = true
	}
}

// valid reports whether the value at token i surely matches r: false means
// it does not, or that the library must decide.
func (l *lexer) valid(r *rule, i int) bool {
	for ; r != nil; r = r.ref {
		if !l.validOne(r, i) {
			return false
		}
	}
	return true
}

// validOne evaluates r's keywords other than $ref.
func (l *lexer) validOne(r *rule, i int) bool {
	switch {
	case r.unsure:
		return false
	case r.anything:
		return true
	}
	t := &l.toks[i]
	if r.types != 0 && r.types&typeBits[t.kind] == 0 || r.types == 0 && r.integer {
		if t.kind == kindNumber && r.integer {
			return l.libraryValid(r, i)
		}
		return false
	}
	switch t.kind {
	case kindObject:
		return r.format == nil && !r.enum && l.validObject(r, i)
	case kindArray:
		if r.format != nil || r.enum {
			return false
		}
		if r.items != nil {
			for j := i + 1; j < t.next; j = l.toks[j].next {
				if !l.valid(r.items, j) {
					return false
				}
			}
		}
		return true
	case kindString:
		return l.validString(r, i)
	case kindNumber:
		if r.numeric || r.enum || r.format != nil {
			return l.libraryValid(r, i)
		}
		return true
	default: // true, false, null
		if r.enum || r.format != nil {
			return l.libraryValid(r, i)
		}
		return true
	}
}

// validObject evaluates properties, additionalProperties and required. An
// object with a repeated key is one with the last value for it, decoded;
// rules check every value, which is stricter and so safe.
func (l *lexer) validObject(r *rule, i int) bool {
	end := l.toks[i].next
	for j := i + 1; j < end; {
		value := j + 1
		if p, ok := r.properties[string(l.text(j))]; ok {
			if !l.valid(p, value) {
				return false
			}
		} else if r.noAdditional || r.additional != nil && !l.valid(r.additional, value) {
			return false
		}
		j = l.toks[value].next
	}
	for _, name := range r.required {
		if l.member(i, name) < 0 {
			return false
		}
	}
	return true
}

func (l *lexer) validString(r *rule, i int) bool {
	b := l.text(i)
	if r.minLength >= 0 || r.maxLength >= 0 {
		n := utf8.RuneCount(b)
		if r.minLength >= 0 && n < r.minLength || r.maxLength >= 0 && n > r.maxLength {
			return false
		}
	}
	if r.enum && !slices.Contains(r.strings, string(b)) {
		return false
	}
	if r.pattern == nil && r.format == nil {
		return true
	}
	s := string(b)
	return (r.pattern == nil || r.pattern.MatchString(s)) && (r.format == nil || r.format.Validate(s) == nil)
}

// libraryValid asks the library about a scalar: its answer for the value is
// exact, and rare enough (integers, bounded numbers, enums of other types)
// to leave to it.
func (l *lexer) libraryValid(r *rule, i int) bool {
	return r.sch.Validate(l.scalarValue(i)) == nil
}

// member returns the index of the value token of the last member named
// name of the object at token i, or -1.
func (l *lexer) member(i int, name string) int {
	found := -1
	for j := i + 1; j < l.toks[i].next; j = l.toks[j+1].next {
		if string(l.text(j)) == name {
			found = j + 1
		}
	}
	return found
}
