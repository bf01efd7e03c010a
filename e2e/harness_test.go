// Package e2e runs the real binaries (built once in TestMain) against a real
// nats-server process and the Redis at REDIS_URL, and checks what a
// customer's endpoint receives.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/pkg/verify"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "webhooks-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"../cmd/publisher", "../cmd/dispatcher", "../cmd/deliverer", "../cmd/api", "../cmd/webhookd", "../cmd/bench", "../cmd/receiver",
		"github.com/nats-io/nats-server/v2")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the binaries failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	// A test that leaves a goroutine behind (a receiver, a process waiter,
	// a NATS connection) fails the run, as goleak.VerifyTestMain would.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a process started next (testenv.FreeAddr).
func freeAddr(t testing.TB) string {
	t.Helper()
	return testenv.FreeAddr(t)
}

// proc is one running binary; its combined output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// start runs bin, one of the binaries built in TestMain or an absolute path.
func start(t testing.TB, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	if keep := os.Getenv("E2E_LOG_DIR"); keep != "" {
		// Kept after the test, for reading what the processes said.
		dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	for i := 2; errors.Is(err, fs.ErrExist); i++ { // the same role started again
		logPath = filepath.Join(dir, fmt.Sprintf("%s-%d.log", name, i))
		f, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(binDir, bin)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() { p.stop(t, syscall.SIGTERM) })
	return p
}

// stop signals the process and waits for it to exit (SIGKILL after 15 s,
// a minute for lame-duck mode).
func (p *proc) stop(t testing.TB, sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	within := 15 * time.Second
	if sig == syscall.SIGUSR2 { // nats-server's lame-duck mode closes its clients over 30 s
		within = time.Minute
	}
	select {
	case <-p.done:
	case <-time.After(within):
		t.Errorf("%s did not stop within %s of %s; killing it (its goroutines are in %s)", p.name, within, sig, p.log)
		_ = p.cmd.Process.Signal(syscall.SIGQUIT) // a Go binary prints its goroutines
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

func (p *proc) output(t testing.TB) string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitReady polls url until it answers 200, like waitHTTP, but gives up
// as soon as p exits, and fails with the end of p's log either way.
func (p *proc) waitReady(t testing.TB, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ; time.Now().Before(deadline); <-tick.C {
		select {
		case <-p.done:
			t.Fatalf("%s exited before %s answered:\n%s", p.name, url, tail(p.output(t), 2000))
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s: %s did not become ready within 30s:\n%s", p.name, url, tail(p.output(t), 2000))
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

// waitHTTP polls url until it answers 200.
func waitHTTP(t testing.TB, url string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "%s did not become ready", url)
}

// startNATSServer runs the pinned nats-server binary with JetStream.
func startNATSServer(t testing.TB, storeDir, addr string) *proc {
	host, port, _ := net.SplitHostPort(addr)
	p := start(t, "nats-server", "nats-server", nil, "-js", "-sd", storeDir, "-a", host, "-p", port)
	testenv.Eventually(t, 30*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, "nats-server did not listen on %s", addr)
	return p
}

// received is one request the receiver got.
type received struct {
	path   string
	header http.Header
	body   []byte
	at     time.Time
}

// ids returns the event and webhook ids a delivery body names.
func (r received) ids() (eventID, webhookID string) {
	var b struct {
		EventID string `json:"eventId"`
		Webhook struct {
			ID string `json:"id"`
		} `json:"webhook"`
	}
	_ = json.Unmarshal(r.body, &b)
	return b.EventID, b.Webhook.ID
}

// key is "<eventId>/<webhookId>": one (event, webhook) pair.
func (r received) key() string {
	e, w := r.ids()
	return e + "/" + w
}

// receiver is the customers' endpoint: it records every request and
// answers with the status its handler picks (200 by default).
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	all []received
	// status, if set, picks the answer for a request; headers, if set, adds
	// response headers to the n-th request.
	status  func(r *http.Request, n int) int
	headers func(n int) http.Header
	done    map[string]int // requests answered, per path
}

// answered reports whether every request received on path was answered.
func (rc *receiver) answered(path string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, r := range rc.all {
		if r.path == path {
			n++
		}
	}
	return n > 0 && rc.done[path] == n
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.all = append(rc.all, received{path: r.URL.Path, header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rc.all)
		status, headers := rc.status, rc.headers
		rc.mu.Unlock()
		code := http.StatusOK
		if status != nil {
			code = status(r, n)
		}
		rc.mu.Lock()
		if rc.done == nil {
			rc.done = map[string]int{}
		}
		rc.done[r.URL.Path]++
		rc.mu.Unlock()
		if headers != nil {
			for k, v := range headers(n) {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) snapshot() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.all...)
}

// client talks to the management API and the ingest.
type client struct {
	apiURL, ingestURL string
	apiToken          string
	ingestToken       string
}

func (c client) do(t testing.TB, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if raw, ok := body.([]byte); ok {
			rd = bytes.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// hook is a webhook created through the API, with its secret.
type hook struct {
	ID         string   `json:"id"`
	Secret     string   `json:"secret"`
	Company    string   `json:"-"`
	Events     []string `json:"events"`
	ProjectIDs []string `json:"projectIds"`
}

func (c client) createHook(t testing.TB, token, company string, spec map[string]any) hook {
	t.Helper()
	code, body := c.do(t, http.MethodPost, c.apiURL+"/v1/webhooks", token, spec)
	if code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	var h hook
	if err := json.Unmarshal(body, &h); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Secret, "whsec_") && spec["secret"] == nil {
		t.Fatalf("create webhook: secret %q is not whsec_", h.Secret)
	}
	h.Company = company
	return h
}

func (c client) publish(t testing.TB, events []map[string]any) {
	t.Helper()
	code, body := c.do(t, http.MethodPost, c.ingestURL+"/v1/events", c.ingestToken, events)
	if code != http.StatusAccepted {
		t.Fatalf("publish: %d %s", code, body)
	}
}

// checkDelivery verifies one received request against the hook's secret,
// as of when it arrived (a receiver checks the timestamp on arrival; a long
// test checks at its end), and returns the parsed body.
func checkDelivery(t testing.TB, h hook, r received) map[string]any {
	t.Helper()
	v, err := verify.New(h.Secret, verify.WithClock(func() time.Time { return r.at }))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(r.header, r.body); err != nil {
		t.Errorf("webhook-signature of %s invalid: %v", r.header.Get("webhook-id"), err)
	}
	if err := v.VerifyXSignature(r.header, r.body); err != nil {
		t.Errorf("X-Signature of %s invalid: %v", r.header.Get("webhook-id"), err)
	}
	if bytes.Contains(r.body, []byte(h.Secret)) {
		t.Errorf("delivery body contains the webhook secret")
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("delivery body is not JSON: %v", err)
	}
	return body
}
