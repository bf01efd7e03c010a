// Package bearer reads the token lists of the configuration
// (WEBHOOKS_API_TOKENS, WEBHOOKS_INGEST_TOKENS) and finds a request's bearer
// token among them in constant time. Its errors never show a token.
package bearer

import (
	"crypto/subtle"
	"fmt"
	"strings"
)

// Entry is one item of a token list: a token and what it is bound to,
// written after "=".
type Entry struct {
	Token   string
	Binding string
	Bound   bool // the item has "="
}

// ParseList splits "tok1=a,tok2=b,tok3" at the commas, skipping blank
// items. An item without a token, or with a token listed before, is an
// error naming the item by its position.
func ParseList(s string) ([]Entry, error) {
	var out []Entry
	first := map[string]int{}
	n := 0
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		n++
		var e Entry
		e.Token, e.Binding, e.Bound = strings.Cut(item, "=")
		if e.Token == "" {
			return nil, fmt.Errorf("entry %d (%s) has no token", n, e.Redacted())
		}
		if at, dup := first[e.Token]; dup {
			return nil, fmt.Errorf("entry %d repeats the token of entry %d: list each token once", n, at)
		}
		first[e.Token] = n
		out = append(out, e)
	}
	return out, nil
}

// Redacted is the entry as written, its token hidden: "***=companyA".
func (e Entry) Redacted() string {
	if e.Bound {
		return "***=" + e.Binding
	}
	return "***"
}

// Find returns what the token of an Authorization header value
// ("Bearer <token>") is bound to in tokens. It compares the token with
// every one of tokens, in constant time for tokens of the same length.
func Find(tokens map[string]string, authorization string) (binding string, ok bool) {
	tok, isBearer := strings.CutPrefix(authorization, "Bearer ")
	if !isBearer {
		return "", false
	}
	given := []byte(strings.TrimSpace(tok))
	found := 0
	for t, b := range tokens {
		if subtle.ConstantTimeCompare([]byte(t), given) == 1 {
			binding, found = b, 1
		}
	}
	return binding, found == 1
}
