package event

import (
	"encoding/json"
	"sync"
	"unicode/utf8"
)

// A lexer splits one JSON text into tokens and, in the same pass, writes it
// compacted with <, > and & escaped, byte for byte as json.Marshal of a
// json.RawMessage writes it. It accepts only what encoding/json accepts; the
// other way round it may give up (nesting deeper than maxLexDepth, a
// number out of range), and the callers then take the path through
// encoding/json, whose errors they report.
type lexer struct {
	raw   []byte
	pos   int
	depth int
	toks  []token
	out   []byte // raw compacted and HTML-escaped
}

// token is one JSON value, or an object's key, in document order: an
// object's members follow it as key, value, key, value...; an array's
// elements follow it.
type token struct {
	kind  byte // one of the kind constants
	flags byte // strings: escaped, nonASCII
	// raw[start:end] is the value's text, quotes included for strings.
	start, end int
	// out[ostart:oend] is its compacted text.
	ostart, oend int
	// next is the index of the token after this value and everything in it.
	next int
}

// Token kinds: the first byte of the value, and the JSON types that have none.
const (
	kindObject = '{'
	kindArray  = '['
	kindString = '"'
	kindNumber = '0'
	kindTrue   = 't'
	kindFalse  = 'f'
	kindNull   = 'n'
)

// String token flags.
const (
	escaped  = 1 << iota // has a backslash escape
	nonASCII             // has a byte >= 0x80
)

// maxLexDepth bounds the nesting the lexer follows; deeper texts (which
// encoding/json accepts up to 10000 levels) go the slow way.
const maxLexDepth = 128

var lexers = sync.Pool{New: func() any { return new(lexer) }}

// lex tokenizes raw, which must be exactly one JSON value with nothing but
// white space around it. It returns nil if raw is not JSON, or if the
// lexer gives up. The lexer goes back to the pool with release.
func lex(raw []byte) *lexer {
	l := lexers.Get().(*lexer)
	l.raw, l.pos, l.depth, l.toks, l.out = raw, 0, 0, l.toks[:0], l.out[:0]
	if !l.value() {
		l.release()
		return nil
	}
	l.space()
	if l.pos != len(raw) {
		l.release()
		return nil
	}
	return l
}

// release returns l to the pool, unless it has grown for an unusually big
// text.
func (l *lexer) release() {
	l.raw = nil
	if cap(l.out) > 1<<20 || cap(l.toks) > 1<<15 {
		return
	}
	lexers.Put(l)
}

func (l *lexer) space() {
	for l.pos < len(l.raw) {
		switch l.raw[l.pos] {
		case ' ', '\t', '\r', '\n':
			l.pos++
		default:
			return
		}
	}
}

func (l *lexer) value() bool {
	l.space()
	if l.pos >= len(l.raw) {
		return false
	}
	switch c := l.raw[l.pos]; {
	case c == '{':
		return l.container(kindObject, '}')
	case c == '[':
		return l.container(kindArray, ']')
	case c == '"':
		return l.str()
	case c == '-' || '0' <= c && c <= '9':
		return l.number()
	case c == 't':
		return l.literal("true", kindTrue)
	case c == 'f':
		return l.literal("false", kindFalse)
	case c == 'n':
		return l.literal("null", kindNull)
	}
	return false
}

// container reads an object or an array; raw[pos] is its opening bracket.
func (l *lexer) container(kind, closing byte) bool {
	if l.depth++; l.depth > maxLexDepth {
		return false
	}
	i := len(l.toks)
	l.toks = append(l.toks, token{kind: kind, start: l.pos, ostart: len(l.out)})
	l.out = append(l.out, l.raw[l.pos])
	l.pos++
	l.space()
	if l.pos < len(l.raw) && l.raw[l.pos] == closing {
		l.pos++
	} else {
		for {
			if kind == kindObject {
				l.space()
				if l.pos >= len(l.raw) || l.raw[l.pos] != '"' || !l.str() {
					return false
				}
				l.space()
				if l.pos >= len(l.raw) || l.raw[l.pos] != ':' {
					return false
				}
				l.out = append(l.out, ':')
				l.pos++
			}
			if !l.value() {
				return false
			}
			l.space()
			if l.pos >= len(l.raw) {
				return false
			}
			c := l.raw[l.pos]
			l.pos++
			if c == closing {
				break
			}
			if c != ',' {
				return false
			}
			l.out = append(l.out, ',')
		}
	}
	l.out = append(l.out, closing)
	l.depth--
	t := &l.toks[i]
	t.end, t.oend, t.next = l.pos, len(l.out), len(l.toks)
	return true
}

// plainInString marks the bytes a string holds that need no attention:
// printable ASCII other than the quote, the backslash and the three that
// are escaped for HTML.
var plainInString = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// str reads a string; raw[pos] is its opening quote.
func (l *lexer) str() bool {
	raw, start := l.raw, l.pos
	t := token{kind: kindString, start: start, ostart: len(l.out)}
	i := start + 1
	copied := start // raw[copied:i] is still to be written to out
	for {
		for i < len(raw) && plainInString[raw[i]] {
			i++
		}
		if i >= len(raw) {
			return false
		}
		switch c := raw[i]; {
		case c == '"':
			i++
			l.out = append(l.out, raw[copied:i]...)
			t.end, t.oend = i, len(l.out)
			l.pos = i
			t.next = len(l.toks) + 1
			l.toks = append(l.toks, t)
			return true
		case c == '\\':
			t.flags |= escaped
			if i+1 >= len(raw) {
				return false
			}
			switch raw[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(raw) || !isHex(raw[i+2]) || !isHex(raw[i+3]) || !isHex(raw[i+4]) || !isHex(raw[i+5]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		case c == '<' || c == '>' || c == '&':
			l.out = append(l.out, raw[copied:i]...)
			l.out = append(l.out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			i++
			copied = i
		default: // c >= 0x80
			t.flags |= nonASCII
			// U+2028 and U+2029 are escaped too, as json.Marshal does.
			if c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && raw[i+2]&^1 == 0xA8 {
				l.out = append(l.out, raw[copied:i]...)
				l.out = append(l.out, '\\', 'u', '2', '0', '2', hexDigits[raw[i+2]&0xF])
				i += 3
				copied = i
			} else {
				i++
			}
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number reads a number as RFC 8259 (and encoding/json) spell it.
func (l *lexer) number() bool {
	raw, i := l.raw, l.pos
	digits := func() bool {
		n := i
		for i < len(raw) && '0' <= raw[i] && raw[i] <= '9' {
			i++
		}
		return i > n
	}
	if raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(raw) && raw[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	if !numberInRange(raw[l.pos:i]) {
		return false // the slow path names it
	}
	l.scalar(kindNumber, i)
	return true
}

func (l *lexer) literal(word string, kind byte) bool {
	end := l.pos + len(word)
	if end > len(l.raw) || string(l.raw[l.pos:end]) != word {
		return false
	}
	l.scalar(kind, end)
	return true
}

// scalar adds the number or literal raw[pos:end].
func (l *lexer) scalar(kind byte, end int) {
	t := token{kind: kind, start: l.pos, end: end, ostart: len(l.out), next: len(l.toks) + 1}
	l.out = append(l.out, l.raw[l.pos:end]...)
	t.oend = len(l.out)
	l.toks = append(l.toks, t)
	l.pos = end
}

// text returns the value of the string token i as encoding/json decodes it.
// It is a slice of the input unless the string has escapes or invalid
// UTF-8, which encoding/json replaces.
func (l *lexer) text(i int) []byte {
	t := &l.toks[i]
	b := l.raw[t.start+1 : t.end-1]
	if t.flags&escaped == 0 && (t.flags&nonASCII == 0 || utf8.Valid(b)) {
		return b
	}
	var s string
	if err := json.Unmarshal(l.raw[t.start:t.end], &s); err != nil {
		return nil // not reached: the lexer has read a valid string
	}
	return []byte(s)
}

// scalarValue returns the scalar token i decoded as encoding/json decodes
// into any with UseNumber, the form the jsonschema library validates.
func (l *lexer) scalarValue(i int) any {
	t := &l.toks[i]
	switch t.kind {
	case kindString:
		return string(l.text(i))
	case kindNumber:
		return json.Number(l.raw[t.start:t.end])
	case kindTrue:
		return true
	case kindFalse:
		return false
	}
	return nil
}
