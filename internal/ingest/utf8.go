package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// invalidUTF8 finds the first byte of body that is not UTF-8 (JSON must be,
// RFC 8259 section 8.1, and encoding/json would carry it into the signed
// deliveries as it is). It returns the JSON pointer of the string holding
// it ("/1/currentValue/title"; for a key, the member it names), "" when it
// is outside any, and the byte's offset; ok is false for valid UTF-8.
func invalidUTF8(body []byte) (pointer string, offset int, ok bool) {
	if utf8.Valid(body) {
		return "", 0, false
	}
	for offset < len(body) {
		r, n := utf8.DecodeRune(body[offset:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		offset += n
	}
	return pointerAt(body, offset), offset, true
}

// pointerAt returns the JSON pointer of the string of body that holds the
// byte at offset: the tokens are read in order until one ends past it.
func pointerAt(body []byte, offset int) string {
	type frame struct {
		array   bool
		index   int    // arrays: of the element being read
		key     string // objects: of the member being read
		wantKey bool   // objects: the next string is a key
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			b.WriteByte('/')
			if f.array {
				b.WriteString(strconv.Itoa(f.index))
			} else {
				b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(f.key))
			}
		}
		return b.String()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		past := dec.InputOffset() > int64(offset)
		n := len(stack)
		if d, isDelim := tok.(json.Delim); isDelim && (d == '}' || d == ']') {
			stack = stack[:n-1]
			if n > 1 && !stack[n-2].array {
				stack[n-2].wantKey = true
			}
			continue
		}
		if n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].wantKey = false
			if past {
				return path()
			}
			continue
		}
		if n > 0 && stack[n-1].array {
			stack[n-1].index++
		}
		if d, isDelim := tok.(json.Delim); isDelim {
			stack = append(stack, frame{array: d == '[', index: -1, wantKey: d == '{'})
			continue
		}
		if past {
			return path()
		}
		if n > 0 {
			stack[n-1].wantKey = !stack[n-1].array
		}
	}
}
