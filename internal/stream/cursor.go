package stream

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// ErrBadCursor is returned for a cursor that was not given for the listing
// it is passed to: malformed, of another listing, or past the end of its
// stream.
var ErrBadCursor = errors.New("not a cursor of this listing: pass nextCursor as it was returned, or none to start again")

// Cursor is the nextCursor of a paged Scan that resumes after stream
// sequence seq. listing names what is being paged ("backfill:<webhookId>"),
// so that a cursor given for one listing is refused by another instead of
// resuming it at a place of the other's.
func Cursor(listing string, seq uint64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(listing + "@" + strconv.FormatUint(seq, 10)))
}

// ParseCursor returns the sequence of a cursor that Cursor made for
// listing. Errors: ErrBadCursor.
func ParseCursor(listing, cursor string) (uint64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, ErrBadCursor
	}
	digits, ok := strings.CutPrefix(string(raw), listing+"@")
	if !ok {
		return 0, ErrBadCursor
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 {
		return 0, ErrBadCursor
	}
	return seq, nil
}
