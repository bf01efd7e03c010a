// Package retry decides when a failed delivery is tried again: the retry
// schedule with jitter, and the parsing of the schedule string and of the
// receiver's Retry-After header.
package retry

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultSchedule is the delay before each retry after the first attempt.
const DefaultSchedule = "5s,5m,30m,2h,5h,10h,10h"

// DefaultDelays returns the delays of DefaultSchedule.
func DefaultDelays() []time.Duration {
	d, err := ParseSchedule(DefaultSchedule)
	if err != nil {
		panic("retry: DefaultSchedule does not parse: " + err.Error())
	}
	return d
}

// MaxScheduleLen caps the number of retries a schedule may list.
const MaxScheduleLen = 50

// ErrSchedule is returned (wrapped) by ParseSchedule.
var ErrSchedule = errors.New("retry: invalid schedule")

// Policy is a retry schedule with jitter.
type Policy struct {
	// Delays[i] is the wait before attempt i+2.
	Delays []time.Duration
	// Jitter is the +- share applied to each delay (0.2 = +-20 %).
	Jitter float64
	// MaxRetryAfter clamps a receiver's Retry-After.
	MaxRetryAfter time.Duration
}

// Attempts is the total number of attempts the policy allows.
func (p Policy) Attempts() int { return len(p.Delays) + 1 }

// Next returns the delay before the attempt after attempt (1-based), and
// false when attempt was the last one.
func (p Policy) Next(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(p.Delays) {
		return 0, false
	}
	d := p.Delays[attempt-1]
	if p.Jitter > 0 {
		f := 1 + p.Jitter*(2*rand.Float64()-1)
		d = time.Duration(float64(d) * f)
	}
	return d, true
}

// Clamp bounds a receiver-requested delay to [min, MaxRetryAfter].
func (p Policy) Clamp(d, min time.Duration) time.Duration {
	if d < min {
		d = min
	}
	if p.MaxRetryAfter > 0 && d > p.MaxRetryAfter {
		d = p.MaxRetryAfter
	}
	return d
}

// ParseSchedule parses "5s,5m,30m" (Go durations, comma separated). Each
// delay must be at least one second (message schedules have second
// resolution) and at most 30 days.
func ParseSchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty; want e.g. %q", ErrSchedule, DefaultSchedule)
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxScheduleLen {
		return nil, fmt.Errorf("%w: %d delays, at most %d", ErrSchedule, len(parts), MaxScheduleLen)
	}
	out := make([]time.Duration, 0, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("%w: delay %d %q: not a duration like 5s or 2h", ErrSchedule, i+1, p)
		}
		if d < time.Second || d > 30*24*time.Hour {
			return nil, fmt.Errorf("%w: delay %d %q: must be between 1s and 720h", ErrSchedule, i+1, p)
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// It returns false for a missing or unparsable value, or a date in the past.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0, false
	}
	return d, true
}
