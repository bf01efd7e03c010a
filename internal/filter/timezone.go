package filter

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/overloads"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// The standard library's timestamp accessors that take a time zone, such as
// timestamp(event.occurredAt).getHours("Europe/Paris"), call
// time.LoadLocation, which reads the system's tz database, on every
// evaluation. pureTimeZones rebinds them (same overload ids and signatures,
// same results) to a lookup that reads each zone once per process, and never
// for a name that cannot be one.
func pureTimeZones() cel.EnvOption {
	accessors := []struct {
		function, overload string
		get                func(time.Time) int
	}{
		{"getFullYear", overloads.TimestampToYearWithTz, func(t time.Time) int { return t.Year() }},
		{"getMonth", overloads.TimestampToMonthWithTz, func(t time.Time) int { return int(t.Month()) - 1 }},
		{"getDayOfYear", overloads.TimestampToDayOfYearWithTz, func(t time.Time) int { return t.YearDay() - 1 }},
		{"getDayOfMonth", overloads.TimestampToDayOfMonthZeroBasedWithTz, func(t time.Time) int { return t.Day() - 1 }},
		{"getDate", overloads.TimestampToDayOfMonthOneBasedWithTz, func(t time.Time) int { return t.Day() }},
		{"getDayOfWeek", overloads.TimestampToDayOfWeekWithTz, func(t time.Time) int { return int(t.Weekday()) }},
		{"getHours", overloads.TimestampToHoursWithTz, func(t time.Time) int { return t.Hour() }},
		{"getMinutes", overloads.TimestampToMinutesWithTz, func(t time.Time) int { return t.Minute() }},
		{"getSeconds", overloads.TimestampToSecondsWithTz, func(t time.Time) int { return t.Second() }},
		{"getMilliseconds", overloads.TimestampToMillisecondsWithTz, func(t time.Time) int { return t.Nanosecond() / 1e6 }},
	}
	opts := make([]cel.EnvOption, len(accessors))
	for i, a := range accessors {
		opts[i] = cel.Function(a.function, cel.MemberOverload(a.overload,
			[]*cel.Type{cel.TimestampType, cel.StringType}, cel.IntType,
			cel.BinaryBinding(func(ts, tz ref.Val) ref.Val {
				t, ok := ts.(types.Timestamp)
				if !ok {
					return types.MaybeNoSuchOverloadErr(ts)
				}
				name, ok := tz.(types.String)
				if !ok {
					return types.MaybeNoSuchOverloadErr(tz)
				}
				loc, err := zoneByName(string(name))
				if err != nil {
					return types.WrapErr(err)
				}
				return types.Int(a.get(t.In(loc)))
			})))
	}
	return func(e *cel.Env) (*cel.Env, error) {
		for _, o := range opts {
			var err error
			if e, err = o(e); err != nil {
				return nil, err
			}
		}
		return e, nil
	}
}

// maxZones bounds the cache of zone lookups; the tz database has about 600
// names.
const maxZones = 2048

var (
	zoneMu    sync.Mutex
	zoneCache = map[string]zoneResult{}
	// zoneName is what a name in the tz database looks like; nothing else is
	// looked up.
	zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)
)

type zoneResult struct {
	loc *time.Location
	err error
}

// zoneByName resolves a time zone argument as the standard library does: an
// IANA name, or a UTC offset such as "+05:30".
func zoneByName(name string) (*time.Location, error) {
	switch {
	case name == "":
		return time.UTC, nil // as time.LoadLocation
	case strings.Contains(name, ":"):
		return fixedZone(name)
	}
	zoneMu.Lock()
	r, ok := zoneCache[name]
	zoneMu.Unlock()
	if ok {
		return r.loc, r.err
	}
	if len(name) > 64 || !zoneName.MatchString(name) {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		err = fmt.Errorf("unknown time zone %q", name)
	}
	zoneMu.Lock()
	if len(zoneCache) < maxZones {
		zoneCache[name] = zoneResult{loc, err}
	}
	zoneMu.Unlock()
	return loc, err
}

// fixedZone parses an offset ^(+|-)?hh:mm$ as the standard library does.
func fixedZone(val string) (*time.Location, error) {
	h, m, _ := strings.Cut(val, ":")
	hr, err := strconv.Atoi(h)
	if err != nil {
		return nil, err
	}
	min, err := strconv.Atoi(m)
	if err != nil {
		return nil, err
	}
	if hr < -23 || hr > 23 {
		return nil, fmt.Errorf("timezone offset hours out of range [-23, 23]: %s", val)
	}
	if min < 0 || min > 59 {
		return nil, fmt.Errorf("timezone offset minutes out of range [0, 59]: %s", val)
	}
	offset := hr*60 + min
	if strings.HasPrefix(val, "-") {
		offset = hr*60 - min
	}
	return time.FixedZone("", offset*60), nil
}
