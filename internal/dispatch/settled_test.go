package dispatch

import (
	"strconv"
	"testing"
	"time"
)

func TestSettledJobsAreTakenOnce(t *testing.T) {
	var s settledJobs
	now := time.Now()
	s.remember("ev_1", map[string]struct{}{"wh_a": {}}, now)
	if got := s.take("ev_1"); len(got) != 1 {
		t.Fatalf("take = %v, want wh_a", got)
	}
	if got := s.take("ev_1"); got != nil {
		t.Fatalf("second take = %v, want nothing", got)
	}
	s.remember("ev_2", nil, now)
	if got := s.take("ev_2"); got != nil {
		t.Fatalf("take of an event with no settled job = %v, want nothing", got)
	}
}

func TestSettledJobsAreBounded(t *testing.T) {
	var s settledJobs
	start := time.Now()
	hooks := map[string]struct{}{"wh_a": {}}
	for i := range settledMax + 10 {
		s.remember("ev_"+strconv.Itoa(i), hooks, start)
	}
	if n := len(s.byEvent); n != settledMax {
		t.Fatalf("%d events remembered, want at most %d", n, settledMax)
	}
	if got := s.take("ev_0"); got != nil {
		t.Fatal("the oldest event is still remembered past the bound")
	}
	s.remember("ev_late", hooks, start.Add(settledAge+time.Second))
	if n := len(s.byEvent); n != 1 {
		t.Fatalf("%d events remembered after %s, want only the newest", n, settledAge)
	}
	if len(s.order) > 2*settledMax {
		t.Fatalf("order holds %d ids", len(s.order))
	}
}
