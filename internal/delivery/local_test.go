package delivery

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/testenv"
)

// The jobs that need an admission at once share one question to the shared
// breaker, except a probe's.
func TestAdmissionAskedOnce(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		adm  state.Admission
		asks int32 // of 1 + followers
	}{
		{"allowed", state.Admission{Allowed: true}, 1},
		{"refused", state.Admission{RetryAt: time.Now().Add(time.Minute)}, 1},
		{"probe", state.Admission{Allowed: true, Probe: true}, 1 + 7},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const followers = 7
			l := newLocal()
			var asks atomic.Int32
			release := make(chan struct{})
			ask := func() (state.Admission, error) {
				if asks.Add(1) == 1 {
					<-release // the first question is under way while the others come
				}
				if tt.adm.Probe && asks.Load() > 1 {
					return state.Admission{RetryAt: time.Now().Add(5 * time.Second)}, nil // the probe is out
				}
				return tt.adm, nil
			}
			var wg sync.WaitGroup
			got := make([]state.Admission, followers+1)
			now := time.Now()
			wg.Go(func() { got[0], _ = l.admission("wh", now, ask) })
			testenv.Eventually(t, 5*time.Second, func() bool { return asks.Load() == 1 }, "the first question")
			for i := range followers {
				wg.Go(func() { got[i+1], _ = l.admission("wh", now, ask) })
			}
			testenv.Eventually(t, 5*time.Second, func() bool {
				l.mu.Lock()
				defer l.mu.Unlock()
				a := l.endpoints["wh"].asking
				return a != nil && a.waiters == followers
			}, "every follower waiting for the answer")
			close(release)
			wg.Wait()
			if n := asks.Load(); n != tt.asks {
				t.Errorf("asked %d times, want %d", n, tt.asks)
			}
			for i, a := range got[1:] {
				if want := tt.adm.Allowed && !tt.adm.Probe; a.Allowed != want {
					t.Errorf("follower %d: allowed %v, want %v", i, a.Allowed, want)
				}
			}
			if tt.adm.Allowed && !tt.adm.Probe {
				if a, _ := l.admission("wh", now.Add(admitTTL/2), func() (state.Admission, error) {
					t.Error("asked again within admitTTL")
					return state.Admission{}, nil
				}); !a.Allowed {
					t.Error("not admitted within admitTTL")
				}
			}
		})
	}
}

func TestHandBackDelayGrowsWithEachReturn(t *testing.T) {
	for range 100 {
		if d := handBackDelay(1); d < 50*time.Millisecond || d > 250*time.Millisecond {
			t.Fatalf("first hand-back waits %s, want 50-250ms", d)
		}
		if d := handBackDelay(3); d < 200*time.Millisecond || d > time.Second {
			t.Fatalf("third hand-back waits %s, want 200ms-1s", d)
		}
		if d := handBackDelay(1000); d < 6*time.Second || d > maxHandBackDelay {
			t.Fatalf("a job handed back 1000 times waits %s, want 6.4-%s", d, maxHandBackDelay)
		}
	}
}
