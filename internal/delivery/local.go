package delivery

import (
	"sync"
	"time"

	"github.com/bluehq/webhooks/internal/state"
)

// local is this process's view of each endpoint's health, in front of the
// shared state: while an endpoint is healthy (no failure seen), admissions
// and successes need no round trip to Redis for a short while. A circuit
// opened by another replica is seen within admitTTL (and the round trip
// that asks); a failure always goes to the shared state.
type local struct {
	mu        sync.Mutex
	endpoints map[string]*endpointView
}

type endpointView struct {
	admittedAt  time.Time // last admission the shared state granted
	asking      *asking   // the admission being asked for; nil: none
	successAt   time.Time // last success written to the shared state
	failing     bool      // a failure was seen since the last success
	lastTouched time.Time
}

// asking is one question to the shared circuit breaker, whose answer the
// jobs that need one meanwhile share.
type asking struct {
	done    chan struct{} // closed once adm and err are set
	adm     state.Admission
	err     error
	waiters int // jobs waiting for it besides the one asking
}

const (
	admitTTL     = 500 * time.Millisecond
	successEvery = time.Second
	maxViews     = 100000
)

func newLocal() *local { return &local{endpoints: make(map[string]*endpointView)} }

func (l *local) view(key string, now time.Time) *endpointView {
	v := l.endpoints[key]
	if v == nil {
		if len(l.endpoints) >= maxViews {
			for k, old := range l.endpoints { // bounded: drop stale views
				if now.Sub(old.lastTouched) > time.Minute {
					delete(l.endpoints, k)
				}
			}
		}
		v = &endpointView{}
		l.endpoints[key] = v
	}
	v.lastTouched = now
	return v
}

// admission is the circuit breaker's answer for key at now: admitted while
// a recent shared admission stands, else what ask returns. ask runs once
// for all the jobs of key that need an answer at the same time (when
// admitTTL has passed, every job running for the endpoint does); they
// share it, except a half-open probe's admission, which is for the job that
// asked alone: the others ask for themselves.
func (l *local) admission(key string, now time.Time, ask func() (state.Admission, error)) (state.Admission, error) {
	l.mu.Lock()
	v := l.view(key, now)
	if !v.failing && now.Sub(v.admittedAt) < admitTTL {
		l.mu.Unlock()
		return state.Admission{Allowed: true}, nil
	}
	if a := v.asking; a != nil {
		a.waiters++
		l.mu.Unlock()
		<-a.done
		if a.adm.Probe {
			return ask()
		}
		return a.adm, a.err
	}
	a := &asking{done: make(chan struct{})}
	v.asking = a
	l.mu.Unlock()
	a.adm, a.err = ask()
	l.mu.Lock()
	if a.err == nil && a.adm.Allowed && !a.adm.Probe {
		v.admittedAt = now
	}
	v.asking = nil
	l.mu.Unlock()
	close(a.done)
	return a.adm, a.err
}

// failing reports whether key failed here since its last success.
func (l *local) failing(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.endpoints[key]
	return v != nil && v.failing
}

// needSuccess reports whether a success must be written to the shared
// state: after failures, or once in a while to reset other replicas' counts.
func (l *local) needSuccess(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.view(key, now)
	if v.failing || now.Sub(v.successAt) >= successEvery {
		v.failing, v.successAt = false, now
		return true
	}
	return false
}

func (l *local) failed(key string, now time.Time) {
	l.mu.Lock()
	v := l.view(key, now)
	v.failing, v.admittedAt = true, time.Time{}
	l.mu.Unlock()
}
