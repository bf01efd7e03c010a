package filter

import (
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// TestTimeZonesAsStandard checks that the rebound time-zone accessors give
// the standard library's results, and its errors.
func TestTimeZonesAsStandard(t *testing.T) {
	t.Parallel()
	vars := []cel.EnvOption{cel.Variable("ts", cel.TimestampType), cel.Variable("tz", cel.StringType)}
	std, err := cel.NewEnv(vars...)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := cel.NewEnv(append(vars, pureTimeZones())...)
	if err != nil {
		t.Fatal(err)
	}
	functions := []string{"getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek",
		"getHours", "getMinutes", "getSeconds", "getMilliseconds"}
	zones := []string{"Europe/Paris", "America/Argentina/Buenos_Aires", "Asia/Kolkata", "UTC", "Etc/GMT+5",
		"+05:30", "-00:30", "-11:45", "23:00", "24:00", "+01:60", "x:y", "Mars/Olympus", "../etc/passwd", ""}
	stamps := []time.Time{
		time.Date(2022, 12, 31, 23, 30, 0, 123e6, time.UTC),
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Unix(0, 0),
	}
	for _, fn := range functions {
		expr := "ts." + fn + "(tz)"
		stdPrg, ourPrg := program(t, std, expr), program(t, ours, expr)
		for _, zone := range zones {
			for _, ts := range stamps {
				vars := map[string]any{"ts": ts, "tz": zone}
				want, _, wantErr := stdPrg.Eval(vars)
				got, _, gotErr := ourPrg.Eval(vars)
				if (wantErr == nil) != (gotErr == nil) || (wantErr == nil && got.Equal(want) != types.True) {
					t.Errorf("%s with ts=%v, tz=%q: %v, %v; standard library: %v, %v", expr, ts, zone, got, gotErr, want, wantErr)
				}
			}
		}
	}
	// The rebinding is in force: zones were looked up through the cache,
	// and a name that cannot be a zone was not looked up at all.
	zoneMu.Lock()
	_, paris := zoneCache["Europe/Paris"]
	_, passwd := zoneCache["../etc/passwd"]
	zoneMu.Unlock()
	if !paris || passwd {
		t.Errorf("zone cache: Europe/Paris %v, ../etc/passwd %v; want true, false", paris, passwd)
	}
}

func program(t *testing.T, env *cel.Env, expr string) cel.Program {
	t.Helper()
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		t.Fatalf("%s: %v", expr, iss.Err())
	}
	prg, err := env.Program(ast)
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return prg
}
