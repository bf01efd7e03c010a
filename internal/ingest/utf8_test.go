package ingest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzInvalidUTF8: no body makes the search panic; it reports exactly the
// bodies that are not UTF-8, at a byte that does not start a valid
// character, with a location that is a JSON pointer.
func FuzzInvalidUTF8(f *testing.F) {
	for _, s := range []string{"", "{}", "\xff", `{"a":"\xff"}`, `[1,{"b":["x","\xc3"]}]`, `{"\xff":1}`, `{"a":1e999,"b":"\xfe"}`, `[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		at, offset, bad := invalidUTF8(body)
		if bad == utf8.Valid(body) {
			t.Fatalf("invalidUTF8(%q) = %v, but utf8.Valid is %v", body, bad, utf8.Valid(body))
		}
		if !bad {
			return
		}
		if r, n := utf8.DecodeRune(body[offset:]); r != utf8.RuneError || n != 1 || !utf8.Valid(body[:offset]) {
			t.Fatalf("invalidUTF8(%q) points at byte %d, not the first invalid one", body, offset)
		}
		if at != "" && !strings.HasPrefix(at, "/") {
			t.Fatalf("invalidUTF8(%q) location %q is not a JSON pointer", body, at)
		}
	})
}
