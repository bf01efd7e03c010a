package app

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// supervisor runs the long-lived parts of a process in three groups and
// stops them in order, each once the one before it stopped: the
// dispatcher first (it hands jobs to the deliverer), then the deliverer
// (its attempts in flight finish or are handed back), then what serves
// them both (the registry cache, the handoff client, the gauges). The
// first part that fails stops the process.
type supervisor struct {
	errc                          chan error
	dispatch, deliver, background *group
}

// newSupervisor returns a supervisor whose parts see ctx's values but not
// its end: stop ends them, in order.
func newSupervisor(ctx context.Context) *supervisor {
	base := context.WithoutCancel(ctx)
	errc := make(chan error, 1)
	return &supervisor{errc: errc, dispatch: newGroup(base, errc), deliver: newGroup(base, errc), background: newGroup(base, errc)}
}

// fail reports err as the reason to stop; only the first is kept.
func (s *supervisor) fail(err error) {
	select {
	case s.errc <- err:
	default:
	}
}

// wait blocks until ctx ends (nil) or a part fails (its error).
func (s *supervisor) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.errc:
		return err
	}
}

// stop closes the intake first (closeIntake, given its own bound), then
// stops the groups in order. It returns false when that took longer than
// within: what is still held then is unacked, and JetStream redelivers
// it, so giving up loses nothing.
func (s *supervisor) stop(closeIntake func(context.Context), intakeWithin, within time.Duration) bool {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		ctx, cancel := context.WithTimeout(context.Background(), intakeWithin)
		defer cancel()
		closeIntake(ctx)
		s.dispatch.stop()
		s.deliver.stop()
		s.background.stop()
	}()
	select {
	case <-stopped:
		return true
	case <-time.After(within):
		return false
	}
}

// cancel ends every group at once without waiting: for a Run that
// returns before it started everything.
func (s *supervisor) cancel() {
	s.dispatch.cancel()
	s.deliver.cancel()
	s.background.cancel()
}

// group is parts that stop together.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan<- error
}

func newGroup(base context.Context, errc chan<- error) *group {
	ctx, cancel := context.WithCancel(base)
	return &group{ctx: ctx, cancel: cancel, errc: errc}
}

// Go runs part until the group stops; an error it returns, named, stops
// the process.
func (g *group) Go(name string, part func(context.Context) error) {
	g.wg.Go(func() {
		if err := part(g.ctx); err != nil {
			select {
			case g.errc <- fmt.Errorf("%s: %w", name, err):
			default: // the process is stopping for an earlier error
			}
		}
	})
}

// stop ends the group's context and waits for its parts to return.
func (g *group) stop() {
	g.cancel()
	g.wg.Wait()
}
