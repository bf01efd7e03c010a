package event_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestHugeNumbersNameTheirField checks that a number whose exponent the
// jsonschema library cannot represent (it panicked on "rateLimit":
// 1e2000000, a WEBHOOK_* event's bounded field) is refused, naming the
// field, by every way in; and that big numbers within the bound pass.
func TestHugeNumbersNameTheirField(t *testing.T) {
	t.Parallel()
	c := loadCatalogue(t)
	hook := example(t, c, "WEBHOOK_TEST")
	with := func(field, number string) []byte {
		return mutate(t, hook, func(m map[string]any) { at(m, "currentValue")[field] = json.Number(number) })
	}
	tests := []struct {
		name, field, number string
		ok                  bool
	}{
		{name: "the finding", field: "rateLimit", number: "1e2000000"},
		{name: "negative", field: "rateLimit", number: "-1e2000000"},
		{name: "tiny", field: "rateLimit", number: "1e-2000000"},
		{name: "an integer field", field: "maxConcurrency", number: "1E2000000"},
		{name: "just over the bound", field: "rateLimit", number: "1e100001"},
		{name: "over the bound by its fraction", field: "rateLimit", number: "0.05e-99999"},
		{name: "a field without a numeric rule", field: "extra", number: "1e2000000"},
		{name: "the bound", field: "rateLimit", number: "1e100000", ok: true},
		{name: "beyond a float64", field: "rateLimit", number: "1e400", ok: true},
		{name: "zero with any exponent", field: "rateLimit", number: "0e2000000", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := with(tt.field, tt.number)
			_, verr := c.Validate(raw)
			_, cerr := c.Check(raw)
			_, berr := c.CheckBatch([]byte("[" + string(hook) + "," + string(raw) + "]"))
			if tt.ok {
				for _, err := range []error{verr, cerr, berr} {
					if err != nil && strings.Contains(err.Error(), "out of range") {
						t.Errorf("%s refused: %v", tt.number, err)
					}
				}
				return
			}
			field := "/currentValue/" + tt.field
			checkFieldError(t, verr, field, "out of range")
			checkFieldError(t, cerr, field, "out of range")
			checkFieldError(t, berr, "/1"+field, "out of range")
		})
	}
}
