package problem

import "unicode/utf8"

// MaxEcho is the most of a rejected value an error response shows: enough
// to recognise it, not enough to send a large body (or a secret pasted in
// the wrong field) back in full.
const MaxEcho = 64

// Clip returns s as an error response may show it: its first MaxEcho bytes,
// cut at a character boundary and followed by "…" when s is longer.
func Clip(s string) string {
	if len(s) <= MaxEcho {
		return s
	}
	cut := MaxEcho
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
