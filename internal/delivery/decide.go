package delivery

import (
	"net/http"
	"time"

	"github.com/bluehq/webhooks/internal/retry"
)

// verdict is what becomes of a job after an attempt.
type verdict int

const (
	// acked: the endpoint took the delivery; the job is acked.
	acked verdict = iota
	// goneDisable: the endpoint answered 410 Gone; the webhook is disabled
	// and the job parked in DEAD, where enable?replay finds it.
	goneDisable
	// parked: the failure disabled the webhook (failing for DisableAfter);
	// the job is parked in DEAD.
	parked
	// deadLettered: the retry schedule is spent; the job goes to DEAD.
	deadLettered
	// retried: the next attempt is scheduled for decision.at.
	retried
)

func (v verdict) String() string {
	switch v {
	case acked:
		return "acked"
	case goneDisable:
		return "gone-disable"
	case parked:
		return "parked"
	case deadLettered:
		return "dead-lettered"
	case retried:
		return "retried"
	}
	return "verdict(?)"
}

// decision is the verdict on a job after an attempt, and for a retry,
// when the next attempt is due.
type decision struct {
	verdict verdict
	at      time.Time // retried: when the next attempt is due (whole seconds)
}

// afterAttempt is what decide needs to know about an attempt.
type afterAttempt struct {
	out outcome
	// disabled: the endpoint's health disabled the webhook after this
	// failure (see health); never set for a 410, which disables by itself.
	disabled bool
	// delay and more are the retry schedule's answer for this attempt
	// (retry.Policy.Next): the delay before the next one, and whether
	// there is one.
	delay time.Duration
	more  bool
	now   time.Time
}

// decide is what becomes of a job after an attempt, in this order: a 2xx
// is acked; a 410 disables the webhook and parks the job; a failure that
// disabled the webhook parks it; one with attempts left is retried after
// the schedule's delay, or after the receiver's Retry-After (at least 1 s,
// at most p.MaxRetryAfter) when it sent one; the last one is
// dead-lettered. It has no side effects: pipeline and broker act on it.
func decide(a afterAttempt, p retry.Policy) decision {
	switch {
	case a.out.ok():
		return decision{verdict: acked}
	case a.out.status == http.StatusGone:
		return decision{verdict: goneDisable}
	case a.disabled:
		return decision{verdict: parked}
	case !a.more:
		return decision{verdict: deadLettered}
	}
	delay := a.delay
	if a.out.retryIn > 0 {
		delay = p.Clamp(a.out.retryIn, time.Second)
	}
	return decision{verdict: retried, at: scheduleTime(a.now.Add(delay))}
}
