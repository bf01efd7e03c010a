package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stop closes the intake, then each group once the one before it has
// returned: dispatch, delivery, then what serves them.
func TestSupervisorStopsInOrder(t *testing.T) {
	t.Parallel()
	s := newSupervisor(t.Context())
	var mu sync.Mutex
	var order []string
	note := func(what string) {
		mu.Lock()
		order = append(order, what)
		mu.Unlock()
	}
	part := func(name string) func(context.Context) error {
		return func(ctx context.Context) error {
			<-ctx.Done()
			note(name)
			return nil
		}
	}
	s.background.Go("background", part("background"))
	s.deliver.Go("deliver", part("deliver"))
	s.dispatch.Go("dispatch", part("dispatch"))
	if !s.stop(func(context.Context) { note("intake") }, time.Minute, time.Minute) {
		t.Fatal("stop gave up")
	}
	if want := []string{"intake", "dispatch", "deliver", "background"}; !slices.Equal(order, want) {
		t.Errorf("stopped %v, want %v", order, want)
	}
}

// A part that fails ends wait with its error, named; the failures after
// the first are dropped rather than blocking their parts, so stop still
// returns.
func TestSupervisorReportsAFailure(t *testing.T) {
	t.Parallel()
	s := newSupervisor(t.Context())
	boom := errors.New("boom")
	for _, name := range []string{"cache", "handoff", "queue lag"} {
		s.background.Go(name, func(context.Context) error { return boom })
	}
	err := s.wait(t.Context())
	if !errors.Is(err, boom) || !strings.HasSuffix(err.Error(), ": boom") || err.Error() == "boom" {
		t.Fatalf("wait = %v, want a part's error, named", err)
	}
	if !s.stop(func(context.Context) {}, time.Minute, time.Minute) {
		t.Fatal("stop gave up: a later failure blocked its part")
	}
}

// A part that does not return lets stop give up after its bound, leaving
// the rest to redelivery.
func TestSupervisorGivesUpOnAStuckPart(t *testing.T) {
	t.Parallel()
	s := newSupervisor(t.Context())
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s.deliver.Go("deliverer", func(context.Context) error { <-release; return nil })
	if s.stop(func(context.Context) {}, time.Minute, 10*time.Millisecond) {
		t.Fatal("stop reported success with a part still running")
	}
}
