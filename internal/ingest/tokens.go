package ingest

import (
	"fmt"

	"github.com/bluehq/webhooks/internal/bearer"
	"github.com/bluehq/webhooks/internal/event"
)

// What an ingest token may publish for, besides one companyId.
const (
	// AllCompanies ("tok=*") publishes for every company: for trusted
	// services that publish on behalf of all of them.
	AllCompanies = "*"
	// Unbound (a bare "tok") publishes for every company too, as ingest
	// tokens did before they could be bound; say AllCompanies instead.
	Unbound = ""
)

// Tokens maps ingest bearer tokens to what each may publish for: a
// companyId, AllCompanies or Unbound.
type Tokens map[string]string

// ParseTokens reads "tok1=companyA,tok2=*,tok3". A token listed twice is an
// error; no error shows a token.
func ParseTokens(s string) (Tokens, error) {
	entries, err := bearer.ParseList(s)
	if err != nil {
		return nil, fmt.Errorf("ingest tokens: %w", err)
	}
	out := Tokens{}
	for _, e := range entries {
		switch {
		case !e.Bound:
			out[e.Token] = Unbound
		case e.Binding == AllCompanies || event.ValidID(e.Binding):
			out[e.Token] = e.Binding
		default:
			return nil, fmt.Errorf("ingest tokens: entry %q: want token=companyId with companyId of [A-Za-z0-9_-]{1,64}, or token=* for every company", e.Redacted())
		}
	}
	return out, nil
}

// Unbound counts the tokens listed without "=".
func (t Tokens) Unbound() int {
	n := 0
	for _, b := range t {
		if b == Unbound {
			n++
		}
	}
	return n
}

// allows reports whether a token bound to binding may publish for company.
func allows(binding, company string) bool {
	return binding == AllCompanies || binding == Unbound || binding == company
}
