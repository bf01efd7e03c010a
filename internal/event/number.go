package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// maxExponent bounds the decimal exponent of a JSON number in an event
// (1e100000 is the largest power of ten accepted). The jsonschema library
// computes every number it validates exactly: it cannot represent an
// exponent beyond a million (it panicked on "rateLimit": 1e2000000), and
// the powers of ten it builds cost CPU quadratic in the exponent.
const maxExponent = 100_000

// numberInRange reports whether the JSON number s (of valid syntax) has a
// decimal exponent, once the digits after its point are counted, within
// ±maxExponent. Zero, however written, is in range.
func numberInRange(s []byte) bool {
	// Without an exponent, 300 characters have at most 300 digits after
	// the point.
	if len(s) <= 300 && bytes.IndexAny(s, "eE") < 0 {
		return true
	}
	i, frac, nonzero := 0, 0, false
	digits := func(count bool) {
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			nonzero = nonzero || s[i] != '0'
			if count {
				frac++
			}
		}
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits(false)
	if i < len(s) && s[i] == '.' {
		i++
		digits(true)
	}
	exp, neg := 0, false
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			if exp <= 10*maxExponent { // saturate: anything larger is out of range
				exp = exp*10 + int(s[i]-'0')
			}
		}
	}
	if neg {
		exp = -exp
	}
	e := exp - frac
	return !nonzero || -maxExponent <= e && e <= maxExponent
}

// outOfRange returns the error for the first number of v (decoded with
// UseNumber) that numberInRange refuses, in pointer order, or nil. prefix
// is v's pointer.
func outOfRange(v any, prefix string) *FieldError {
	var first *FieldError
	var walk func(v any, at []string)
	walk = func(v any, at []string) {
		switch v := v.(type) {
		case json.Number:
			if !numberInRange([]byte(v)) {
				if field := prefix + pointer(at); first == nil || field < first.Field {
					first = &FieldError{Field: field, Detail: fmt.Sprintf(
						"number %s is out of range: its decimal exponent must be between %d and %d", abbreviate(string(v)), -maxExponent, maxExponent)}
				}
			}
		case map[string]any:
			for k, item := range v {
				walk(item, append(at, k))
			}
		case []any:
			for i, item := range v {
				walk(item, append(at, strconv.Itoa(i)))
			}
		}
	}
	walk(v, nil)
	return first
}

// abbreviate shortens a long number for a message.
func abbreviate(s string) string {
	if len(s) <= 32 {
		return s
	}
	return s[:16] + "..." + s[len(s)-12:]
}
