package event

import (
	"strings"
	"testing"
	"time"
)

func TestFormatID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ms   int64
		rnd  [10]byte
		want string
	}{
		{name: "zero", ms: 0, want: "evt_00000000000000000000000000"},
		{name: "all ones", ms: 1<<48 - 1, rnd: [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, want: "evt_7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
		// ULID spec example time: 1469918176385 ms is 01ARYZ6S41.
		{name: "ulid time", ms: 1469918176385, rnd: [10]byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 0x21}, want: "evt_01ARYZ6S410000000100000011"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := formatID(tc.ms, tc.rnd); got != tc.want {
				t.Errorf("formatID = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestFormatIDOrder(t *testing.T) {
	t.Parallel()
	hi := [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	for _, ms := range []int64{0, 1, 31, 32, 1669893789241, 1<<48 - 2} {
		if a, b := formatID(ms, hi), formatID(ms+1, [10]byte{}); a >= b {
			t.Errorf("formatID(%d, max) = %s >= formatID(%d, 0) = %s", ms, a, ms+1, b)
		}
	}
}

func TestNewIDCarriesTheTime(t *testing.T) {
	t.Parallel()
	before := time.Now().UnixMilli()
	id := NewID()
	after := time.Now().UnixMilli()
	var ms int64
	for _, c := range id[len(IDPrefix) : len(IDPrefix)+10] {
		ms = ms<<5 | int64(strings.IndexRune(crockford, c))
	}
	if ms < before || ms > after {
		t.Errorf("NewID() = %s carries %d ms, want between %d and %d", id, ms, before, after)
	}
}
