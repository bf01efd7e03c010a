package event

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileOne(t *testing.T, schema string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource("mem://s.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := comp.Compile("mem://s.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestRulesUnsureOfOtherKeywords: a schema with a keyword rules do not
// evaluate makes them leave every value to the library, even one it
// accepts.
func TestRulesUnsureOfOtherKeywords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema, value string
	}{
		{name: "allOf", schema: `{"allOf":[{"type":"string"}]}`, value: `"x"`},
		{name: "anyOf", schema: `{"anyOf":[{"type":"string"}]}`, value: `"x"`},
		{name: "oneOf", schema: `{"oneOf":[{"type":"string"}]}`, value: `"x"`},
		{name: "not", schema: `{"not":{"type":"number"}}`, value: `"x"`},
		{name: "if", schema: `{"if":{"type":"string"},"then":{"minLength":1}}`, value: `"x"`},
		{name: "const", schema: `{"const":"x"}`, value: `"x"`},
		{name: "patternProperties", schema: `{"patternProperties":{"^a":{"type":"string"}}}`, value: `{"a":"x"}`},
		{name: "minProperties", schema: `{"minProperties":1}`, value: `{"a":1}`},
		{name: "propertyNames", schema: `{"propertyNames":{"maxLength":3}}`, value: `{"a":1}`},
		{name: "dependentRequired", schema: `{"dependentRequired":{"a":["b"]}}`, value: `{"a":1,"b":2}`},
		{name: "unevaluatedProperties", schema: `{"properties":{"a":true},"unevaluatedProperties":false}`, value: `{"a":1}`},
		{name: "prefixItems", schema: `{"prefixItems":[{"type":"number"}]}`, value: `[1]`},
		{name: "minItems", schema: `{"minItems":1}`, value: `[1]`},
		{name: "uniqueItems", schema: `{"uniqueItems":true}`, value: `[1]`},
		{name: "contains", schema: `{"contains":{"type":"number"}}`, value: `[1]`},
		{name: "maxItems", schema: `{"maxItems":1}`, value: `[1]`},
		{name: "false", schema: `false`, value: `1`},
		{name: "nested", schema: `{"properties":{"a":{"allOf":[true]}}}`, value: `{"a":1}`},
		{name: "behind a $ref", schema: `{"$ref":"#/$defs/a","$defs":{"a":{"minProperties":1}}}`, value: `{"a":1}`},
		{name: "$dynamicRef", schema: `{"$dynamicAnchor":"n","properties":{"a":{"$dynamicRef":"#n"}}}`, value: `{"a":{}}`},
		{name: "draft 7", schema: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}`, value: `"x"`},
		{name: "$ref cycle", schema: `{"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}`, value: `1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sch := compileOne(t, tc.schema)
			rs := rules{}
			r := rs.of(sch)
			rs.breakRefCycles()
			l := lex([]byte(tc.value))
			if l == nil {
				t.Fatal("lex failed")
			}
			defer l.release()
			if l.valid(r, 0) {
				t.Errorf("rule of %s accepts %s", tc.schema, tc.value)
			}
		})
	}
}

// TestRulesEvaluate: the keywords rules evaluate, on values the library
// accepts and refuses.
func TestRulesEvaluate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, schema string
		values       []string
	}{
		{name: "types", schema: `{"type":["string","null","boolean","object","array","number"]}`, values: []string{`"x"`, `null`, `true`, `{}`, `[]`, `1e400`}},
		{name: "integer", schema: `{"type":"integer","minimum":1}`, values: []string{`1`, `1.0`, `1.5`, `0`, `"1"`, `1e2`}},
		{name: "string lengths", schema: `{"minLength":2,"maxLength":3}`, values: []string{`"é"`, `"éé"`, `"\u00e9\u00e9\u00e9"`, `"éééé"`, "\"\xff\xff\"", `7`}},
		{name: "pattern", schema: `{"pattern":"^a+$"}`, values: []string{`"aa"`, `"\u0061"`, `"ab"`, `1`}},
		{name: "format", schema: `{"format":"date-time"}`, values: []string{`"2022-12-01T11:23:09Z"`, `"2022-12-01"`, `1`, `{}`}},
		{name: "enum", schema: `{"enum":["A",1,null]}`, values: []string{`"A"`, `"B"`, `1`, `1.0`, `2`, `null`, `true`}},
		{name: "object", schema: `{"required":["a"],"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"number"}}`,
			values: []string{`{"a":"x"}`, `{"a":"x","b":1}`, `{"a":"x","b":"y"}`, `{"b":1}`, `{"\u0061":"x"}`, `{"a":1,"a":"x"}`, `{"a":"x","a":1}`}},
		{name: "no additional", schema: `{"properties":{"a":true},"additionalProperties":false}`, values: []string{`{"a":1}`, `{"b":1}`, `{}`}},
		{name: "items", schema: `{"items":{"type":"string"}}`, values: []string{`[]`, `["a","b"]`, `["a",1]`, `"a"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sch := compileOne(t, tc.schema)
			rs := rules{}
			r := rs.of(sch)
			rs.breakRefCycles()
			decided := 0
			for _, value := range tc.values {
				l := lex([]byte(value))
				if l == nil {
					t.Fatalf("lex(%s) failed", value)
				}
				v, err := oracleDecode([]byte(value))
				if err != nil {
					t.Fatal(err)
				}
				libraryErr := sch.Validate(v)
				if l.valid(r, 0) {
					decided++
					if libraryErr != nil {
						t.Errorf("rule accepts %s, which the library refuses: %v", value, libraryErr)
					}
				}
				l.release()
			}
			if decided == 0 {
				t.Error("the rule decided none of the values")
			}
		})
	}
}

// TestRuleFieldNames: the fields rules name are fields of jsonschema.Schema.
func TestRuleFieldNames(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[jsonschema.Schema]()
	for _, name := range append(append([]string(nil), evaluated...), inert...) {
		if _, ok := typ.FieldByName(name); !ok {
			t.Errorf("jsonschema.Schema has no field %s", name)
		}
	}
}

// FuzzRulesMatchLibrary holds every rule to its schema on arbitrary JSON
// values, beyond the shapes an envelope gives them: a rule may only say
// "valid" for a value the library accepts.
func FuzzRulesMatchLibrary(f *testing.F) {
	c := testCatalogue(f)
	for _, typ := range c.Types() {
		var env struct{ CurrentValue json.RawMessage }
		json.Unmarshal(typ.Example, &env)
		f.Add([]byte(typ.Example))
		f.Add([]byte(env.CurrentValue))
	}
	f.Add([]byte(`{"id":"w","rateLimit":1e-9,"maxConcurrency":3,"status":"HEALTHY","secret":null,"events":["A"]}`))
	rs := rules{}
	envelope := rs.of(c.c.envelope)
	values := make(map[string]*rule, len(c.c.values))
	for name, sch := range c.c.values {
		values[name] = rs.of(sch)
	}
	rs.breakRefCycles()
	f.Fuzz(func(t *testing.T, raw []byte) {
		l := lex(raw)
		if l == nil {
			return
		}
		defer l.release()
		v, err := oracleDecode(raw)
		if err != nil {
			t.Fatalf("lexed what encoding/json refuses: %v", err)
		}
		check := func(name string, r *rule, sch *jsonschema.Schema) {
			if l.valid(r, 0) {
				if err := sch.Validate(v); err != nil {
					t.Fatalf("%s: rule accepts what the library refuses: %v", name, err)
				}
			}
		}
		check("envelope", envelope, c.c.envelope)
		for name, r := range values {
			check(name, r, c.c.values[name])
		}
	})
}
