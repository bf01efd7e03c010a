package delivery

import (
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/retry"
)

// decide covers every way a job can go after an attempt, and the order in
// which the reasons win.
func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 300*int(time.Millisecond), time.UTC)
	p := retry.Policy{MaxRetryAfter: time.Hour}
	status := func(code int) outcome { return outcome{status: code, class: attempt.ClassStatus} }
	retryAfter := func(code int, d time.Duration) outcome {
		o := status(code)
		o.retryIn = d
		return o
	}
	// at is when a retry after d is due: rounded up to the next second.
	at := func(d time.Duration) time.Time { return now.Add(d).Truncate(time.Second).Add(time.Second) }
	tests := []struct {
		name  string
		after afterAttempt
		want  decision
	}{
		{name: "2xx is acked", after: afterAttempt{out: outcome{status: 204}, more: true, delay: time.Minute}, want: decision{verdict: acked}},
		{name: "2xx on the last attempt is acked", after: afterAttempt{out: outcome{status: 200}}, want: decision{verdict: acked}},
		{name: "2xx with an error class is a failure", after: afterAttempt{out: outcome{status: 200, class: attempt.ClassReset}, more: true, delay: time.Minute},
			want: decision{verdict: retried, at: at(time.Minute)}},
		{name: "410 disables and parks", after: afterAttempt{out: status(410), more: true, delay: time.Minute}, want: decision{verdict: goneDisable}},
		{name: "410 on the last attempt disables and parks", after: afterAttempt{out: status(410)}, want: decision{verdict: goneDisable}},
		{name: "410 with Retry-After disables and parks", after: afterAttempt{out: retryAfter(410, time.Minute), more: true}, want: decision{verdict: goneDisable}},
		{name: "a failure that disabled the webhook parks", after: afterAttempt{out: status(500), disabled: true, more: true, delay: time.Minute}, want: decision{verdict: parked}},
		{name: "a last failure that disabled the webhook parks", after: afterAttempt{out: status(500), disabled: true}, want: decision{verdict: parked}},
		{name: "a last failure is dead-lettered", after: afterAttempt{out: status(503)}, want: decision{verdict: deadLettered}},
		{name: "a last failure with Retry-After is dead-lettered", after: afterAttempt{out: retryAfter(429, time.Second)}, want: decision{verdict: deadLettered}},
		{name: "a connection failure is retried on schedule", after: afterAttempt{out: outcome{class: attempt.ClassRefused}, more: true, delay: 5 * time.Second},
			want: decision{verdict: retried, at: at(5 * time.Second)}},
		{name: "a failure is retried on schedule", after: afterAttempt{out: status(500), more: true, delay: 90 * time.Second},
			want: decision{verdict: retried, at: at(90 * time.Second)}},
		{name: "Retry-After replaces the schedule", after: afterAttempt{out: retryAfter(429, 30*time.Second), more: true, delay: 5 * time.Minute},
			want: decision{verdict: retried, at: at(30 * time.Second)}},
		{name: "Retry-After under a second waits a second", after: afterAttempt{out: retryAfter(503, 200*time.Millisecond), more: true, delay: time.Minute},
			want: decision{verdict: retried, at: at(time.Second)}},
		{name: "Retry-After beyond MaxRetryAfter waits MaxRetryAfter", after: afterAttempt{out: retryAfter(503, 5*time.Hour), more: true, delay: time.Minute},
			want: decision{verdict: retried, at: at(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := tt.after
			a.now = now
			if got := decide(a, p); got != tt.want {
				t.Errorf("decide = {%v %s}, want {%v %s}", got.verdict, got.at.Format(time.RFC3339Nano), tt.want.verdict, tt.want.at.Format(time.RFC3339Nano))
			}
		})
	}
}
