package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// envReader reads environment variables into Config fields, keeping the
// first error, which names the variable. A variable that is unset leaves
// its field as it is, for WithDefaults to fill; one that is set but does
// not parse is an error. Every read calls getenv, error or not, so that
// ConfigVars sees every variable LoadConfig reads.
//
// A numeric field's zero value means "unset", so a variable set to 0 is
// refused (naming the variable) by the readers that take no zero, rather
// than read as the default; the bounds of each value are validate's.
type envReader struct {
	getenv Getenv
	err    error
}

func (r *envReader) fail(name string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", name, err)
	}
}

// str is the variable as it is ("" when unset).
func (r *envReader) str(name string) string { return r.getenv(name) }

// parse calls f with the variable when it is set; f's error is the
// variable's.
func (r *envReader) parse(name string, f func(string) error) {
	if v := r.getenv(name); v != "" {
		if err := f(v); err != nil {
			r.fail(name, err)
		}
	}
}

// int reads a whole number other than 0 into dst.
func (r *envReader) int(name string, dst *int) {
	var n int64
	if r.number(name, &n, false) {
		*dst = int(n)
	}
}

// int64 reads a whole number other than 0 into dst.
func (r *envReader) int64(name string, dst *int64) { r.number(name, dst, false) }

// intOrZero reads a whole number, 0 included, into dst.
func (r *envReader) intOrZero(name string, dst *int64) { r.number(name, dst, true) }

func (r *envReader) number(name string, dst *int64, zeroOK bool) bool {
	v := r.getenv(name)
	if v == "" {
		return false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil:
		r.fail(name, fmt.Errorf("%q is not an integer", v))
		return false
	case n == 0 && !zeroOK:
		r.fail(name, fmt.Errorf("%q must not be zero (leave %s unset for its default)", v, name))
		return false
	}
	*dst = n
	return true
}

// duration reads a duration other than 0 into dst.
func (r *envReader) duration(name string, dst *time.Duration) { r.timespan(name, dst, false) }

// durationOrZero reads a duration, 0 included, into dst.
func (r *envReader) durationOrZero(name string, dst *time.Duration) { r.timespan(name, dst, true) }

func (r *envReader) timespan(name string, dst *time.Duration, zeroOK bool) {
	v := r.getenv(name)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		r.fail(name, fmt.Errorf("%q is not a duration like 7s", v))
	case d == 0 && !zeroOK:
		r.fail(name, fmt.Errorf("%q must not be zero (leave %s unset for its default)", v, name))
	default:
		*dst = d
	}
}

// bool reads true or false (1 or 0, yes or no) into dst.
func (r *envReader) bool(name string, dst *bool) {
	switch v := strings.ToLower(r.getenv(name)); v {
	case "":
	case "true", "1", "yes":
		*dst = true
	case "false", "0", "no":
		*dst = false
	default:
		r.fail(name, fmt.Errorf("%q must be true or false", v))
	}
}
