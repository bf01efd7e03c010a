package e2e

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// jaegerBin returns the Jaeger binary: $JAEGER_BIN (make test builds it),
// else it is built now with scripts/jaeger.sh (slow the first time, then
// cached by the Go build cache).
func jaegerBin(t *testing.T) string {
	if p := os.Getenv("JAEGER_BIN"); p != "" {
		return p
	}
	root, _ := filepath.Abs("..")
	cmd := exec.Command(filepath.Join(root, "scripts", "jaeger.sh"), "build")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building Jaeger (scripts/jaeger.sh build): %v", err)
	}
	return filepath.Join(root, "bin", "jaeger")
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	ProcessID string `json:"processID"`
}

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func (s jaegerSpan) tag(key string) any {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return nil
}

func TestTraceInJaeger(t *testing.T) {
	t.Parallel()
	bin := jaegerBin(t)
	port := func() string { _, p, _ := net.SplitHostPort(freeAddr(t)); return p }
	otlp, query, health := port(), port(), port()
	root, _ := filepath.Abs("..")
	jaeger := exec.Command(bin, "--config", "file:"+filepath.Join(root, "tools", "jaeger", "config.yaml"))
	jaeger.Env = append(os.Environ(), "JAEGER_OTLP_HTTP_PORT="+otlp, "JAEGER_OTLP_GRPC_PORT="+port(),
		"JAEGER_QUERY_PORT="+query, "JAEGER_QUERY_GRPC_PORT="+port(), "JAEGER_HEALTH_PORT="+health, "JAEGER_LOG_LEVEL=warn")
	logf, _ := os.Create(filepath.Join(t.TempDir(), "jaeger.log"))
	jaeger.Stdout, jaeger.Stderr = logf, logf
	if err := jaeger.Start(); err != nil {
		t.Fatalf("start jaeger: %v", err)
	}
	t.Cleanup(func() { _ = jaeger.Process.Kill(); _ = jaeger.Wait() })
	waitHTTP(t, "http://127.0.0.1:"+health+"/status")
	otel := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:" + otlp, "OTEL_BSP_SCHEDULE_DELAY=100"}

	t.Run("split", func(t *testing.T) {
		t.Parallel()
		s := startStack(t, testenv.RedisURL(), otel...)
		checkTrace(t, query, s.c, s.token, s.company, map[string]string{
			"POST /v1/events": "publisher", "publish": "publisher", "dispatch": "dispatcher", "fan out": "dispatcher", "deliver attempt": "deliverer", "POST": "deliverer",
		})
	})
	// In webhookd the dispatcher hands the jobs straight to its deliverer,
	// not through DELIVERIES: each attempt is still the child of its
	// fan-out span, in the same trace.
	t.Run("webhookd", func(t *testing.T) {
		t.Parallel()
		apiAddr, pubAddr := freeAddr(t), freeAddr(t)
		p := start(t, "webhookd", "webhookd", append([]string{
			"DATA_DIR=" + t.TempDir(), "NATS_URL=", "REDIS_URL=", "API_ADDR=" + apiAddr, "PUBLISHER_ADDR=" + pubAddr,
			"WEBHOOKS_API_TOKENS=tokT=coT", "DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
		}, otel...))
		p.waitReady(t, "http://"+apiAddr+"/readyz")
		c := client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr, apiToken: "tokT"}
		checkTrace(t, query, c, "tokT", "coT", map[string]string{
			"POST /v1/events": "webhookd", "publish": "webhookd", "dispatch": "webhookd", "fan out": "webhookd", "deliver attempt": "webhookd", "POST": "webhookd",
		})
		if n := scrape(t, c.apiURL+"/metrics", "webhooks_jobs_handed_over_total", nil); n != 2 {
			t.Errorf("webhooks_jobs_handed_over_total = %v, want both jobs handed over", n)
		}
	})
}

// checkTrace publishes one event to two new webhooks of company and checks
// its trace in the Jaeger whose query API is on port query: one trace from
// the ingest to both HTTP attempts, each span from the service wantService
// names (by operation prefix) and under the expected parent.
func checkTrace(t *testing.T, query string, c client, token, company string, wantService map[string]string) {
	rc := newReceiver(t)
	h1 := c.createHook(t, token, company, map[string]any{"name": "one", "url": rc.srv.URL + "/one"})
	h2 := c.createHook(t, token, company, map[string]any{"name": "two", "url": rc.srv.URL + "/two"})
	ev := oneEvent(t, company)
	c.publish(t, ev)
	testenv.Eventually(t, 20*time.Second, func() bool { return len(rc.snapshot()) == 2 }, "two deliveries")

	got := rc.snapshot()
	tp1, tp2 := got[0].header.Get("traceparent"), got[1].header.Get("traceparent")
	parts := strings.Split(tp1, "-")
	if len(parts) != 4 || !strings.HasPrefix(tp2, parts[0]+"-"+parts[1]+"-") {
		t.Fatalf("receivers got traceparent %q and %q: want one trace", tp1, tp2)
	}
	traceID := parts[1]
	receivedSpan := map[string]bool{parts[2]: true, strings.Split(tp2, "-")[2]: true}

	var trace struct {
		Data []struct {
			Spans     []jaegerSpan `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	want := map[string]int{"POST /v1/events": 1, "publish " + ev[0]["type"].(string): 1, "dispatch " + ev[0]["type"].(string): 1, "fan out to " + h1.ID: 1, "fan out to " + h2.ID: 1, "deliver attempt": 2, "POST": 2}
	complete := func() bool {
		resp, err := http.Get("http://127.0.0.1:" + query + "/api/traces/" + traceID)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&trace) != nil || len(trace.Data) != 1 {
			return false
		}
		n := map[string]int{}
		for _, sp := range trace.Data[0].Spans {
			n[sp.OperationName]++
		}
		for op, c := range want {
			if n[op] < c {
				return false
			}
		}
		return true
	}
	testenv.Eventually(t, 30*time.Second, complete, "Jaeger holds the whole trace %s", traceID)

	spans := trace.Data[0].Spans
	byID := map[string]jaegerSpan{}
	for _, sp := range spans {
		byID[sp.SpanID] = sp
	}
	service := func(sp jaegerSpan) string { return trace.Data[0].Processes[sp.ProcessID].ServiceName }
	parentOp := func(sp jaegerSpan) string { return byID[sp.parent()].OperationName }
	for _, sp := range spans {
		t.Logf("span %-28q service %-10s parent %q", sp.OperationName, service(sp), parentOp(sp))
	}
	wantParent := map[string]string{"publish": "POST /v1/events", "dispatch": "publish " + ev[0]["type"].(string), "fan out": "dispatch " + ev[0]["type"].(string), "deliver attempt": "fan out to ", "POST": "deliver attempt"}
	for _, sp := range spans {
		for prefix, svc := range wantService {
			if sp.OperationName == prefix || (prefix != "POST" && strings.HasPrefix(sp.OperationName, prefix+" ")) {
				if service(sp) != svc {
					t.Errorf("span %q from service %q, want %q", sp.OperationName, service(sp), svc)
				}
				if p, ok := wantParent[prefix]; ok && !strings.HasPrefix(parentOp(sp), p) {
					t.Errorf("span %q has parent %q, want %q", sp.OperationName, parentOp(sp), p)
				}
			}
		}
		switch {
		case strings.HasPrefix(sp.OperationName, "dispatch "):
			if sp.tag("webhooks.event.id") != ev[0]["id"] || sp.tag("webhooks.event.type") != ev[0]["type"] {
				t.Errorf("dispatch span tags %+v: want event id and type", sp.Tags)
			}
		case sp.OperationName == "deliver attempt":
			if sp.tag("webhooks.webhook.id") == nil || sp.tag("webhooks.delivery.id") == nil || sp.tag("webhooks.attempt") != float64(1) || sp.tag("http.response.status_code") != float64(200) {
				t.Errorf("deliver attempt span tags %+v: want webhook id, delivery id, attempt 1, status 200", sp.Tags)
			}
		case sp.OperationName == "POST":
			if !receivedSpan[sp.SpanID] {
				t.Errorf("HTTP client span %s is not the traceparent a receiver got", sp.SpanID)
			}
		}
	}
	// The deliveries API returns the trace id of each attempt.
	var d struct {
		Attempts []struct {
			TraceID string `json:"traceId"`
		} `json:"attempts"`
	}
	id := got[0].header.Get("webhook-id")
	testenv.Eventually(t, 10*time.Second, func() bool {
		return c.getJSON(t, "/v1/deliveries/"+id, &d) == http.StatusOK && len(d.Attempts) == 1
	}, "delivery log")
	if d.Attempts[0].TraceID != traceID {
		t.Errorf("delivery %s traceId %q, want %q", id, d.Attempts[0].TraceID, traceID)
	}
}
