package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// Every process that connects to NATS refuses, at once and in one line, a
// nats-server older than 2.12 and one without JetStream.
func TestServerCheckRefusesOldOrJetStreamlessServers(t *testing.T) {
	t.Parallel()
	oldAddr, plainAddr := freeAddr(t), freeAddr(t)
	host, port, _ := net.SplitHostPort(oldAddr)
	start(t, "nats-server-2.11", natsServerOldBin(t), nil, "-js", "-sd", t.TempDir(), "-a", host, "-p", port)
	host, port, _ = net.SplitHostPort(plainAddr)
	start(t, "nats-server-without-js", "nats-server", nil, "-a", host, "-p", port)
	for _, addr := range []string{oldAddr, plainAddr} {
		waitListening(t, addr)
	}

	servers := []struct {
		name, addr string
		want       []string
	}{
		{"2.11.9", oldAddr, []string{"nats-server 2.11.9 at nats://" + oldAddr + " is too old", "needs nats-server 2.12.0 or newer", "install nats-server v2.12 or newer"}},
		{"without JetStream", plainAddr, []string{"at nats://" + plainAddr + " runs without JetStream", "nats-server -js"}},
	}
	for _, srv := range servers {
		for _, bin := range []string{"api", "publisher", "dispatcher", "deliverer", "webhookd"} {
			t.Run(srv.name+"/"+bin, func(t *testing.T) {
				t.Parallel()
				p := start(t, bin, bin, []string{
					"NATS_URL=nats://" + srv.addr, "REDIS_URL=", "API_ADDR=" + freeAddr(t), "PUBLISHER_ADDR=" + freeAddr(t), "OPS_ADDR=127.0.0.1:0",
				})
				// Start-up retries what may pass for 30 s; this must not.
				out, code := waitExit(t, p, 20*time.Second)
				last := lastLine(out)
				if code == 0 || !strings.HasPrefix(last, bin+": ") {
					t.Fatalf("%s exited %d, last line %q; want non-zero and one line from %s:\n%s", bin, code, last, bin, out)
				}
				for _, w := range srv.want {
					if !strings.Contains(last, w) {
						t.Errorf("%s said %q, want it to say %q", bin, last, w)
					}
				}
				if strings.Contains(out, "retrying") {
					t.Errorf("%s retried before refusing:\n%s", bin, out)
				}
			})
		}
	}
}

// Two webhookd on one DATA_DIR: the second exits at once naming the
// directory and the first, which keeps serving. Once the first is killed
// (SIGKILL: the kernel drops its lock), another starts on the directory,
// with what the first stored.
func TestDataDirLockKeepsASecondWebhookdOut(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	webhookd := func(name string) (*proc, client) {
		apiAddr, pubAddr := freeAddr(t), freeAddr(t)
		p := start(t, name, "webhookd", []string{
			"DATA_DIR=" + dir, "NATS_URL=", "REDIS_URL=", "DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
			"WEBHOOKS_API_TOKENS=lock-token=lockco", "API_ADDR=" + apiAddr, "PUBLISHER_ADDR=" + pubAddr,
		})
		return p, client{apiURL: "http://" + apiAddr, apiToken: "lock-token"}
	}
	first, c1 := webhookd("webhookd-1")
	first.waitReady(t, c1.apiURL+"/readyz")

	second, _ := webhookd("webhookd-2")
	out, code := waitExit(t, second, 20*time.Second)
	want := fmt.Sprintf("webhookd: data directory %s is in use by pid %d on host", dir, first.cmd.Process.Pid)
	if code == 0 || !strings.HasPrefix(lastLine(out), want) {
		t.Fatalf("second webhookd exited %d with %q; want non-zero and a line starting %q:\n%s", code, lastLine(out), want, out)
	}

	h := c1.createHook(t, c1.apiToken, "lockco", map[string]any{"name": "kept", "url": "http://127.0.0.1:9/hook"})
	first.stop(t, syscall.SIGKILL)
	third, c3 := webhookd("webhookd-3")
	third.waitReady(t, c3.apiURL+"/readyz")
	if code, body := c3.do(t, http.MethodGet, c3.apiURL+"/v1/webhooks/"+h.ID, c3.apiToken, nil); code != http.StatusOK {
		t.Errorf("webhook %s after the restart: %d %s", h.ID, code, body)
	}
}

// natsServerOldBin is a nats-server older than the minimum: $NATS_SERVER_OLD_BIN
// (make test builds it), else built now with scripts/nats-server-old.sh.
func natsServerOldBin(t *testing.T) string {
	if p := os.Getenv("NATS_SERVER_OLD_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("NATS_SERVER_OLD_BIN=%s: %v (build it with scripts/nats-server-old.sh build)", p, err)
		}
		return p
	}
	root, _ := filepath.Abs("..")
	cmd := exec.Command(filepath.Join(root, "scripts", "nats-server-old.sh"), "build")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("building the old nats-server (scripts/nats-server-old.sh build): %v", err)
	}
	return filepath.Join(root, "bin", "nats-server-old")
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, "nothing listens on %s", addr)
}

// waitExit waits, at most within, for p to exit and returns its output and
// exit code.
func waitExit(t *testing.T, p *proc, within time.Duration) (string, int) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s still running after %s:\n%s", p.name, within, tail(p.output(t), 2000))
	}
	return p.output(t), p.cmd.ProcessState.ExitCode()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
