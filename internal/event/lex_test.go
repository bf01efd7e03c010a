package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// lexMatchesEncodingJSON fails t unless lex accepts only what encoding/json
// decodes as one value, and compacts it as json.Marshal of a
// json.RawMessage does.
func lexMatchesEncodingJSON(t *testing.T, raw []byte) (accepted bool) {
	t.Helper()
	l := lex(raw)
	if l == nil {
		return false
	}
	defer l.release()
	if _, err := oracleDecode(raw); err != nil {
		t.Fatalf("lex accepts %q, which encoding/json refuses: %v", raw, err)
	}
	want, err := json.Marshal(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.out, want) {
		t.Fatalf("lex compacts %q to\n%q\njson.Marshal writes\n%q", raw, l.out, want)
	}
	for i, tok := range l.toks {
		if got := l.out[tok.ostart:tok.oend]; !bytes.Equal(got, must(json.Marshal(json.RawMessage(raw[tok.start:tok.end])))) {
			t.Fatalf("token %d %q compacts to %q", i, raw[tok.start:tok.end], got)
		}
		if tok.kind == kindString {
			var s string
			if err := json.Unmarshal(raw[tok.start:tok.end], &s); err != nil || string(l.text(i)) != s {
				t.Fatalf("text of %q = %q, encoding/json decodes %q", raw[tok.start:tok.end], l.text(i), s)
			}
		}
	}
	return true
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestLex(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{name: "object", raw: ` { "a" : [ 1 , -0.5e+3 , true , false , null , "x" ] , "b" : { } } `, ok: true},
		{name: "html", raw: `{"a":"<b>&amp;</b>\u003c"}`, ok: true},
		{name: "line separators", raw: "[\"\u2028\u2029\xe2\x80\xe2\x80\xa8\"]", ok: true},
		{name: "escapes", raw: `["\"\\\/\b\f\n\r\t\u00e9\uD834\uDD1E\ud800"]`, ok: true},
		{name: "invalid UTF-8", raw: "[\"\xff\xed\xa0\x80\"]", ok: true},
		{name: "numbers", raw: `[0,-0,1e400,1E-2,0.0,123456789012345678901234567890]`, ok: true},
		{name: "exponent out of range: left to encoding/json", raw: `[1e2000000]`},
		{name: "zero with a huge exponent", raw: `[0e2000000,-0.0E-2000000]`, ok: true},
		{name: "scalar", raw: `"x"`, ok: true},
		{name: "empty", raw: ``},
		{name: "space", raw: ` `},
		{name: "two values", raw: `{}{}`},
		{name: "trailing comma", raw: `[1,]`},
		{name: "trailing comma in object", raw: `{"a":1,}`},
		{name: "missing colon", raw: `{"a" 1}`},
		{name: "key not a string", raw: `{1:1}`},
		{name: "leading zero", raw: `[01]`},
		{name: "bare dot", raw: `[1.]`},
		{name: "no integer part", raw: `[.5]`},
		{name: "plus", raw: `[+1]`},
		{name: "bare exponent", raw: `[1e]`},
		{name: "bare minus", raw: `[-]`},
		{name: "NaN", raw: `[NaN]`},
		{name: "short literal", raw: `[tru]`},
		{name: "long literal", raw: `[truee]`},
		{name: "control character", raw: "[\"\t\"]"},
		{name: "bad escape", raw: `["\x"]`},
		{name: "short unicode escape", raw: `["\u12"]`},
		{name: "bad unicode escape", raw: `["\u12g4"]`},
		{name: "unterminated string", raw: `["abc`},
		{name: "unclosed", raw: `[[]`},
		{name: "byte order mark", raw: "\ufeff{}"},
		{name: "vertical tab", raw: "\v{}"},
		{name: "as deep as followed", raw: strings.Repeat("[", maxLexDepth) + strings.Repeat("]", maxLexDepth), ok: true},
		{name: "deeper: left to encoding/json", raw: strings.Repeat("[", maxLexDepth+1) + strings.Repeat("]", maxLexDepth+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := lexMatchesEncodingJSON(t, []byte(tc.raw)); got != tc.ok {
				t.Errorf("lex(%q) accepted = %v, want %v", tc.raw, got, tc.ok)
			}
		})
	}
}

func FuzzLex(f *testing.F) {
	for _, typ := range testCatalogue(f).Types() {
		f.Add([]byte(typ.Example))
	}
	for _, s := range []string{`{"a":"<>&\u2028"}`, "[\"\xe2\x80\xa8\xff\"]", `[1e400,-0,"\ud800"]`, ` [ ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		lexMatchesEncodingJSON(t, raw)
	})
}
