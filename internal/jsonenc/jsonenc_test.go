package jsonenc

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"", "evt_01GK6PT5HSQ86JVMH6CYYBHF0Y", "TODO_CREATED", `quote " and \ backslash`,
		"<script>&amp;</script>", "tab\tnew\nline\r", "\x00\x1f", "héllo wörld", "\u2028\u2029",
		"bad utf8 \xff\xfe", "emoji 🎉",
	} {
		want, _ := json.Marshal(s)
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{
		0, 1, -1, 0.001, 1.5, 12.345, 1234.567, 1e-6, 9.99e-7, 1e-7, 1.5e-9, 1e-100,
		1e20, 1e21, 1.2345e22, 1e300, -2.5e-8, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2,
	} {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := AppendFloat(nil, f); string(got) != "null" {
			t.Errorf("AppendFloat(%v) = %s, want null", f, got)
		}
	}
}
