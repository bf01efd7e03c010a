package event

import "bytes"

// The fast path: Check, CheckBatch and Validate first try to accept a body
// from its tokens (lex.go) and the schemas' rules (rule.go), without
// decoding it. Whatever they are not sure of, they decode and validate
// with the jsonschema library as before, which also words the errors.

// verify is check on tokens, without decoding: it reports whether the
// envelope at token i is surely valid, and returns its routing fields (not
// Raw). false means that it is not, or that check must decide; verify never
// reports true for an envelope that check refuses. Like check, it reads the
// last of repeated members.
func (c *compiled) verify(l *lexer, i int) (Checked, bool) {
	if l.toks[i].kind != kindObject || !l.valid(c.envelopeRule, i) {
		return Checked{}, false
	}
	// The value tokens of the members; one pass, as a key may need decoding.
	id, typ, occurred, company, project, current, previous := -1, -1, -1, -1, -1, -1, -1
	for j := i + 1; j < l.toks[i].next; j = l.toks[j+1].next {
		switch string(l.text(j)) {
		case "id":
			id = j + 1
		case "type":
			typ = j + 1
		case "occurredAt":
			occurred = j + 1
		case "companyId":
			company = j + 1
		case "projectId":
			project = j + 1
		case "currentValue":
			current = j + 1
		case "previousValue":
			previous = j + 1
		}
	}
	ok := true
	str := func(j int) string {
		switch {
		case j < 0:
			return ""
		case l.toks[j].kind != kindString: // the schema has made sure of the type
			ok = false
			return ""
		}
		return string(l.text(j))
	}
	e := Checked{ID: str(id), Type: str(typ), CompanyID: str(company), ProjectID: str(project)}
	at := str(occurred)
	r, known := c.valueRules[e.Type]
	if !ok || !known || current < 0 || !l.valid(r, current) {
		return Checked{}, false
	}
	if previous >= 0 && l.toks[previous].kind != kindNull && !l.valid(r, previous) {
		return Checked{}, false
	}
	if _, err := parseTime(at); err != nil {
		return Checked{}, false
	}
	return e, true
}

// verifyOne is verify for a body holding one envelope; with compact, the
// result's Raw is set.
func (c *compiled) verifyOne(raw []byte, compact bool) (Checked, bool) {
	l := lex(raw)
	if l == nil {
		return Checked{}, false
	}
	defer l.release()
	e, ok := c.verify(l, 0)
	if ok && compact {
		e.Raw = bytes.Clone(l.out)
	}
	return e, ok
}

// verifyBatch is CheckBatch on tokens, for bodies that verify accepts: one
// pass over the whole body, and one buffer for all the items' Raw.
func (c *Catalogue) verifyBatch(raw []byte) ([]Checked, bool) {
	l := lex(raw)
	if l == nil {
		return nil, false
	}
	defer l.release()
	if l.toks[0].kind != kindArray {
		e, ok := c.c.verify(l, 0)
		if !ok {
			return nil, false
		}
		e.Raw = bytes.Clone(l.out)
		return []Checked{e}, true
	}
	n := 0
	for j := 1; j < l.toks[0].next; j = l.toks[j].next {
		n++
	}
	if n == 0 || n > c.maxBatch() {
		return nil, false
	}
	out := make([]Checked, 0, n)
	compact := bytes.Clone(l.out)
	for j := 1; j < l.toks[0].next; j = l.toks[j].next {
		e, ok := c.c.verify(l, j)
		if !ok {
			return nil, false
		}
		t := &l.toks[j]
		e.Raw = compact[t.ostart:t.oend:t.oend] // the item compacted on its own
		out = append(out, e)
	}
	return out, true
}
