package bearer_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/bluehq/webhooks/internal/bearer"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		list   string
		want   []bearer.Entry
		errHas string // "": valid
	}{
		{name: "empty", list: " , ,"},
		{name: "bound and bare", list: " tok-a=co1 ,tok-b", want: []bearer.Entry{{Token: "tok-a", Binding: "co1", Bound: true}, {Token: "tok-b"}}},
		{name: "empty binding", list: "tok-a=", want: []bearer.Entry{{Token: "tok-a", Bound: true}}},
		{name: "duplicate", list: "tok-a=co1,tok-b=co2,tok-a=co1", errHas: "entry 3 repeats the token of entry 1"},
		{name: "duplicate bare and bound", list: "tok-a,tok-a=co1", errHas: "entry 2 repeats the token of entry 1"},
		{name: "no token", list: "tok-a=co1,=co2", errHas: "entry 2 (***=co2) has no token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := bearer.ParseList(tc.list)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("ParseList(%q) = %v, want an error with %q", tc.list, err, tc.errHas)
				}
				if strings.Contains(err.Error(), "tok-") {
					t.Errorf("the error shows a token: %v", err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ParseList(%q) = %+v, %v; want %+v", tc.list, got, err, tc.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	tokens := map[string]string{"tok-a": "co1", "tok-b": ""}
	tests := []struct {
		name, header string
		binding      string
		ok           bool
	}{
		{name: "bound", header: "Bearer tok-a", binding: "co1", ok: true},
		{name: "bound to nothing", header: "Bearer tok-b", ok: true},
		{name: "spaces around the token", header: "Bearer  tok-a ", binding: "co1", ok: true},
		{name: "unknown", header: "Bearer tok-c"},
		{name: "prefix of a token", header: "Bearer tok-"},
		{name: "token plus more", header: "Bearer tok-ax"},
		{name: "empty", header: "Bearer "},
		{name: "no scheme", header: "tok-a"},
		{name: "other scheme", header: "Basic tok-a"},
		{name: "no header", header: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			binding, ok := bearer.Find(tokens, tc.header)
			if binding != tc.binding || ok != tc.ok {
				t.Errorf("Find(%q) = %q, %v; want %q, %v", tc.header, binding, ok, tc.binding, tc.ok)
			}
		})
	}
}
