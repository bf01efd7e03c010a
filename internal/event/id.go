package event

import (
	"crypto/rand"
	"time"
)

// crockford is Crockford's base32 alphabet; its byte order is its sort order,
// so ids sort by time.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IDPrefix starts every id made by NewID.
const IDPrefix = "evt_"

// NewID returns a new event id: "evt_" followed by 26 characters in the ULID
// layout, 48 bits of Unix milliseconds then 80 random bits, in Crockford
// base32. Ids made in different milliseconds sort by time; ids made in the
// same millisecond are in random order.
func NewID() string {
	var r [10]byte
	rand.Read(r[:]) // never returns an error; it crashes the program instead
	return formatID(time.Now().UnixMilli(), r)
}

func formatID(ms int64, r [10]byte) string {
	var b [len(IDPrefix) + 26]byte
	copy(b[:], IDPrefix)
	t := b[len(IDPrefix):]
	u := uint64(ms)
	for i := 9; i >= 0; i-- {
		t[i] = crockford[u&31]
		u >>= 5
	}
	for half := range 2 {
		var v uint64
		for _, c := range r[half*5 : half*5+5] {
			v = v<<8 | uint64(c)
		}
		out := t[10+half*8 : 10+half*8+8]
		for i := 7; i >= 0; i-- {
			out[i] = crockford[v&31]
			v >>= 5
		}
	}
	return string(b[:])
}
