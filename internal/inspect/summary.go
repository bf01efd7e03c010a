package inspect

import (
	"bytes"
	"encoding/json"
	"iter"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// summary is what History reads of an attempt record: decoding only these
// fields (no error text, no response, no request) halves the cost of a
// first read.
type summary struct {
	DeliveryID string    `json:"deliveryId"`
	WebhookID  string    `json:"webhookId"`
	EventID    string    `json:"eventId"`
	EventType  string    `json:"eventType"`
	At         time.Time `json:"at"`
	Outcome    string    `json:"outcome"`
	StatusCode int       `json:"statusCode"`
	LatencyMs  float64   `json:"latencyMs"`
	ErrorClass string    `json:"errorClass"`
}

// summaries yields the records of one ATTEMPTS message, as records does.
func summaries(data []byte) iter.Seq[summary] {
	return func(yield func(summary) bool) {
		for line := range bytes.Lines(data) {
			var r summary
			if !decodeSummary(line, &r) && json.Unmarshal(line, &r) != nil {
				continue
			}
			if !yield(r) {
				return
			}
		}
	}
}

// decodeSummary reads r from one record as attempt.Record.AppendJSON writes
// it (a flat object; the request's object and the strings it does not keep
// are skipped) without reflection: a first read decodes a day of the
// company's attempts, and encoding/json was most of its time. It reports
// false for anything else (an escape in a field it keeps, a value of
// another shape), which the caller decodes with encoding/json instead.
func decodeSummary(line []byte, r *summary) bool {
	d := decoder{b: bytes.TrimSpace(line)}
	if !d.byte('{') {
		return false
	}
	*r = summary{}
	for first := true; ; first = false {
		if d.byte('}') {
			return d.i == len(d.b)
		}
		if !first && !d.byte(',') {
			return false
		}
		key, ok := d.plainString()
		if !ok || !d.byte(':') {
			return false
		}
		var dst *string
		switch key {
		case "deliveryId":
			dst = &r.DeliveryID
		case "webhookId":
			dst = &r.WebhookID
		case "eventId":
			dst = &r.EventID
		case "eventType":
			dst = &r.EventType
		case "outcome":
			dst = &r.Outcome
		case "errorClass":
			dst = &r.ErrorClass
		case "at":
			s, ok := d.plainString()
			if !ok {
				return false
			}
			at, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return false
			}
			r.At = at
			continue
		case "statusCode":
			n, err := strconv.Atoi(d.literal())
			if err != nil {
				return false
			}
			r.StatusCode = n
			continue
		case "latencyMs":
			f, err := strconv.ParseFloat(d.literal(), 64)
			if err != nil {
				return false
			}
			r.LatencyMs = f
			continue
		default:
			// encoding/json matches keys regardless of case.
			if keptKey(key) || !d.skip() {
				return false
			}
			continue
		}
		s, ok := d.plainString()
		if !ok {
			return false
		}
		*dst = s
	}
}

// keptKey reports whether key is, but for case, one summary keeps.
func keptKey(key string) bool {
	for _, k := range [...]string{"deliveryId", "webhookId", "eventId", "eventType", "at", "outcome", "statusCode", "latencyMs", "errorClass"} {
		if strings.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// decoder reads a JSON object of the shape attempt records have.
type decoder struct {
	b []byte
	i int
}

// byte consumes c if it is next.
func (d *decoder) byte(c byte) bool {
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// plainString reads a string without escapes.
func (d *decoder) plainString() (string, bool) {
	if !d.byte('"') {
		return "", false
	}
	end := bytes.IndexByte(d.b[d.i:], '"')
	if end < 0 {
		return "", false
	}
	s := d.b[d.i : d.i+end]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) { // encoding/json would replace invalid UTF-8
		return "", false
	}
	d.i += end + 1
	return string(s), true
}

// literal reads a number (or true, false, null) up to the next , or }.
func (d *decoder) literal() string {
	start := d.i
	for d.i < len(d.b) && d.b[d.i] != ',' && d.b[d.i] != '}' {
		d.i++
	}
	return string(d.b[start:d.i])
}

// skip passes over one value: a string (escapes and all), an object or
// array (nested, with strings in it), or a literal.
func (d *decoder) skip() bool {
	if d.i >= len(d.b) {
		return false
	}
	switch d.b[d.i] {
	case '"':
		return d.skipString()
	case '{', '[':
		depth := 0
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case '"':
				if !d.skipString() {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			d.i++
			if depth == 0 {
				return true
			}
		}
		return false
	default:
		return d.literal() != ""
	}
}

// skipString passes over a string, escapes included.
func (d *decoder) skipString() bool {
	d.i++ // the opening quote
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case '\\':
			d.i += 2
		case '"':
			d.i++
			return true
		default:
			d.i++
		}
	}
	return false
}
