package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The oracle is Check, CheckBatch and Validate as they were before they had
// a fast path: decode into any, validate with the jsonschema library,
// compact with json.Marshal. The differential and fuzz tests hold the
// catalogue's methods to exactly its results. Keep it as it is; its one
// addition since is the refusal of numbers out of range (outOfRange), which
// the library could not represent and panicked on.

func oracleCheck(c *Catalogue, raw []byte) (Checked, error) {
	obj, err := oracleCheckDecoded(c, raw)
	if err != nil {
		return Checked{}, err
	}
	compact, err := json.Marshal(json.RawMessage(raw))
	if err != nil {
		return Checked{}, &FieldError{Detail: err.Error()}
	}
	str := func(key string) string {
		s, _ := obj[key].(string)
		return s
	}
	return Checked{ID: str("id"), Type: str("type"), CompanyID: str("companyId"), ProjectID: str("projectId"), Raw: compact}, nil
}

func oracleValidate(c *Catalogue, raw []byte) (Envelope, error) {
	if _, err := oracleCheckDecoded(c, raw); err != nil {
		return Envelope{}, err
	}
	return unmarshal(raw)
}

func oracleCheckBatch(c *Catalogue, raw []byte) ([]Checked, error) {
	return oracleEachItem(c, raw, func(b []byte) (Checked, error) { return oracleCheck(c, b) })
}

func oracleValidateBatch(c *Catalogue, raw []byte) ([]Envelope, error) {
	return oracleEachItem(c, raw, func(b []byte) (Envelope, error) { return oracleValidate(c, b) })
}

func oracleCheckDecoded(c *Catalogue, raw []byte) (map[string]any, error) {
	v, err := oracleDecode(raw)
	if err != nil {
		return nil, err
	}
	if err := c.c.envelope.Validate(v); err != nil {
		return nil, schemaError(err, "")
	}
	obj, _ := v.(map[string]any)
	name, _ := obj["type"].(string)
	sch, ok := c.c.values[name]
	if !ok {
		return nil, &FieldError{Field: "/type", Detail: fmt.Sprintf("unknown event type %q", name)}
	}
	if err := sch.Validate(obj["currentValue"]); err != nil {
		return nil, schemaError(err, "/currentValue")
	}
	if prev := obj["previousValue"]; prev != nil {
		if err := sch.Validate(prev); err != nil {
			return nil, schemaError(err, "/previousValue")
		}
	}
	occurred, _ := obj["occurredAt"].(string)
	if _, err := parseTime(occurred); err != nil {
		return nil, err
	}
	return obj, nil
}

func oracleEachItem[T any](c *Catalogue, raw []byte, one func([]byte) (T, error)) ([]T, error) {
	if trimmed := bytes.TrimLeft(raw, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '[' {
		e, err := one(raw)
		if err != nil {
			return nil, err
		}
		return []T{e}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, syntaxError(err)
	}
	limit := c.MaxBatch
	if limit <= 0 {
		limit = DefaultMaxBatch
	}
	switch {
	case len(items) == 0:
		return nil, &FieldError{Detail: "batch is empty"}
	case len(items) > limit:
		return nil, &FieldError{Detail: fmt.Sprintf("batch has %d events, more than the limit of %d", len(items), limit)}
	}
	out := make([]T, len(items))
	for i, item := range items {
		e, err := one(item)
		if err != nil {
			fe, ok := errors.AsType[*FieldError](err)
			if !ok {
				fe = &FieldError{Detail: err.Error()}
			}
			return nil, &FieldError{Field: fmt.Sprintf("/%d%s", i, fe.Field), Detail: fe.Detail}
		}
		out[i] = e
	}
	return out, nil
}

func oracleDecode(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, notJSON("empty body")
		}
		return nil, syntaxError(err)
	}
	if rest := bytes.TrimLeft(raw[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, notJSON(fmt.Sprintf("unexpected data after the top-level value at byte %d", len(raw)-len(rest)+1))
	}
	if fe := outOfRange(v, ""); fe != nil {
		return nil, fe
	}
	return v, nil
}
