package delivery

import (
	"sync"
	"time"
)

// local is this process's view of each endpoint's health, in front of the
// shared state: while an endpoint is healthy (no failure seen), admissions
// and successes need no round trip to Redis for a short while. A circuit
// opened by another replica is seen within admitTTL; a failure always goes
// to the shared state.
type local struct {
	mu        sync.Mutex
	endpoints map[string]*endpointView
}

type endpointView struct {
	admittedAt  time.Time // last admission the shared state granted
	successAt   time.Time // last success written to the shared state
	failing     bool      // a failure was seen since the last success
	lastTouched time.Time
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

// admitted reports whether a recent shared admission still stands.
func (l *local) admitted(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.view(key, now)
	return !v.failing && now.Sub(v.admittedAt) < admitTTL
}

// failing reports whether key failed here since its last success.
func (l *local) failing(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.endpoints[key]
	return v != nil && v.failing
}

func (l *local) admit(key string, now time.Time) {
	l.mu.Lock()
	l.view(key, now).admittedAt = now
	l.mu.Unlock()
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
