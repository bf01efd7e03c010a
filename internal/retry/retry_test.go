package retry

import (
	"errors"
	"testing"
	"time"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []time.Duration
		wantErr bool
	}{
		{name: "default", in: DefaultSchedule, want: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}},
		{name: "spaces", in: " 1s , 2m ", want: []time.Duration{time.Second, 2 * time.Minute}},
		{name: "empty", in: "", wantErr: true},
		{name: "not a duration", in: "5s,soon", wantErr: true},
		{name: "below a second", in: "500ms", wantErr: true},
		{name: "negative", in: "-5s", wantErr: true},
		{name: "too long", in: "800h", wantErr: true},
		{name: "empty element", in: "5s,,5m", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseSchedule(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrSchedule) {
					t.Fatalf("ParseSchedule(%q) error = %v, want ErrSchedule", tt.in, err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("ParseSchedule(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("ParseSchedule(%q)[%d] = %v, want %v", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		in   string
		want time.Duration
		ok   bool
	}{
		{name: "seconds", in: "120", want: 2 * time.Minute, ok: true},
		{name: "zero", in: "0", want: 0, ok: true},
		{name: "http date", in: "Fri, 27 Nov 2026 12:01:00 GMT", want: time.Minute, ok: true},
		{name: "date in the past", in: "Fri, 27 Nov 2026 11:00:00 GMT", ok: false},
		{name: "empty", in: "", ok: false},
		{name: "negative", in: "-5", ok: false},
		{name: "garbage", in: "soon", ok: false},
		{name: "huge", in: "99999999999999999999", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.in, now)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPolicyNextJitterAndClamp(t *testing.T) {
	t.Parallel()
	p := Policy{Delays: []time.Duration{10 * time.Second, time.Minute}, Jitter: 0.2, MaxRetryAfter: time.Hour}
	for range 1000 {
		d, ok := p.Next(1)
		if !ok || d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("Next(1) = %v, %v; want 10s +-20%%", d, ok)
		}
	}
	if _, ok := p.Next(3); ok {
		t.Fatal("Next(3) after two retries: want no more attempts")
	}
	if p.Attempts() != 3 {
		t.Fatalf("Attempts() = %d, want 3", p.Attempts())
	}
	if got := p.Clamp(48*time.Hour, time.Second); got != time.Hour {
		t.Fatalf("Clamp(48h) = %v, want 1h", got)
	}
	if got := p.Clamp(0, time.Second); got != time.Second {
		t.Fatalf("Clamp(0) = %v, want 1s", got)
	}
}

// Next follows the schedule: the delay after attempt n is Delays[n-1],
// exactly without jitter, and spread over +-Jitter with it.
func TestPolicyNextFollowsTheSchedule(t *testing.T) {
	t.Parallel()
	delays := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute}
	exact := Policy{Delays: delays}
	for i, want := range delays {
		if d, ok := exact.Next(i + 1); !ok || d != want {
			t.Errorf("without jitter, Next(%d) = %v, %v; want %v, true", i+1, d, ok, want)
		}
	}
	jittered := Policy{Delays: delays, Jitter: 0.2}
	for i, base := range delays {
		lo, hi := base, base
		for range 1000 {
			d, ok := jittered.Next(i + 1)
			if !ok || d < base*8/10 || d > base*12/10 {
				t.Fatalf("Next(%d) = %v, %v; want %v +-20%%", i+1, d, ok, base)
			}
			lo, hi = min(lo, d), max(hi, d)
		}
		// 1000 draws over +-20 % all within +-5 %: chance 0.25^1000.
		if lo > base*95/100 || hi < base*105/100 {
			t.Errorf("Next(%d) over 1000 draws spans %v to %v; want jitter spread over %v +-20%%", i+1, lo, hi, base)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{DefaultSchedule, "1s", "", ",", "1h,-1s", "9999999h", "1e9s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSchedule(s)
		if err != nil {
			if !errors.Is(err, ErrSchedule) {
				t.Fatalf("error %v does not wrap ErrSchedule", err)
			}
			return
		}
		if len(got) == 0 || len(got) > MaxScheduleLen {
			t.Fatalf("accepted %d delays", len(got))
		}
		for _, d := range got {
			if d < time.Second || d > 30*24*time.Hour {
				t.Fatalf("accepted delay %v out of range", d)
			}
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "Fri, 27 Nov 2026 12:01:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "-1", "1.5", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if ok && d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v: negative delay", s, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok=false", s, d)
		}
	})
}
