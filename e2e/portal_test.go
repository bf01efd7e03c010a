package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/verify"
)

// chromiumBin is Debian's chromium, which the browser tests drive; they
// never download a browser.
const chromiumBin = "/usr/bin/chromium"

// TestPortalInBrowser drives the customer portal in a real browser (Debian's
// chromium through playwright-core, e2e/portal/portal.test.mjs) against a
// real webhookd and a real receiver: a customer opens a magic link, creates
// a webhook, sees its secret once, watches deliveries and their attempts
// arrive, makes the receiver fail, redelivers and recovers, rotates the
// secret, disables and enables with replay, sends a test event; company B
// sees none of it; used and expired links, changes without the CSRF token
// are refused; every page passes axe-core with no serious violation, and is
// photographed at 1280 and 390 px (under e2e/portal/output, or
// PORTAL_SCREENSHOTS).
func TestPortalInBrowser(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the browser tests: install it (apt-get install -y nodejs npm) or run make test, which says how")
	}
	if _, err := os.Stat(chromiumBin); err != nil {
		t.Fatalf("%s is needed for the browser tests: apt-get install -y chromium (scripts/test.sh installs it)", chromiumBin)
	}
	project, err := filepath.Abs("portal")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(project, "node_modules", "playwright-core")); err != nil {
		t.Fatalf("the browser tests' packages are not installed: run `npm ci` in %s (scripts/test.sh does)", project)
	}
	out := os.Getenv("PORTAL_SCREENSHOTS")
	if out == "" {
		out = filepath.Join(project, "output")
	}

	rc := newPortalReceiver(t)
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	coA, coB, tokA, tokB := testenv.ID("coA"), testenv.ID("coB"), testenv.ID("tokA"), testenv.ID("tokB")
	p := start(t, "webhookd", "webhookd", []string{
		"NATS_URL=", "DATA_DIR=" + t.TempDir(), "REDIS_URL=" + testenv.RedisURL(), "REDIS_KEY_PREFIX=" + testenv.RedisPrefix(t, "e2e"),
		"API_ADDR=" + apiAddr, "PUBLISHER_ADDR=" + pubAddr,
		"WEBHOOKS_API_TOKENS=" + tokA + "=" + coA + "," + tokB + "=" + coB,
		"WEBHOOKS_INGEST_TOKENS=ingest-token",
		"WEBHOOKS_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"DELIVERY_ALLOWED_CIDRS=127.0.0.0/8", "DELIVERY_RETRY_SCHEDULE=1s,1s",
		"PORTAL_LINK_TTL=10s", "LOG_LEVEL=debug",
	})
	p.waitReady(t, "http://"+apiAddr+"/readyz")

	cmd := exec.Command(node, "--test", "--test-reporter=spec", "--test-timeout=600000", "portal.test.mjs")
	cmd.Dir = project
	cmd.Env = append(os.Environ(),
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1",
		"CHROMIUM="+chromiumBin,
		"PORTAL_BASE=http://"+apiAddr,
		"INGEST_URL=http://"+pubAddr+"/v1/events", "INGEST_TOKEN=ingest-token",
		"TOKEN_A="+tokA, "COMPANY_A="+coA, "TOKEN_B="+tokB, "COMPANY_B="+coB,
		"RECEIVER_URL="+rc.srv.URL+"/hook", "CONTROL_URL="+rc.control.URL,
		"SCREENSHOTS="+out,
	)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			t.Log(sc.Text())
		}
	}()
	runErr := cmd.Run()
	pw.Close()
	<-done
	if runErr != nil {
		t.Fatalf("the browser tests failed (%v); webhookd's log is %s", runErr, p.log)
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "ℹ pass ") }) {
		t.Fatal("node reported no passing test")
	}
	// The receiver checked every delivery against the secrets the browser
	// read off the pages.
	if n, bad := rc.counts(); n == 0 || bad > 0 {
		t.Errorf("the receiver got %d deliveries, %d of them not signed with a secret the portal showed", n, bad)
	}
	for _, s := range rc.knownSecrets() {
		if strings.Contains(p.output(t), s) {
			t.Errorf("webhookd's log contains a secret the portal showed")
		}
	}
}

// portalReceiver is the customer's endpoint: it answers 200, or 500 while
// told to fail, and checks each delivery's signatures with the secrets the
// browser test reports from the pages. Its control server takes those
// orders and says what arrived.
type portalReceiver struct {
	srv, control *httptest.Server
	mu           sync.Mutex
	failing      bool
	secrets      []string
	got          []portalDelivery
}

type portalDelivery struct {
	EventID  string `json:"eventId"`
	Type     string `json:"type"`
	Verified bool   `json:"verified"`
	Status   int    `json:"status"`
	// Headers (names in lower case) and Body are the request as it
	// arrived, for the test to compare with what the portal shows.
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

func newPortalReceiver(t *testing.T) *portalReceiver {
	rc := &portalReceiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.receive))
	t.Cleanup(rc.srv.Close)
	rc.control = httptest.NewServer(http.HandlerFunc(rc.command))
	t.Cleanup(rc.control.Close)
	return rc
}

func (rc *portalReceiver) receive(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var b struct {
		EventID string `json:"eventId"`
		Event   string `json:"event"`
	}
	_ = json.Unmarshal(body, &b)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d := portalDelivery{EventID: b.EventID, Type: b.Event, Status: http.StatusOK, Headers: map[string]string{}, Body: string(body)}
	for k, v := range r.Header {
		d.Headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	for _, s := range rc.secrets {
		if v, err := verify.New(s); err == nil && v.Verify(r.Header, body) == nil {
			d.Verified = true
		}
	}
	if rc.failing {
		d.Status = http.StatusInternalServerError
	}
	rc.got = append(rc.got, d)
	w.WriteHeader(d.Status)
	if rc.failing {
		fmt.Fprint(w, "receiver told to fail")
	}
}

// command: POST /fail?on=true|false, POST /secret (the body), GET /state.
func (rc *portalReceiver) command(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/fail":
		rc.failing = r.URL.Query().Get("on") == "true"
	case r.Method == http.MethodPost && r.URL.Path == "/secret":
		s, _ := io.ReadAll(r.Body)
		rc.secrets = append(rc.secrets, strings.TrimSpace(string(s)))
	case r.Method == http.MethodGet && r.URL.Path == "/state":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"failing": rc.failing, "deliveries": rc.got, "at": time.Now()})
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// counts returns the deliveries answered 200 and, of those, the ones no
// known secret verified.
func (rc *portalReceiver) counts() (n, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, d := range rc.got {
		if d.Status == http.StatusOK {
			n++
			if !d.Verified {
				bad++
			}
		}
	}
	return n, bad
}

func (rc *portalReceiver) knownSecrets() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.secrets...)
}
