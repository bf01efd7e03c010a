package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/api"
	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/inspect"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/netguard"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/retry"
	"github.com/bluehq/webhooks/internal/state"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

const reasonShards = 2

// allowedNet is what the deliverer of these tests may dial: one loopback
// address, so that localhost (127.0.0.1, ::1) is a forbidden address.
var allowedNet = netip.MustParsePrefix("127.0.0.2/32")

// deliveryBundle is an API server with a deliverer behind it: what the
// deliverer records is what the API shows.
type deliveryBundle struct {
	*bundle
	n     *testenv.NATS
	store *registry.Store
	cache *registry.Cache
	state state.State
}

func setupDelivery(t *testing.T) *deliveryBundle {
	t.Helper()
	n := testenv.StartNATS(t, reasonShards)
	kv, box := n.Registry(t)
	store, err := registry.NewStore(kv, registry.StoreConfig{Box: box})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := event.LoadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	shared := state.NewRedis(testenv.Redis(t), testenv.ID("reasons")+":", state.BreakerPolicy{})
	cache := registry.NewCache(kv, registry.CacheConfig{Box: box})
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	wg.Go(func() { _ = cache.Run(ctx) })
	<-cache.Ready()
	timeout := 500 * time.Millisecond
	d, err := delivery.New(delivery.Deps{
		JS: n.JS, Resolver: cache, Registry: store, State: shared,
		Client: delivery.NewClient(delivery.ClientConfig{Guard: netguard.New([]netip.Prefix{allowedNet}), Timeout: timeout, MaxConns: 8}),
	}, delivery.Config{
		Shards: reasonShards, Timeout: timeout,
		Policy: retry.Policy{Delays: []time.Duration{time.Hour}}, // one attempt in the test's time
	})
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { _ = d.Run(ctx) })

	b := &bundle{kv: kv, coA: testenv.ID("co"), coB: testenv.ID("co"), tokA: testenv.ID("tokA"), tokB: testenv.ID("tokB")}
	mux := http.NewServeMux()
	if _, err := api.New(mux, store, cat, api.Config{
		Tokens:    api.Tokens{b.tokA: b.coA, b.tokB: b.coB},
		Rules:     webhook.Rules{KnownEvent: cat.Known, CheckURL: netguard.New(nil).CheckURL},
		Inspector: inspect.New(n.JS, shared, reasonShards),
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return &deliveryBundle{bundle: b, n: n, store: store, cache: cache, state: shared}
}

// hook stores a webhook of company A with url as given (the store does not
// validate: these are what a URL checked at creation may turn into at
// dial time) and sends it one job; it returns the webhook and the job's
// delivery id.
func (b *deliveryBundle) hook(t *testing.T, url string) (*webhook.Webhook, string) {
	t.Helper()
	w, _, err := b.store.Create(t.Context(), &webhook.Webhook{CompanyID: b.coA, Name: "reasons", URL: url, Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := b.cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	j := job.Job{
		DeliveryID: job.DeliveryID(testenv.ID("evt"), w.ID, time.Now()), CompanyID: w.CompanyID,
		WebhookID: w.ID, EventID: testenv.ID("evt"), EventType: "TODO_CREATED", Attempt: 1, Body: []byte(`{}`),
	}
	if _, err := b.n.JS.PublishMsg(t.Context(), j.Msg(stream.DeliverySubject(w.ID, reasonShards))); err != nil {
		t.Fatal(err)
	}
	return w, j.DeliveryID
}

// listenAllowed listens on the allowed loopback address.
func listenAllowed(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", allowedNet.Addr().String()+":0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// leaks finds what the API must never show of a failure: an IPv4 address
// (the peer's, the resolver's), the IPv6 loopback, the host names dialled,
// or the words of Go's network errors.
var leaks = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|::1|localhost|\.invalid|dial |lookup `)

// TestDeliveryErrorsShowOnlyTheClass checks that the attempts of webhooks
// whose endpoint cannot be reached show, through both API reads, the
// error class and its fixed words, and nothing of the network error.
func TestDeliveryErrorsShowOnlyTheClass(t *testing.T) {
	t.Parallel()
	b := setupDelivery(t)

	closed := listenAllowed(t)
	closed.Close() // nothing listens on the port any more
	silent := listenAllowed(t)
	var conns sync.WaitGroup
	var mu sync.Mutex
	var accepted []net.Conn
	t.Cleanup(func() { // close, then wait
		silent.Close()
		mu.Lock()
		for _, c := range accepted {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	conns.Go(func() { // accepts and never answers
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
			conns.Go(func() { _, _ = io.Copy(io.Discard, c); c.Close() })
		}
	})
	tests := []struct {
		name  string
		url   string
		class string
	}{
		{name: "refused port", url: "http://" + closed.Addr().String() + "/hook", class: attempt.ClassRefused},
		{name: "forbidden address at dial time", url: "http://localhost:" + portOf(t, closed) + "/hook", class: attempt.ClassForbidden},
		{name: "unresolvable host", url: "http://no-such-host.invalid/hook", class: attempt.ClassDNS},
		{name: "timeout", url: "http://" + silent.Addr().String() + "/hook", class: attempt.ClassTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, deliveryID := b.hook(t, tt.url)
			var list struct {
				Data []attempt.Record `json:"data"`
			}
			var raw []byte
			testenv.Eventually(t, 20*time.Second, func() bool {
				var code int
				code, raw = b.do(t, http.MethodGet, "/v1/webhooks/"+w.ID+"/deliveries", b.tokA, nil)
				return code == http.StatusOK && json.Unmarshal(raw, &list) == nil && len(list.Data) == 1
			}, "the attempt is listed")
			_, one := b.do(t, http.MethodGet, "/v1/deliveries/"+deliveryID, b.tokA, nil)
			for what, body := range map[string][]byte{"webhook deliveries": raw, "delivery": one} {
				var got struct {
					Data     []attempt.Record `json:"data"`
					Attempts []attempt.Record `json:"attempts"`
				}
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatalf("%s: %v: %s", what, err, body)
				}
				recs := append(got.Data, got.Attempts...)
				if len(recs) != 1 || recs[0].ErrorClass != tt.class || recs[0].Error != attempt.Describe(tt.class, 0) {
					t.Errorf("%s: %s, want one attempt of class %s", what, body, tt.class)
				}
				if m := leaks.FindString(string(body)); m != "" {
					t.Errorf("%s shows %q: %s", what, m, body)
				}
			}
		})
	}
}

// TestOlderRecordsShowOnlyTheClass checks that a record stored before the
// classes were closed, with the network error as it was, is shown with
// its class's words only.
func TestOlderRecordsShowOnlyTheClass(t *testing.T) {
	t.Parallel()
	b := setupDelivery(t)
	w, _, err := b.store.Create(t.Context(), &webhook.Webhook{CompanyID: b.coA, Name: "old", URL: "https://old.example/hook", Enabled: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	old := attempt.Record{
		DeliveryID: "dlv_1", WebhookID: w.ID, EventID: "evt_1", EventType: "TODO_CREATED", Attempt: 1,
		At: time.Now().UTC(), Outcome: attempt.Retry, ErrorClass: attempt.ClassDNS,
		Error: `Post "https://old.example/hook": dial tcp: lookup old.example on 10.0.0.2:53: no such host`,
	}
	if err := b.state.AddAttempts(t.Context(), w.ID, [][]byte{old.AppendJSON(nil)}, 100); err != nil {
		t.Fatal(err)
	}
	code, body := b.do(t, http.MethodGet, "/v1/webhooks/"+w.ID+"/deliveries", b.tokA, nil)
	if code != http.StatusOK || strings.Contains(string(body), "10.0.0.2") || !strings.Contains(string(body), attempt.Describe(attempt.ClassDNS, 0)) {
		t.Errorf("GET deliveries = %d %s, want the class's words and no address", code, body)
	}
}

func portOf(t *testing.T, ln net.Listener) string {
	t.Helper()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}
