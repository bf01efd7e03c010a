package delivery_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// The tests of this file guard the holding of an open circuit's jobs
// (hold.go): each refused job is stored once, whatever the circuit does
// next, and released when it closes or its webhook is disabled or deleted.

// heldJobs is how many jobs of the rig's webhook are held.
func (r *soloRig) heldJobs(t *testing.T) uint64 {
	t.Helper()
	s, err := r.n.JS.Stream(t.Context(), stream.Deliveries)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context(), jetstream.WithSubjectFilter(stream.HeldSubjects))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[stream.HeldSubject(r.hook.CompanyID, r.hook.ID)]
}

// openCircuit starts a rig whose receiver answers with the status
// *failing holds (0: 200), under rcv.mu, and opens its webhook's circuit
// with two failed jobs (no retries: they go to DEAD). The circuit stays
// open for the period open each time it opens.
func openCircuit(t *testing.T, open time.Duration) (*soloRig, *recorder, *int) {
	t.Helper()
	st := state.NewMemory(state.BreakerPolicy{Threshold: 2, BaseOpen: open, MaxOpen: open})
	failing := http.StatusInternalServerError
	rcv := newRecorder(0)
	rcv.status = func(http.Header) int { // called under rcv.mu
		if failing != 0 {
			return failing
		}
		return http.StatusOK
	}
	rig := startSolo(t, rcv, st, delivery.Config{Policy: retry.Policy{Delays: []time.Duration{}}})
	rig.publish(t, "evt_fail", 2)
	testenv.Eventually(t, 10*time.Second, func() bool {
		h, err := st.Health(t.Context(), rig.hook.ID)
		return err == nil && h.OpenUntil.After(time.Now())
	}, "2 failed attempts opening the circuit")
	return rig, rcv, &failing
}

// A circuit that keeps failing its probes costs one deferral per job: the
// jobs are held once, not offered again each time it might close, and one
// at a time is released as its probe. When the endpoint recovers, the rest
// are delivered.
func TestOpenCircuitHoldsItsBacklogOnce(t *testing.T) {
	t.Parallel()
	rig, rcv, failing := openCircuit(t, time.Second)
	const jobs = 20
	held := rig.publish(t, "evt_held", jobs)
	testenv.Eventually(t, 10*time.Second, func() bool { return rig.tally.get(attempt.Deferred) >= jobs }, "the jobs held by the open circuit")

	// The circuit half-opens every second or so and its probe fails
	// (Dead: no retries), reopening it.
	testenv.Eventually(t, 20*time.Second, func() bool { return rig.tally.get(attempt.Dead) >= 2+3 }, "3 probes released and failed")
	// Each refused probe would be held again; a few may be (the circuit
	// reopened as a probe came), not the backlog.
	if n := rig.tally.get(attempt.Deferred); n > jobs+3 {
		t.Fatalf("%d deferrals for %d jobs: the backlog was offered again while the circuit stayed open", n, jobs)
	}
	if tried, left := rcv.of(held), rig.heldJobs(t); uint64(tried)+left != jobs {
		t.Fatalf("%d held jobs attempted and %d still held, want %d in all", tried, left, jobs)
	}

	rcv.mu.Lock()
	*failing = 0
	rcv.mu.Unlock()
	testenv.Eventually(t, 30*time.Second, func() bool { return rig.tally.get(attempt.Delivered)+rig.tally.get(attempt.Dead) == 2+jobs }, "every held job settled once the endpoint recovered")
	if n := rig.heldJobs(t); n != 0 {
		t.Errorf("%d jobs still held after the circuit closed", n)
	}
	if n := rig.tally.get(attempt.Delivered); n == 0 {
		t.Error("no held job delivered after the endpoint recovered")
	}
}

// The held jobs of a webhook disabled while its circuit is open are parked
// in DEAD for replay; those of a deleted webhook are dropped where they are
// held. Neither waits for a circuit that will never be probed again.
func TestHeldJobsOfAnInactiveWebhookAreReleased(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		end     func(t *testing.T, rig *soloRig)
		outcome string
	}{
		{"disabled", func(t *testing.T, rig *soloRig) {
			if _, _, _, err := rig.store.Disable(t.Context(), rig.hook.CompanyID, rig.hook.ID, "test"); err != nil {
				t.Fatal(err)
			}
		}, attempt.Parked},
		{"deleted", func(t *testing.T, rig *soloRig) {
			if err := rig.store.Delete(t.Context(), rig.hook.CompanyID, rig.hook.ID); err != nil {
				t.Fatal(err)
			}
		}, attempt.Dropped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Open for longer than the test: no probe is released.
			rig, rcv, _ := openCircuit(t, time.Hour)
			held := rig.publish(t, "evt_held", 5)
			testenv.Eventually(t, 10*time.Second, func() bool { return rig.heldJobs(t) == 5 }, "the jobs held by the open circuit")
			stored := rig.n.StreamState(t, stream.Deliveries).LastSeq
			tc.end(t, rig)
			testenv.Eventually(t, 20*time.Second, func() bool { return rig.tally.get(tc.outcome) == 5 }, "the 5 held jobs "+tc.outcome)
			if last := rig.n.StreamState(t, stream.Deliveries).LastSeq; tc.outcome == attempt.Dropped && last != stored {
				// Dropped where they are held, not moved through a shard.
				t.Errorf("DELIVERIES stored %d messages after the delete, want none", last-stored)
			}
			if n := rig.heldJobs(t); n != 0 {
				t.Errorf("%d jobs still held", n)
			}
			if n := rcv.of(held); n != 0 {
				t.Errorf("%d held jobs attempted, want none", n)
			}
			if tc.outcome == attempt.Parked {
				// The 2 that opened the circuit, and the 5 parked.
				if n := rig.n.StreamState(t, stream.Dead).Msgs; n != 7 {
					t.Errorf("DEAD holds %d jobs, want 7", n)
				}
			}
		})
	}
}
