package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/testenv"
)

type attemptRec struct {
	DeliveryID string `json:"deliveryId"`
	Attempt    int    `json:"attempt"`
	Outcome    string `json:"outcome"`
	StatusCode int    `json:"statusCode"`
	ErrorClass string `json:"errorClass"`
}

func (c client) getJSON(t testing.TB, path string, out any) int {
	t.Helper()
	code, body := c.do(t, http.MethodGet, c.apiURL+path, c.apiToken, nil)
	if code == http.StatusOK {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return code
}

// arrivals returns what the receiver got on path.
func arrivals(rc *receiver, path string) []received {
	var out []received
	for _, r := range rc.snapshot() {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

func oneEvent(t testing.TB, company string) []map[string]any {
	return makeEvents(t, 1, []string{company}, []string{"p1"})
}

func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL())
	rc := newReceiver(t)
	var calls atomic.Int32
	rc.status = func(r *http.Request, _ int) int {
		if calls.Add(1) <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "flaky", "url": rc.srv.URL + "/flaky"})
	s.c.publish(t, oneEvent(t, s.company))

	testenv.Eventually(t, 30*time.Second, func() bool { return len(arrivals(rc, "/flaky")) >= 3 }, "three attempts")
	got := arrivals(rc, "/flaky")
	id := got[0].header.Get("webhook-id")
	for i, r := range got[:3] {
		if a := r.header.Get("X-Webhook-Attempt"); a != fmt.Sprint(i+1) {
			t.Errorf("request %d: attempt header %q, want %d", i+1, a, i+1)
		}
		if r.header.Get("webhook-id") != id {
			t.Errorf("request %d: webhook-id %q, want the same %q on every attempt", i+1, r.header.Get("webhook-id"), id)
		}
		if string(r.body) != string(got[0].body) {
			t.Errorf("request %d: body differs from the first attempt's", i+1)
		}
		checkDelivery(t, h, r)
	}

	var d struct {
		Attempts []attemptRec `json:"attempts"`
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/deliveries/"+id, &d) == http.StatusOK && len(d.Attempts) == 3
	}, "the log shows three attempts")
	outcomes := []string{d.Attempts[0].Outcome, d.Attempts[1].Outcome, d.Attempts[2].Outcome}
	if !slices.Equal(outcomes, []string{"retry", "retry", "delivered"}) || d.Attempts[0].StatusCode != 500 || d.Attempts[2].StatusCode != 200 {
		t.Errorf("attempt log = %+v, want retry(500), retry(500), delivered(200)", d.Attempts)
	}
	var recent struct {
		Data []attemptRec `json:"data"`
	}
	if code := s.c.getJSON(t, "/v1/webhooks/"+h.ID+"/deliveries", &recent); code != http.StatusOK || len(recent.Data) != 3 || recent.Data[0].Outcome != "delivered" {
		t.Errorf("webhook deliveries = %d %+v, want 3 attempts newest first", code, recent.Data)
	}
}

func TestGoneDisablesAndEnableReplays(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL())
	rc := newReceiver(t)
	var gone atomic.Bool
	gone.Store(true)
	rc.status = func(r *http.Request, _ int) int {
		if gone.Load() && r.URL.Path == "/gone" {
			return http.StatusGone
		}
		return http.StatusOK
	}
	// A second webhook watches for WEBHOOK_DISABLED (and answers 200: a 410
	// would disable it too, and its parked jobs would be counted as the
	// gone webhook's).
	s.c.createHook(t, s.token, s.company, map[string]any{"name": "watcher", "url": rc.srv.URL + "/watch", "events": []string{"WEBHOOK_DISABLED"}})
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "gone", "url": rc.srv.URL + "/gone", "events": []string{"TODO_CREATED", "COMMENT_CREATED", "TODO_DELETED", "TODO_LIST_CREATED"}})
	s.c.publish(t, oneEvent(t, s.company))

	var w struct {
		Enabled   bool      `json:"enabled"`
		Status    string    `json:"status"`
		UpdatedAt time.Time `json:"updatedAt"` // when it was disabled, once it is
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/webhooks/"+h.ID, &w) == http.StatusOK && !w.Enabled
	}, "410 disables the webhook")
	if w.Status != "UNHEALTHY" {
		t.Errorf("status after 410 = %s, want UNHEALTHY", w.Status)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/watch")) == 1 }, "a WEBHOOK_DISABLED event reaches the watcher")
	var ev struct {
		Event        string         `json:"event"`
		CurrentValue map[string]any `json:"currentValue"`
	}
	_ = json.Unmarshal(arrivals(rc, "/watch")[0].body, &ev)
	if ev.Event != "WEBHOOK_DISABLED" || ev.CurrentValue["id"] != h.ID || ev.CurrentValue["secret"] != nil {
		t.Errorf("WEBHOOK_DISABLED body = %+v", ev)
	}

	// Later events are parked, not sent.
	later := makeEvents(t, 5, []string{s.company}, []string{"p1"})
	s.c.publish(t, later)
	waitParked(t, s, h.ID, 6) // the 410'd job and the 5 later ones
	if n := len(arrivals(rc, "/gone")); n != 1 {
		t.Fatalf("disabled webhook received %d requests, want only the first (410)", n)
	}

	gone.Store(false)
	code, body := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/webhooks/"+h.ID+"/enable?replay=true", s.token, nil)
	if code != http.StatusOK {
		t.Fatalf("enable: %d %s", code, body)
	}
	var en struct {
		Enabled  bool `json:"enabled"`
		Replayed int  `json:"replayed"`
	}
	_ = json.Unmarshal(body, &en)
	if !en.Enabled || en.Replayed < 1 {
		t.Fatalf("enable?replay=true = %s, want enabled with the parked deliveries replayed", body)
	}
	if en.Replayed != 6 {
		// Once seen as 5 of 6 while the watcher was being disabled too and
		// waitParked counted its parks as well: enable then ran before the
		// last of these six reached DEAD.
		logDead(t, s, w.UpdatedAt)
		t.Errorf("enable?replay=true replayed %d, want the 6 parked deliveries (the 410'd one and 5 later)", en.Replayed)
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		ok := map[string]bool{}
		for _, r := range arrivals(rc, "/gone")[1:] {
			id, _ := r.ids()
			ok[id] = true
			checkDelivery(t, h, r)
		}
		for _, e := range later {
			if !ok[e["id"].(string)] {
				return false
			}
		}
		return true
	}, "enable + replay delivers the parked events")
}

// logDead lists what DEAD holds, for a replay that came up short: each
// dead letter's sequence, store time and subject, beside when the webhook
// was last updated: disabled (the replay reads DEAD from 5 s before that).
func logDead(t *testing.T, s *stack, disabledAt time.Time) {
	t.Helper()
	t.Logf("webhook disabled (last updated) at %s", disabledAt.Format(time.RFC3339Nano))
	nc, err := nats.Connect("nats://" + s.natsAddr)
	if err != nil {
		t.Logf("DEAD not listed: %v", err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dead, err := js.Stream(ctx, "DEAD")
	if err != nil {
		t.Logf("DEAD not listed: %v", err)
		return
	}
	info, err := dead.Info(ctx)
	if err != nil {
		t.Logf("DEAD not listed: %v", err)
		return
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		if m, err := dead.GetMsg(ctx, seq); err == nil {
			t.Logf("DEAD %d at %s: %s (%s)", seq, m.Time.Format(time.RFC3339Nano), m.Subject, m.Header.Get("Wh-Dead-Reason"))
		}
	}
}

// waitParked waits until the deliverers have parked n jobs of webhook id
// (parking is not an attempt, so their logs are where it shows).
func waitParked(t *testing.T, s *stack, id string, n int) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, func() bool {
		parked := 0
		for _, name := range []string{"deliverer-1", "deliverer-2"} {
			for line := range strings.Lines(s.procs[name].output(t)) {
				if strings.Contains(line, `"msg":"webhook disabled: delivery parked"`) && strings.Contains(line, `"webhook_id":"`+id+`"`) {
					parked++
				}
			}
		}
		return parked >= n
	}, "%d deliveries of %s parked", n, id)
}

func TestTimeoutDeadThenRedeliver(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_TIMEOUT=300ms", "DELIVERY_RETRY_SCHEDULE=1s,1s", "ACK_WAIT=5s")
	rc := newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var healthy atomic.Bool
	rc.status = func(r *http.Request, _ int) int {
		if !healthy.Load() {
			select { // hang until the deliverer gives up
			case <-r.Context().Done():
			case <-release:
			}
		}
		return http.StatusOK
	}
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "slow", "url": rc.srv.URL + "/slow"})
	s.c.publish(t, oneEvent(t, s.company))

	testenv.Eventually(t, 30*time.Second, func() bool { return len(arrivals(rc, "/slow")) >= 3 }, "three attempts")
	id := arrivals(rc, "/slow")[0].header.Get("webhook-id")
	var d struct {
		Attempts []attemptRec `json:"attempts"`
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/deliveries/"+id, &d) == http.StatusOK && len(d.Attempts) == 3 && d.Attempts[2].Outcome == "dead"
	}, "after the schedule the delivery is dead")
	for _, a := range d.Attempts {
		if a.ErrorClass != "timeout" {
			t.Errorf("attempt %d error class %q, want timeout", a.Attempt, a.ErrorClass)
		}
	}

	healthy.Store(true)
	code, body := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/deliveries/"+id+"/redeliver", s.token, nil)
	if code != http.StatusAccepted {
		t.Fatalf("redeliver: %d %s", code, body)
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		got := arrivals(rc, "/slow")
		return len(got) >= 4 && got[len(got)-1].header.Get("webhook-id") == id
	}, "redeliver delivers it")
	checkDelivery(t, h, arrivals(rc, "/slow")[3])

	// recover: every dead letter of the webhook since a time, requeued. A
	// second delivery dies while the endpoint hangs again.
	healthy.Store(false)
	s.c.publish(t, oneEvent(t, s.company))
	testenv.Eventually(t, 30*time.Second, func() bool { return len(arrivals(rc, "/slow")) >= 7 }, "three more attempts")
	second := arrivals(rc, "/slow")[4].header.Get("webhook-id")
	testenv.Eventually(t, 10*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/deliveries/"+second, &d) == http.StatusOK && len(d.Attempts) == 3 && d.Attempts[2].Outcome == "dead"
	}, "the second delivery is dead")
	healthy.Store(true)
	code, body = s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/webhooks/"+h.ID+"/recover", s.token, map[string]any{"since": time.Now().Add(-time.Hour)})
	var rec struct {
		Requeued        int    `json:"requeued"`
		AlreadyRequeued int    `json:"alreadyRequeued"`
		NextCursor      string `json:"nextCursor"`
	}
	_ = json.Unmarshal(body, &rec)
	if code != http.StatusAccepted || rec.Requeued != 1 || rec.AlreadyRequeued != 1 || rec.NextCursor != "" {
		t.Fatalf("recover: %d %s, want 202 with 1 requeued (the new dead letter), 1 already requeued (by redeliver), no cursor", code, body)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/slow")) >= 8 }, "recover delivers the dead letter")
	if got := arrivals(rc, "/slow")[7].header.Get("webhook-id"); got != second {
		t.Errorf("recovered delivery webhook-id %s, want %s", got, second)
	}
	if code, _ := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/webhooks/"+h.ID+"/recover", s.token, map[string]any{"since": time.Now().Add(time.Hour)}); code != http.StatusBadRequest {
		t.Errorf("recover since the future: %d, want 400", code)
	}
	// Another company's token cannot redeliver it.
	if code, _ := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/deliveries/"+id+"/redeliver", "someone-elses-token", nil); code != http.StatusUnauthorized {
		t.Errorf("redeliver with an unknown token: %d, want 401", code)
	}
}

func TestSSRFGuard(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_ALLOWED_CIDRS=", "DELIVERY_RETRY_SCHEDULE=1s")
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://[::1]:8080/", "http://0.0.0.0/", "http://127.0.0.1:9/", "http://[::ffff:127.0.0.1]/", "http://localhost/"} {
		code, body := s.c.do(t, http.MethodPost, s.c.apiURL+"/v1/webhooks", s.token, map[string]any{"name": "evil", "url": u})
		if code != http.StatusBadRequest || !strings.Contains(string(body), "body.url") {
			t.Errorf("create with %s: %d %s, want 400 naming body.url", u, code, body)
		}
	}
	// A name that resolves to loopback passes creation and is refused at
	// dial time, after DNS.
	rc := newReceiver(t)
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":"):]
	name := loopbackName(t)
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "dns to loopback", "url": "http://" + name + port + "/x"})
	s.c.publish(t, oneEvent(t, s.company))
	var rec struct {
		Data []attemptRec `json:"data"`
	}
	testenv.Eventually(t, 20*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/webhooks/"+h.ID+"/deliveries", &rec) == http.StatusOK && len(rec.Data) >= 1
	}, "an attempt is logged")
	if rec.Data[0].ErrorClass != "forbidden_address" {
		t.Errorf("attempt to %s (loopback by DNS) = %+v, want error class forbidden_address", name, rec.Data[0])
	}
	if n := len(rc.snapshot()); n != 0 {
		t.Errorf("receiver on loopback got %d requests; the guard must refuse", n)
	}
}

// loopbackName finds a host name (not an IP literal, not "localhost", which
// creation refuses by name) that the resolver maps to a loopback address:
// the machine's own name usually is, through /etc/hosts.
func loopbackName(t *testing.T) string {
	host, _ := os.Hostname()
	for _, name := range []string{host, "localhost.localdomain", "ip6-localhost", "ip6-loopback"} {
		addrs, err := net.LookupHost(name)
		if name == "" || err != nil || len(addrs) == 0 {
			continue
		}
		if ip := net.ParseIP(addrs[0]); ip != nil && ip.IsLoopback() {
			return name
		}
	}
	t.Fatalf("no host name resolves to loopback here (tried the hostname %q); add one to /etc/hosts", host)
	return ""
}

func TestIsolationFromHangingEndpoints(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_TIMEOUT=10s", "ACK_WAIT=20s", "DELIVERY_RETRY_SCHEDULE=30s")
	rc := newReceiver(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var firstTimeout atomic.Int64
	rc.status = func(r *http.Request, _ int) int {
		if strings.HasPrefix(r.URL.Path, "/hang/") {
			select {
			case <-r.Context().Done():
				firstTimeout.CompareAndSwap(0, time.Now().UnixNano())
			case <-release:
			}
		}
		return http.StatusOK
	}
	const endpoints = 20
	var healthy []hook
	for i := range endpoints {
		path := fmt.Sprintf("/ok/%d", i)
		if i%10 == 0 && os.Getenv("NOHANG") == "" { // 10 % hang
			path = fmt.Sprintf("/hang/%d", i)
		}
		h := s.c.createHook(t, s.token, s.company, map[string]any{"name": path, "url": rc.srv.URL + path})
		if !strings.HasPrefix(path, "/hang/") {
			healthy = append(healthy, h)
		}
	}
	events := makeEvents(t, 60, []string{s.company}, []string{"p1"})
	published := time.Now()
	for i := 0; i < len(events); i += 20 {
		s.c.publish(t, events[i:i+20])
	}
	want := len(events) * len(healthy)
	okCount := func() int {
		n := 0
		for _, r := range rc.snapshot() {
			if strings.HasPrefix(r.path, "/ok/") {
				n++
			}
		}
		return n
	}
	testenv.Eventually(t, 60*time.Second, func() bool { return okCount() >= want }, "healthy deliveries")
	var lat []time.Duration
	var last time.Time
	for _, r := range rc.snapshot() {
		if strings.HasPrefix(r.path, "/ok/") {
			lat = append(lat, r.at.Sub(published))
			if r.at.After(last) {
				last = r.at
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ft := firstTimeout.Load()
	t.Logf("healthy deliveries: %d; since publish start p50=%s p99=%s max=%s; hanging requests time out after 10s (first did at +%s)",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], time.Duration(max(0, ft-published.UnixNano())))
	if ft != 0 && last.UnixNano() > ft {
		t.Errorf("healthy deliveries were still arriving after the first hanging request timed out: hanging endpoints slowed the others")
	}
}

func TestFailingForTooLongDisables(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_DISABLE_AFTER=2s", "DELIVERY_RETRY_SCHEDULE=1s,1s,1s,1s,1s,1s")
	rc := newReceiver(t)
	rc.status = func(r *http.Request, _ int) int {
		if r.URL.Path == "/watch" {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	}
	s.c.createHook(t, s.token, s.company, map[string]any{"name": "watcher", "url": rc.srv.URL + "/watch", "events": []string{"WEBHOOK_DISABLED"}})
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "broken", "url": rc.srv.URL + "/broken", "events": []string{"TODO_CREATED", "COMMENT_CREATED", "TODO_DELETED", "TODO_LIST_CREATED"}})
	s.c.publish(t, oneEvent(t, s.company))
	var w struct {
		Enabled bool   `json:"enabled"`
		Status  string `json:"status"`
	}
	testenv.Eventually(t, 30*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/webhooks/"+h.ID, &w) == http.StatusOK && !w.Enabled
	}, "a webhook failing for longer than DELIVERY_DISABLE_AFTER is disabled")
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/watch")) == 1 }, "WEBHOOK_DISABLED announced")
	// Disabled only once the failing streak spans DELIVERY_DISABLE_AFTER:
	// two attempts can do it (a 1 s retry, jittered and rounded up to the
	// next whole second, may come 2 s later), one cannot. The deliverer
	// measures from the first failure's response to the last one's; the
	// arrivals are a few milliseconds earlier than each.
	got := arrivals(rc, "/broken")
	if len(got) < 2 {
		t.Fatalf("disabled after %d attempt(s); the streak must span DELIVERY_DISABLE_AFTER", len(got))
	}
	byTime := func(a, b received) int { return a.at.Compare(b.at) }
	if span := slices.MaxFunc(got, byTime).at.Sub(slices.MinFunc(got, byTime).at); span < 2*time.Second-250*time.Millisecond {
		t.Errorf("disabled after %d attempts spanning %s; the streak must span DELIVERY_DISABLE_AFTER (2s)", len(got), span)
	}
}

// SIGTERM lets the attempts in flight finish: every request that had
// arrived when both deliverers were told to stop is answered in full (the
// deliverer did not cancel it) and its job acked, so the deliverer started
// afterwards does not send it again.
func TestGracefulStopFinishesInFlight(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_TIMEOUT=5s", "ACK_WAIT=30s")
	rc := newReceiver(t)
	started := make(chan struct{}, 1)
	var mu sync.Mutex
	completed, cancelled := map[string]int{}, map[string]int{}
	rc.status = func(r *http.Request, _ int) int {
		select {
		case started <- struct{}{}:
		default:
		}
		id := r.Header.Get("webhook-id")
		// A slow endpoint: the attempt is in flight during SIGTERM. A
		// deliverer that gives up on it cancels the request meanwhile.
		timer := time.NewTimer(time.Second)
		defer timer.Stop()
		select {
		case <-timer.C:
			mu.Lock()
			completed[id]++
			mu.Unlock()
		case <-r.Context().Done():
			mu.Lock()
			cancelled[id]++
			mu.Unlock()
		}
		return http.StatusOK
	}
	h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "slow", "url": rc.srv.URL + "/slow"})
	events := makeEvents(t, 10, []string{s.company}, []string{"p1"})
	s.c.publish(t, events)
	<-started
	stopped := time.Now()
	s.procs["deliverer-1"].stop(t, syscall.SIGTERM)
	s.procs["deliverer-2"].stop(t, syscall.SIGTERM)
	t.Logf("both deliverers stopped %s after SIGTERM", time.Since(stopped))
	for _, name := range []string{"deliverer-1", "deliverer-2"} {
		if code := s.procs[name].cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0", name, code)
		}
	}
	inFlight := map[string]bool{}
	for _, r := range arrivals(rc, "/slow") {
		inFlight[r.header.Get("webhook-id")] = true
	}
	mu.Lock()
	for id := range inFlight {
		if completed[id] != 1 || cancelled[id] != 0 {
			t.Errorf("delivery %s in flight at SIGTERM: answered in full %d times, cancelled %d times; want answered once", id, completed[id], cancelled[id])
		}
	}
	mu.Unlock()

	s.restart("deliverer-1", "deliverer")
	testenv.Eventually(t, 60*time.Second, func() bool {
		return len(eventIDs(arrivals(rc, "/slow"))) == len(events)
	}, "every event delivered after the restart")
	sent := map[string]int{}
	for _, r := range arrivals(rc, "/slow") {
		checkDelivery(t, h, r)
		sent[r.header.Get("webhook-id")]++
	}
	for id := range inFlight {
		if sent[id] != 1 {
			t.Errorf("delivery %s, in flight at SIGTERM, was sent %d times: its job was not acked", id, sent[id])
		}
	}
	t.Logf("%d attempts were in flight at SIGTERM; %d requests in all for %d events", len(inFlight), len(arrivals(rc, "/slow")), len(events))
}

// A redirect is a failure (not followed) and Retry-After on 503 sets the
// next attempt's delay instead of the schedule.
func TestRedirectFailsAndRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	s := startStack(t, testenv.RedisURL(), "DELIVERY_RETRY_SCHEDULE=1s,1s,1s")
	rc := newReceiver(t)
	var calls atomic.Int32
	rc.status = func(r *http.Request, _ int) int {
		switch calls.Add(1) {
		case 1:
			return http.StatusFound // a Location is not needed: redirects are never followed
		case 2:
			return http.StatusServiceUnavailable
		default:
			return http.StatusOK
		}
	}
	rc.headers = func(n int) http.Header {
		if n == 2 { // the 503
			return http.Header{"Retry-After": {"3"}}
		}
		return nil
	}
	s.c.createHook(t, s.token, s.company, map[string]any{"name": "picky", "url": rc.srv.URL + "/picky"})
	s.c.publish(t, oneEvent(t, s.company))
	testenv.Eventually(t, 30*time.Second, func() bool { return len(arrivals(rc, "/picky")) >= 3 }, "three attempts")
	got := arrivals(rc, "/picky")
	if gap := got[2].at.Sub(got[1].at); gap < 2500*time.Millisecond {
		t.Errorf("attempt 3 came %s after a 503 with Retry-After: 3; want about 3 s, not the 1 s schedule", gap)
	}
	var d struct {
		Attempts []attemptRec `json:"attempts"`
	}
	id := got[0].header.Get("webhook-id")
	testenv.Eventually(t, 10*time.Second, func() bool {
		return s.c.getJSON(t, "/v1/deliveries/"+id, &d) == http.StatusOK && len(d.Attempts) == 3
	}, "three attempts logged")
	if d.Attempts[0].ErrorClass != "redirect" || d.Attempts[0].StatusCode != 302 || d.Attempts[1].StatusCode != 503 || d.Attempts[2].Outcome != "delivered" {
		t.Errorf("attempt log %+v: want redirect(302), http_status(503), delivered", d.Attempts)
	}
}
