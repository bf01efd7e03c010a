package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// inFlight counts the requests a receiver is answering, per path, and the
// most seen at once. Its hold is how long each answer takes.
type inFlight struct {
	hold time.Duration
	mu   sync.Mutex
	now  map[string]int
	most map[string]int
}

func (f *inFlight) status(r *http.Request, _ int) int {
	f.mu.Lock()
	f.now[r.URL.Path]++
	f.most[r.URL.Path] = max(f.most[r.URL.Path], f.now[r.URL.Path])
	f.mu.Unlock()
	time.Sleep(f.hold) // the endpoint's latency
	f.mu.Lock()
	f.now[r.URL.Path]--
	f.mu.Unlock()
	return http.StatusOK
}

func (f *inFlight) max(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.most[path]
}

// capsOf reads a webhook's rateLimit and maxConcurrency as the API shows
// them: raw JSON, "null" when unset.
func capsOf(t *testing.T, s *stack, id string) (rate, conc string) {
	t.Helper()
	var w struct {
		RateLimit      json.RawMessage `json:"rateLimit"`
		MaxConcurrency json.RawMessage `json:"maxConcurrency"`
	}
	if code := s.c.getJSON(t, "/v1/webhooks/"+id, &w); code != http.StatusOK {
		t.Fatalf("GET webhook %s: %d", id, code)
	}
	return string(w.RateLimit), string(w.MaxConcurrency)
}

// A webhook's maxConcurrency, set through the API, holds across the two
// deliverers of the split deployment: the receiver never answers more than
// that many of its requests at once. A webhook without it gets the
// process-wide default (32), and a value above that is refused.
func TestMaxConcurrencyAcrossDeliverers(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL())
	rc := newReceiver(t)
	f := &inFlight{hold: 100 * time.Millisecond, now: map[string]int{}, most: map[string]int{}}
	rc.status = f.status

	code, body := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/webhooks", s.token, map[string]any{"name": "greedy", "url": rc.srv.URL + "/greedy", "maxConcurrency": 33})
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"body.maxConcurrency"`) {
		t.Errorf("maxConcurrency above DELIVERY_ENDPOINT_CONCURRENCY: %d %s, want 400 naming body.maxConcurrency", code, body)
	}
	capped := s.c.createHook(t, s.token, s.company, map[string]any{"name": "capped", "url": rc.srv.URL + "/capped", "maxConcurrency": 2})
	free := s.c.createHook(t, s.token, s.company, map[string]any{"name": "free", "url": rc.srv.URL + "/free"})
	if _, conc := capsOf(t, s, capped.ID); conc != "2" {
		t.Errorf("GET shows maxConcurrency %s, want 2", conc)
	}
	if _, conc := capsOf(t, s, free.ID); conc != "null" {
		t.Errorf("GET shows maxConcurrency %s for a webhook without one, want null", conc)
	}

	events := makeEvents(t, 30, []string{s.company}, []string{"p1"})
	s.c.publish(t, events)
	testenv.Eventually(t, 60*time.Second, func() bool {
		return len(eventIDs(arrivals(rc, "/capped"))) == len(events) && len(eventIDs(arrivals(rc, "/free"))) == len(events)
	}, "every event delivered to both webhooks")
	t.Logf("in flight at most: capped %d, free %d", f.max("/capped"), f.max("/free"))
	if got := f.max("/capped"); got > 2 {
		t.Errorf("%d requests in flight at once to a webhook with maxConcurrency 2", got)
	}
	if got := f.max("/free"); got <= 2 {
		t.Errorf("at most %d requests in flight to the webhook without maxConcurrency; the default of 32 allows more", got)
	}
}

// DELIVERY_ENDPOINT_RATE is the rate of a webhook that sets none (here
// 5/s, burst 5, across both deliverers) and the ceiling of one that does.
func TestEndpointRateDefault(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_ENDPOINT_RATE=5")
	rc := newReceiver(t)

	code, body := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/webhooks", s.token, map[string]any{"name": "fast", "url": rc.srv.URL + "/fast", "rateLimit": 6})
	if code != http.StatusBadRequest || !strings.Contains(string(body), `"body.rateLimit"`) {
		t.Errorf("rateLimit above DELIVERY_ENDPOINT_RATE: %d %s, want 400 naming body.rateLimit", code, body)
	}
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "default rate", "url": rc.srv.URL + "/default"})
	if rate, _ := capsOf(t, s, h.ID); rate != "null" {
		t.Errorf("GET shows rateLimit %s for a webhook without one, want null", rate)
	}
	events := makeEvents(t, 20, []string{s.company}, []string{"p1"})
	s.c.publish(t, events)
	testenv.Eventually(t, 60*time.Second, func() bool { return len(eventIDs(arrivals(rc, "/default"))) == len(events) }, "every event delivered")

	var at []time.Time
	for _, r := range arrivals(rc, "/default") {
		at = append(at, r.at)
	}
	slices.SortFunc(at, time.Time.Compare)
	// Every window between two arrivals keeps to 5/s with a burst of 5,
	// widened by a second for the time between taking a token and arriving.
	const rate, burst, slack = 5.0, 5, time.Second
	for i := range at {
		for j := i + burst; j < len(at); j++ {
			if n, window := j-i+1, at[j].Sub(at[i]); float64(n) > rate*(window+slack).Seconds()+burst {
				t.Fatalf("%d deliveries within %s: more than DELIVERY_ENDPOINT_RATE=5 with a burst of 5 allows", n, window)
			}
		}
	}
	all := at[len(at)-1].Sub(at[0])
	t.Logf("%d deliveries in %s", len(at), all)
	if got := float64(len(at)) / all.Seconds(); got <= rate/2 {
		t.Errorf("%d deliveries in %s: %.1f/s, under half of DELIVERY_ENDPOINT_RATE=5", len(at), all, got)
	}
}
