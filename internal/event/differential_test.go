package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// The differential tests hold Check, CheckBatch, Validate and ValidateBatch
// to the oracle's results (oracle_test.go) for every input: the same
// envelopes accepted, the same *FieldError for the others, the same bytes.

func testCatalogue(t testing.TB) *Catalogue {
	t.Helper()
	c, err := LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fastAccepted reports whether the fast path decides raw, as Check tries it.
func fastAccepted(c *Catalogue, raw []byte) bool {
	l := lex(raw)
	if l == nil {
		return false
	}
	defer l.release()
	_, ok := c.c.verify(l, 0)
	return ok
}

// sameAsOracle fails t if any of the four methods differs from the oracle
// on raw. It reports whether Check took the fast path.
func sameAsOracle(t testing.TB, c *Catalogue, raw []byte) bool {
	t.Helper()
	got, err := c.Check(raw)
	want, wantErr := oracleCheck(c, raw)
	same(t, "Check", raw, got, err, want, wantErr)

	env, err := c.Validate(raw)
	wantEnv, wantErr := oracleValidate(c, raw)
	same(t, "Validate", raw, env, err, wantEnv, wantErr)

	batch, err := c.CheckBatch(raw)
	wantBatch, wantErr := oracleCheckBatch(c, raw)
	same(t, "CheckBatch", raw, batch, err, wantBatch, wantErr)

	envs, err := c.ValidateBatch(raw)
	wantEnvs, wantErr := oracleValidateBatch(c, raw)
	same(t, "ValidateBatch", raw, envs, err, wantEnvs, wantErr)
	return fastAccepted(c, raw)
}

func same[T any](t testing.TB, method string, raw []byte, got T, err error, want T, wantErr error) {
	t.Helper()
	if !reflect.DeepEqual(err, wantErr) {
		t.Fatalf("%s(%q):\nerror %#v\nwant  %#v", method, raw, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s(%q):\n got %+v\nwant %+v", method, raw, got, want)
	}
}

func TestFastPathAcceptsEveryExample(t *testing.T) {
	t.Parallel()
	c := testCatalogue(t)
	for _, typ := range c.Types() {
		if !fastAccepted(c, typ.Example) {
			t.Errorf("%s: the fast path leaves the catalogue's example to the library; does its schema use a keyword rules do not evaluate?", typ.Name)
		}
	}
}

// replacements are the values put in place of each value of the examples.
var replacements = []string{
	`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `1.5`, `1e400`, `-1E-400`, `12345678901234567890123`,
	`""`, `"x"`, `"<b>Tom & Jerry</b>"`, `"\u2028\u2029 é 𝄞"`, `"\u0000"`, `"evt_1"`, `"HEALTHY"`,
	`"2022-12-01T11:23:09Z"`, `[]`, `[1,"a",null]`, `{}`, `{"id":"x"}`, `{"id":1}`, `[{"id":"x"}]`,
}

// valuePaths lists the JSON pointers of every value in v, v included.
func valuePaths(v any, prefix []string, out *[][]string) {
	*out = append(*out, slices.Clone(prefix))
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			valuePaths(e, append(prefix, k), out)
		}
	case []any:
		for i, e := range v {
			valuePaths(e, append(prefix, strconv.Itoa(i)), out)
		}
	}
}

func decodeNumbers(t testing.TB, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// encode writes v without HTML escaping, so that <, > and & reach Check
// as they are; indent, if set, pretty-prints it.
func encode(t testing.TB, v any, indent string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// edit returns a deep copy of doc with the value at path replaced by repl
// (decoded), or deleted if repl is nil.
func edit(t testing.TB, doc any, path []string, repl []byte) any {
	t.Helper()
	doc = decodeNumbers(t, encode(t, doc, ""))
	var value any
	if repl != nil {
		value = decodeNumbers(t, repl)
	}
	if len(path) == 0 {
		return value
	}
	parent := doc
	for _, p := range path[:len(path)-1] {
		switch v := parent.(type) {
		case map[string]any:
			parent = v[p]
		case []any:
			i, _ := strconv.Atoi(p)
			parent = v[i]
		}
	}
	last := path[len(path)-1]
	switch v := parent.(type) {
	case map[string]any:
		if repl == nil {
			delete(v, last)
		} else {
			v[last] = value
		}
	case []any:
		i, _ := strconv.Atoi(last)
		if repl == nil {
			return edit(t, doc, path[:len(path)-1], encode(t, slices.Delete(v, i, i+1), ""))
		}
		v[i] = value
	}
	return doc
}

// TestDifferentialMutations puts every replacement in place of every value
// of the examples of a few types, and a few of them, in turn, in place of
// every value of the others; deletes every value; and adds members.
func TestDifferentialMutations(t *testing.T) {
	t.Parallel()
	c := testCatalogue(t)
	everyReplacement := map[string]bool{"TODO_CREATED": true, "WEBHOOK_TEST": true, "COMMENT_UPDATED": true}
	var fast, total atomic.Int64
	for _, typ := range c.Types() {
		t.Run(typ.Name, func(t *testing.T) {
			t.Parallel()
			doc := decodeNumbers(t, typ.Example)
			var paths [][]string
			valuePaths(doc, nil, &paths)
			n := 0
			check := func(raw []byte) {
				t.Helper()
				if n++; raceEnabled && n%8 != 1 {
					return
				}
				total.Add(1)
				if sameAsOracle(t, c, raw) {
					fast.Add(1)
				}
			}
			check(typ.Example)
			check(encode(t, doc, "\t"))
			for p, path := range paths {
				check(encode(t, edit(t, doc, path, nil), ""))
				for k, repl := range replacements {
					if everyReplacement[typ.Name] || k%8 == p%8 {
						check(encode(t, edit(t, doc, path, []byte(repl)), ""))
					}
				}
				if obj, ok := editAt(doc, path).(map[string]any); ok && obj != nil {
					for _, member := range []string{`{"x":1}`, `{"<&>":"é"}`, `{"id":"c1"}`} {
						var extra map[string]any
						json.Unmarshal([]byte(member), &extra)
						for k, v := range extra {
							raw, _ := json.Marshal(v)
							check(encode(t, edit(t, doc, append(slices.Clone(path), k), raw), ""))
						}
					}
				}
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("%d inputs, %d decided by the fast path", total.Load(), fast.Load())
		if fast.Load() < total.Load()/4 {
			t.Errorf("the fast path decided only %d of %d inputs", fast.Load(), total.Load())
		}
	})
}

func editAt(doc any, path []string) any {
	for _, p := range path {
		switch v := doc.(type) {
		case map[string]any:
			doc = v[p]
		case []any:
			i, _ := strconv.Atoi(p)
			doc = v[i]
		default:
			return nil
		}
	}
	return doc
}

// TestDifferentialText edits the examples' text: escapes, invalid UTF-8,
// repeated members, white space, dates, numbers, nesting, truncation.
func TestDifferentialText(t *testing.T) {
	t.Parallel()
	c := testCatalogue(t)
	created := string(c.exampleOf(t, "TODO_CREATED"))
	webhook := string(c.exampleOf(t, "WEBHOOK_TEST"))
	replace := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("%q is not in the example", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	inCurrent := func(s, members string) string { return replace(s, `"currentValue":{`, `"currentValue":{`+members) }
	nested := func(depth int) string { return strings.Repeat("[", depth) + strings.Repeat("]", depth) }
	var inputs []string
	for _, ex := range []string{created, webhook} {
		inputs = append(inputs,
			// Escapes in keys and values decode to what they spell.
			replace(ex, `"id":`, `"\u0069d":`),
			replace(ex, `"type":`, `"typ\u0065":`),
			escapeFirst(ex, "type"),
			escapeFirst(ex, "companyId"),
			replace(ex, `"companyId":"`, `"companyId":"\/`),
			replace(ex, `"occurredAt":"2`, `"occurredAt":"\u0032`),
			inCurrent(ex, `"title":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud834\udd1e\ud800\udfff\ud800 x",`),
			inCurrent(ex, `"title":"<script>&amp;</script>",`),
			inCurrent(ex, `"ti\u0074le":7,`),
			inCurrent(ex, `"id":"",`),
			inCurrent(ex, `"id":"\u0000",`),
			// Invalid UTF-8, which encoding/json replaces with U+FFFD.
			inCurrent(ex, "\"title\":\"\xff\xfe é \xed\xa0\x80 \xe2\x80\xa8 \xe2\x80\xa9 \xe2\x80\",\"x\xff\":1,"),
			replace(ex, `"companyId":"`, "\"companyId\":\"\xff"),
			replace(ex, `"id":`, "\"id\xff\":\"e\",\"id\":"),
			inCurrent(ex, "\"id\":\"\xff\","),
			// Repeated members: the last counts.
			replace(ex, `{"id":"`, `{"id":"first","id":"`),
			replace(ex, `{"id":"`, `{"type":"NOPE","id":"`),
			replace(ex, `{"id":"`, `{"type":"WEBHOOK_TEST","type":"TODO_CREATED","id":"`),
			replace(ex, `{"id":"`, `{"currentValue":{},"id":"`),
			replace(ex, `{"id":"`, `{"currentValue":7,"id":"`),
			replace(ex, `{"id":"`, `{"previousValue":{},"id":"`),
			replace(ex, `{"id":"`, `{"occurredAt":"2016-12-31T23:59:60Z","id":"`),
			ex[:len(ex)-1]+`,"occurredAt":"2016-12-31T23:59:60Z"}`,
			ex[:len(ex)-1]+`,"previousValue":null}`,
			ex[:len(ex)-1]+`,"previousValue":{"id":"p"}}`,
			ex[:len(ex)-1]+`,"projectId":"p2","projectId":"p3"}`,
			inCurrent(ex, `"id":7,`),
			inCurrent(ex, `"id":"x","id":"y",`),
			// White space, inside and around.
			" \t\r\n"+ex+" \t\r\n",
			strings.ReplaceAll(ex, `,"`, ", \n\t\"" /* between members */),
			strings.ReplaceAll(ex, `":`, "\" :\r\n"),
			"\ufeff"+ex, "\v"+ex, ex+"\u00a0", ex+"\x00", ex+" ", ex+" x", ex+ex, ex+"}", "["+ex+"]", "["+ex+",]",
			// Dates the schema's format and time.Time read differently.
			replace(ex, `"occurredAt":"2022-12-01T11:2`, `"occurredAt":"2016-12-31T23:59:60Z","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"2022-12-01t11:23:09z","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"2022-12-01T11:23:09.123456789123+23:59","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"2022-12-01T11:23:09-00:00","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"2022-12-01T24:00:00Z","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"2022-12-01 11:23:09Z","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"0000-01-01T00:00:00Z","x":"`),
			replace(ex, `"occurredAt":"`, `"occurredAt":"2022-12-01T11:23:09,5Z","x":"`),
			// Numbers.
			inCurrent(ex, `"estimate":1e400,"n2":-0,"n3":0.0e0,"n4":1E+2,"n5":123456789012345678901234567890,`),
			inCurrent(ex, `"position":1e400,`),
			inCurrent(ex, `"position":01,`),
			inCurrent(ex, `"position":1.,`),
			inCurrent(ex, `"position":.5,`),
			inCurrent(ex, `"position":+1,`),
			inCurrent(ex, `"position":-,`),
			inCurrent(ex, `"position":1e,`),
			inCurrent(ex, `"position":NaN,`),
			inCurrent(ex, `"done":tru,`),
			inCurrent(ex, `"done":nul,`),
			// Nesting, up to and past what the lexer follows and what encoding/json accepts.
			inCurrent(ex, `"value":`+nested(maxLexDepth-3)+`,`),
			inCurrent(ex, `"value":`+nested(maxLexDepth-2)+`,`),
			inCurrent(ex, `"value":`+nested(maxLexDepth+5)+`,`),
			inCurrent(ex, `"value":`+nested(10001)+`,`),
			inCurrent(ex, `"value":`+strings.Repeat(`{"a":`, 60)+"1"+strings.Repeat("}", 60)+`,`),
		)
		for n := range len(ex) {
			inputs = append(inputs, ex[:n])
		}
	}
	inputs = append(inputs,
		// The webhook's schema: a numeric bound, an integer, an enum, a maxLength.
		inCurrent(webhook, `"rateLimit":0,`), inCurrent(webhook, `"rateLimit":1e-400,`), inCurrent(webhook, `"rateLimit":-1,`),
		inCurrent(webhook, `"rateLimit":0.5,`), inCurrent(webhook, `"rateLimit":null,`), inCurrent(webhook, `"rateLimit":"1",`),
		inCurrent(webhook, `"rateLimit":1e100000,`), inCurrent(webhook, `"rateLimit":1e100001,`),
		inCurrent(webhook, `"rateLimit":1e2000000,`), inCurrent(webhook, `"rateLimit":-1e2000000,`),
		inCurrent(webhook, `"rateLimit":1e-2000000,`), inCurrent(webhook, `"rateLimit":0e2000000,`),
		inCurrent(webhook, `"rateLimit":1.5e100001,`), inCurrent(webhook, `"maxConcurrency":1E2000000,`),
		inCurrent(webhook, `"n":1e2000000,`), inCurrent(webhook, `"n":[1,{"m":1e2000000}],`),
		inCurrent(webhook, `"maxConcurrency":1,`), inCurrent(webhook, `"maxConcurrency":1.0,`), inCurrent(webhook, `"maxConcurrency":1.5,`),
		inCurrent(webhook, `"maxConcurrency":0,`), inCurrent(webhook, `"maxConcurrency":1e2,`), inCurrent(webhook, `"maxConcurrency":null,`),
		inCurrent(webhook, `"maxConcurrency":true,`), inCurrent(webhook, `"maxConcurrency":12345678901234567890123,`),
		inCurrent(webhook, `"status":"HEALTHY",`), inCurrent(webhook, `"status":"UNHEALTHY",`), inCurrent(webhook, `"status":"healthy",`),
		inCurrent(webhook, `"status":null,`), inCurrent(webhook, `"status":1,`), inCurrent(webhook, `"status":"\u0048EALTHY",`),
		inCurrent(webhook, `"secret":"",`), inCurrent(webhook, `"secret":null,`), inCurrent(webhook, `"secret":"s",`), inCurrent(webhook, `"secret":"\u0000",`),
		inCurrent(webhook, `"events":["A",1],`), inCurrent(webhook, `"events":[],`), inCurrent(webhook, `"events":{},`),
		"", " ", "null", "{}", "[]", "[{}]", `"x"`, "1", "\xff", `{"a":1}{`,
	)
	for _, raw := range inputs {
		sameAsOracle(t, c, []byte(raw))
	}
}

// escapeFirst spells the first character of the string member key of ex
// as a \u escape.
func escapeFirst(ex, key string) string {
	at := strings.Index(ex, `"`+key+`":"`) + len(key) + 4
	return ex[:at] + fmt.Sprintf(`\u%04x`, ex[at]) + ex[at+1:]
}

func (c *Catalogue) exampleOf(t testing.TB, name string) []byte {
	t.Helper()
	for _, typ := range c.c.types {
		if typ.Name == name {
			return typ.Example
		}
	}
	t.Fatalf("no type %s", name)
	return nil
}

func TestDifferentialBatches(t *testing.T) {
	t.Parallel()
	created := testCatalogue(t).exampleOf(t, "TODO_CREATED")
	bad := bytes.Replace(created, []byte(`"companyId":"`), []byte(`"companyId":".`), 1)
	deep := bytes.Replace(created, []byte(`"currentValue":{`), []byte(`"currentValue":{"v":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)+`,`), 1)
	items := func(list ...[]byte) string { return string(bytes.Join(list, []byte(","))) }
	for _, tc := range []struct {
		name     string
		raw      string
		maxBatch int
	}{
		{name: "one", raw: "[" + items(created) + "]"},
		{name: "three with white space", raw: " \n[ " + items(created, created, created) + " \t]\r\n"},
		{name: "items with white space", raw: "[\n" + items([]byte(" "+string(created)+" "), created) + "\n]"},
		{name: "bad second", raw: "[" + items(created, bad, bad) + "]"},
		{name: "deep second", raw: "[" + items(created, deep) + "]"},
		{name: "deep and bad", raw: "[" + items(deep, bad) + "]"},
		{name: "at the limit", raw: "[" + items(created, created) + "]", maxBatch: 2},
		{name: "over the limit", raw: "[" + items(created, created, created) + "]", maxBatch: 2},
		{name: "over the limit, invalid", raw: "[" + items(bad, bad, bad) + "]", maxBatch: 2},
		{name: "empty", raw: "[ ]"},
		{name: "nested", raw: "[[" + items(created) + "]]"},
		{name: "numbers", raw: "[1,2]"},
		{name: "null item", raw: "[" + items(created, []byte("null")) + "]"},
		{name: "trailing comma", raw: "[" + items(created) + ",]"},
		{name: "trailing data", raw: "[" + items(created) + "] []"},
		{name: "unclosed", raw: "[" + items(created)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testCatalogue(t)
			c.MaxBatch = tc.maxBatch
			sameAsOracle(t, c, []byte(tc.raw))
		})
	}
}

// FuzzCheckMatchesOracle holds the four methods to the oracle on arbitrary
// input. Seeds: the examples, and testdata/fuzz.
func FuzzCheckMatchesOracle(f *testing.F) {
	c := testCatalogue(f)
	for _, typ := range c.Types() {
		f.Add([]byte(typ.Example))
		f.Add([]byte("[" + string(typ.Example) + "," + string(typ.Example) + "]"))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sameAsOracle(t, c, raw)
	})
}
