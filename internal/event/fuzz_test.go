package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/bluehq/webhooks/internal/event"
)

// FuzzValidate checks that no input makes Validate or ValidateBatch panic,
// that every rejection is a *FieldError matching ErrInvalid, and that an
// accepted envelope survives a round trip: marshalled again, it validates
// to the same envelope.
func FuzzValidate(f *testing.F) {
	c := loadCatalogue(f)
	for _, typ := range c.Types() {
		f.Add([]byte(typ.Example))
	}
	for _, s := range []string{
		"", "null", "[]", "{}", `{"id":"e"}`, "[{}]", `{"a":1}{`, "\xff",
		`{"id":"e1","type":"WEBHOOK_TEST","occurredAt":"2022-12-01T11:23:09Z","companyId":"c","currentValue":{"id":"w"}}`,
		`{"id":"e1","type":"WEBHOOK_TEST","occurredAt":"2016-12-31T23:59:60Z","companyId":"c","currentValue":{"id":"w"},"previousValue":null}`,
		`{"id":"e1","type":"WEBHOOK_TEST","occurredAt":"2022-12-01t11:23:09.123456789123+23:59","companyId":"c","currentValue":{"id":"w","n":1e999}}`,
		`{"id":"e1","type":"WEBHOOK_TEST","occurredAt":"2022-12-01T11:23:09Z","companyId":"c","currentValue":{"id":"w","rateLimit":1e2000000}}`,
		`[{"id":"e1","type":"WEBHOOK_TEST","occurredAt":"2022-12-01T11:23:09Z","companyId":"c","currentValue":{"id":"w","maxConcurrency":-1e-2000000}}]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := c.Validate(raw)
		if err != nil {
			checkRejection(t, err)
		} else {
			checkAccepted(t, c, e)
		}
		if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '[' {
			return // ValidateBatch would call Validate again
		}
		batch, err := c.ValidateBatch(raw)
		if err != nil {
			checkRejection(t, err)
			return
		}
		for _, e := range batch {
			checkAccepted(t, c, e)
		}
	})
}

func checkRejection(t *testing.T, err error) {
	t.Helper()
	if _, ok := errors.AsType[*event.FieldError](err); !ok || !errors.Is(err, event.ErrInvalid) {
		t.Fatalf("rejection %T %v is not a *FieldError matching ErrInvalid", err, err)
	}
}

func checkAccepted(t *testing.T, c *event.Catalogue, e event.Envelope) {
	t.Helper()
	for _, id := range []string{e.ID, e.CompanyID} {
		if !event.ValidID(id) {
			t.Fatalf("accepted invalid id %q", id)
		}
	}
	for _, id := range []string{e.ProjectID, e.ActorID} {
		if id != "" && !event.ValidID(id) {
			t.Fatalf("accepted invalid id %q", id)
		}
	}
	if !c.Known(e.Type) {
		t.Fatalf("accepted unknown type %q", e.Type)
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("Marshal(accepted envelope): %v", err)
	}
	again, err := c.Validate(out)
	if err != nil {
		t.Fatalf("round trip rejected: %v\n%s", err, out)
	}
	if again.ID != e.ID || again.Type != e.Type || !again.OccurredAt.Equal(e.OccurredAt) ||
		again.CompanyID != e.CompanyID || again.ProjectID != e.ProjectID || again.ActorID != e.ActorID ||
		!jsonEqual(again.CurrentValue, e.CurrentValue) || !jsonEqual(again.PreviousValue, e.PreviousValue) {
		t.Fatalf("round trip changed the envelope:\n%+v\n%+v", e, again)
	}
}

// jsonEqual compares JSON texts ignoring insignificant white space and the
// escaping that json.Marshal applies to raw messages.
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	if bytes.Equal(ca.Bytes(), cb.Bytes()) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ja, _ := json.Marshal(va)
	jb, _ := json.Marshal(vb)
	return bytes.Equal(ja, jb)
}
