package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
)

// scenario is a set of webhooks with different scopes and the events
// published to them; it computes which (event, webhook) pairs must arrive.
type scenario struct {
	hooks  []hook
	events []map[string]any
}

var types = []string{"TODO_CREATED", "COMMENT_CREATED", "TODO_DELETED", "TODO_LIST_CREATED"}

func examples(t testing.TB) map[string]map[string]any {
	cat, err := event.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, ty := range cat.Types() {
		var e map[string]any
		if err := json.Unmarshal(ty.Example, &e); err != nil {
			t.Fatal(err)
		}
		out[ty.Name] = e
	}
	return out
}

// makeEvents returns n events spread over companies, projects and types.
func makeEvents(t testing.TB, n int, companies, projects []string) []map[string]any {
	ex := examples(t)
	rng := rand.New(rand.NewPCG(1, 2))
	run := testenv.ID("r")
	out := make([]map[string]any, n)
	for i := range out {
		ty := types[rng.IntN(len(types))]
		e := map[string]any{}
		for k, v := range ex[ty] {
			e[k] = v
		}
		e["id"] = fmt.Sprintf("evt_%s_%d", run, i)
		e["companyId"] = companies[rng.IntN(len(companies))]
		e["projectId"] = projects[rng.IntN(len(projects))]
		e["occurredAt"] = time.Now().UTC().Format(time.RFC3339Nano)
		out[i] = e
	}
	return out
}

func (s scenario) expected() map[string]hook {
	want := map[string]hook{} // "<eventId>/<webhookId>"
	for _, e := range s.events {
		for _, h := range s.hooks {
			if h.Company != e["companyId"] {
				continue
			}
			if len(h.Events) > 0 && !slices.Contains(h.Events, e["type"].(string)) {
				continue
			}
			if len(h.ProjectIDs) > 0 && !slices.Contains(h.ProjectIDs, e["projectId"].(string)) {
				continue
			}
			want[e["id"].(string)+"/"+h.ID] = h
		}
	}
	return want
}

// createScoped registers webhooks with different event and project scopes
// for two companies, all pointing at rc.
func createScoped(t testing.TB, c client, rc *receiver, tokA, coA, tokB, coB string) []hook {
	url := func(n int) string { return fmt.Sprintf("%s/hook/%d", rc.srv.URL, n) }
	return []hook{
		c.createHook(t, tokA, coA, map[string]any{"name": "all of A", "url": url(1)}),
		c.createHook(t, tokA, coA, map[string]any{"name": "todo created", "url": url(2), "events": []string{"TODO_CREATED"}}),
		c.createHook(t, tokA, coA, map[string]any{"name": "project p1", "url": url(3), "projectIds": []string{"p1"}}),
		c.createHook(t, tokA, coA, map[string]any{"name": "comments in p2", "url": url(4), "events": []string{"COMMENT_CREATED"}, "projectIds": []string{"p2"}}),
		c.createHook(t, tokA, coA, map[string]any{"name": "own secret", "url": url(5), "events": []string{"TODO_DELETED", "TODO_LIST_CREATED"}, "secret": "a-customer-chosen-secret-1234"}),
		c.createHook(t, tokB, coB, map[string]any{"name": "all of B", "url": url(6)}),
	}
}

// checkArrivals waits for every expected pair, then checks signatures,
// bodies, and that nothing unexpected arrived. It returns the duplicates.
func checkArrivals(t *testing.T, rc *receiver, s scenario, within time.Duration) int {
	t.Helper()
	want := s.expected()
	byID := map[string]hook{}
	for _, h := range s.hooks {
		byID[h.ID] = h
	}
	key := received.key
	testenv.Eventually(t, within, func() bool {
		got := map[string]bool{}
		for _, r := range rc.snapshot() {
			got[key(r)] = true
		}
		for k := range want {
			if !got[k] {
				return false
			}
		}
		return true
	}, "not every expected delivery arrived (%d expected)", len(want))

	seen := map[string]int{}
	deliveryIDs := map[string]string{}
	for _, r := range rc.snapshot() {
		k := key(r)
		seen[k]++
		h, ok := want[k]
		if !ok {
			t.Errorf("unexpected delivery %s to %s", k, r.path)
			continue
		}
		body := checkDelivery(t, h, r)
		wh := body["webhook"].(map[string]any)
		if wh["secret"] != "" {
			t.Errorf("body webhook.secret = %v, want \"\"", wh["secret"])
		}
		if !strings.HasSuffix(r.path, "/hook/") && byID[wh["id"].(string)].ID == "" {
			t.Errorf("body names unknown webhook %v", wh["id"])
		}
		if prev, ok := deliveryIDs[k]; ok && prev != r.header.Get("webhook-id") {
			t.Errorf("%s arrived with two webhook-ids %s and %s", k, prev, r.header.Get("webhook-id"))
		}
		deliveryIDs[k] = r.header.Get("webhook-id")
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("%d events, %d expected deliveries, %d received, %d duplicates", len(s.events), len(want), len(rc.snapshot()), dups)
	return dups
}

func TestPipelineSeparateBinaries(t *testing.T) {
	t.Parallel()
	natsAddr := freeAddr(t)
	startNATSServer(t, t.TempDir(), natsAddr)
	coA, coB := testenv.ID("coA"), testenv.ID("coB")
	env := []string{
		"NATS_URL=nats://" + natsAddr,
		"REDIS_URL=" + testenv.RedisURL(), "REDIS_KEY_PREFIX=" + testenv.RedisPrefix(t, "e2e"),
		"WEBHOOKS_API_TOKENS=tokA=" + coA + ",tokB=" + coB,
		"WEBHOOKS_INGEST_TOKENS=ingest-secret-token",
		"WEBHOOKS_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
		"DELIVERY_RETRY_SCHEDULE=1s,1s,2s",
		"LOG_LEVEL=debug",
	}
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	procs := []*proc{
		start(t, "api", "api", append(env, "API_ADDR="+apiAddr)),
		start(t, "publisher", "publisher", append(env, "PUBLISHER_ADDR="+pubAddr)),
		start(t, "dispatcher", "dispatcher", env),
		start(t, "deliverer-1", "deliverer", env),
		start(t, "deliverer-2", "deliverer", env),
	}
	waitHTTP(t, "http://"+apiAddr+"/readyz")
	waitHTTP(t, "http://"+pubAddr+"/readyz")

	rc := newReceiver(t)
	c := client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr, ingestToken: "ingest-secret-token"}
	s := scenario{hooks: createScoped(t, c, rc, "tokA", coA, "tokB", coB)}
	s.events = makeEvents(t, 300, []string{coA, coB}, []string{"p1", "p2", "p3"})
	for i := 0; i < len(s.events); i += 50 {
		c.publish(t, s.events[i:i+50])
	}
	checkArrivals(t, rc, s, 60*time.Second)

	// Both deliverer replicas took part.
	for _, p := range procs[3:] {
		if !strings.Contains(p.output(t), `"msg":"delivered"`) {
			t.Errorf("%s delivered nothing", p.name)
		}
	}
	// No secret in any log line of any process.
	for _, p := range procs {
		p.stop(t, 15)
		out := p.output(t)
		for _, h := range s.hooks {
			if strings.Contains(out, h.Secret) {
				t.Errorf("%s log contains the secret of %s", p.name, h.ID)
			}
		}
		for _, tok := range []string{"tokA", "tokB", "ingest-secret-token"} {
			if strings.Contains(out, `"`+tok+`"`) || strings.Contains(out, tok+"=") {
				t.Errorf("%s log contains the token %s", p.name, tok)
			}
		}
	}
}

func TestPipelineWebhookd(t *testing.T) {
	t.Parallel()
	env := []string{
		"DATA_DIR=" + t.TempDir(),
		"WEBHOOKS_API_TOKENS=tokA=coA,tokB=coB",
		"DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
		"REDIS_URL=",
		"NATS_URL=",
	}
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	p := start(t, "webhookd", "webhookd", append(env, "API_ADDR="+apiAddr, "PUBLISHER_ADDR="+pubAddr))
	waitHTTP(t, "http://"+apiAddr+"/readyz")

	rc := newReceiver(t)
	c := client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr}
	s := scenario{hooks: createScoped(t, c, rc, "tokA", "coA", "tokB", "coB")}
	s.events = makeEvents(t, 300, []string{"coA", "coB"}, []string{"p1", "p2", "p3"})
	for i := 0; i < len(s.events); i += 100 {
		c.publish(t, s.events[i:i+100])
	}
	dups := checkArrivals(t, rc, s, 60*time.Second)

	// A webhook created now gets events published after the call returns.
	late := c.createHook(t, "tokA", "coA", map[string]any{"name": "late", "url": rc.srv.URL + "/hook/late"})
	evs := makeEvents(t, 1, []string{"coA"}, []string{"p1"})
	c.publish(t, evs)
	testenv.Eventually(t, 30*time.Second, func() bool {
		for _, r := range rc.snapshot() {
			if r.path == "/hook/late" {
				return true
			}
		}
		return false
	}, "webhook created before the publish got nothing")
	_ = late

	// The metrics count what happened.
	events := float64(len(s.events) + 1)
	metrics := c.apiURL + "/metrics"
	testenv.Eventually(t, 10*time.Second, func() bool {
		return scrape(t, metrics, "webhooks_deliveries_total", map[string]string{"outcome": "delivered"}) == float64(len(rc.snapshot()))
	}, "webhooks_deliveries_total{outcome=delivered} = %d requests received", len(rc.snapshot()))
	for _, m := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"webhooks_events_published_total", nil, events},
		{"webhooks_events_dispatched_total", nil, events},
		{"webhooks_jobs_created_total", nil, float64(len(rc.snapshot()) - dups)}, // a duplicate is one job delivered twice
		{"webhooks_attempts_total", map[string]string{"result": "success", "status_class": "2xx"}, float64(len(rc.snapshot()))},
		{"webhooks_delivery_latency_seconds", nil, float64(len(rc.snapshot()))},
		{"webhooks_attempts_total", map[string]string{"result": "failure"}, 0},
	} {
		if got := scrape(t, metrics, m.family, m.labels); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.family, m.labels, got, m.want)
		}
	}
	if scrape(t, metrics, "webhooks_consumer_pending_messages", map[string]string{"consumer": "dispatch"}) != 0 {
		t.Errorf("dispatch consumer still has pending events after every delivery arrived")
	}

	p.stop(t, 15)
	out := p.output(t)
	for _, h := range s.hooks {
		if strings.Contains(out, h.Secret) {
			t.Errorf("webhookd log contains the secret of %s", h.ID)
		}
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("webhookd exited with %d after SIGTERM, want 0", code)
	}
}

// In the split deployment the dispatcher offers each job to the
// deliverers over NATS; one that is idle takes it, so nothing is stored in
// DELIVERIES. With DELIVERY_REMOTE_HANDOFF=false every job goes through
// DELIVERIES. Both deliver every event once.
func TestSplitHandsJobsToDeliverers(t *testing.T) {
	t.Parallel()
	for _, remote := range []bool{true, false} {
		t.Run(fmt.Sprint("remote=", remote), func(t *testing.T) {
			t.Parallel()
			s := startStack(t, testenv.RedisURL(), fmt.Sprint("DELIVERY_REMOTE_HANDOFF=", remote))
			rc := newReceiver(t)
			h := s.c.createHook(t, s.token, s.company, map[string]any{"name": "split", "url": rc.srv.URL + "/split"})
			events := makeEvents(t, 20, []string{s.company}, []string{"p1"})
			for _, e := range events {
				s.c.publish(t, []map[string]any{e})
			}
			testenv.Eventually(t, 30*time.Second, func() bool { return len(eventIDs(arrivals(rc, "/split"))) == len(events) }, "every event delivered")
			for _, r := range arrivals(rc, "/split") {
				checkDelivery(t, h, r)
			}
			handed := scrape(t, s.metrics("dispatcher"), "webhooks_jobs_handed_over_total", nil)
			refused := scrape(t, s.metrics("dispatcher"), "webhooks_jobs_handoff_refused_total", nil)
			nc, err := nats.Connect("nats://" + s.natsAddr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			st, err := js.Stream(t.Context(), stream.Deliveries)
			if err != nil {
				t.Fatal(err)
			}
			info, err := st.Info(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			stored := info.State.LastSeq
			t.Logf("%d events: %d jobs handed over, %d refused; DELIVERIES stored %d", len(events), int(handed), int(refused), stored)
			if remote && (handed-refused < float64(len(events))/2 || stored >= uint64(len(events))) {
				t.Errorf("with the remote handoff, %d of %d jobs were taken by a deliverer and DELIVERIES stored %d", int(handed-refused), len(events), stored)
			}
			if !remote && (handed != 0 || stored < uint64(len(events))) {
				t.Errorf("without the remote handoff, %d jobs handed over and DELIVERIES stored %d, want 0 and %d", int(handed), stored, len(events))
			}
			if n := len(arrivals(rc, "/split")); n != len(events) {
				t.Errorf("%d requests for %d events", n, len(events))
			}
		})
	}
}
