package e2e

import (
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// natsRetryInterval is internal/app's natsRetry: start-up tries NATS
// again, and logs why it failed, once a second.
const natsRetryInterval = time.Second

// A NATS_URL that cannot work is explained: a scheme NATS does not speak
// stops the process at once; a server that cannot be reached is retried
// for ever, and every retry says what is wrong, once per retry interval,
// without repeating the credentials.
func TestNatsURLProblemsAreExplained(t *testing.T) {
	t.Parallel()
	authAddr := freeAddr(t)
	host, port, _ := net.SplitHostPort(authAddr)
	start(t, "nats-server-with-auth", "nats-server", nil, "-a", host, "-p", port, "--user", "u", "--pass", "right-password")
	waitListening(t, authAddr)

	t.Run("scheme", func(t *testing.T) {
		t.Parallel()
		p := startDispatcherOn(t, "foo://bar")
		out, code := waitExit(t, p, 10*time.Second)
		want := `dispatcher: configuration: NATS_URL: foo://bar: scheme "foo" is not one NATS speaks: use nats://, tls://, ws://, wss://`
		if code != 2 || !strings.HasPrefix(lastLine(out), want) {
			t.Fatalf("NATS_URL=foo://bar: exit %d, last line %q; want 2 and %q:\n%s", code, lastLine(out), want, out)
		}
	})

	tests := []struct {
		name    string
		url     string
		problem string
		hint    string
	}{
		{name: "closed port", url: "nats://" + freeAddr(t), problem: "connection refused", hint: "is nats-server running"},
		{name: "never answers", url: "nats://" + silentServer(t), problem: "timeout", hint: "no NATS greeting came within 2s"},
		{name: "TLS not offered", url: "tls://" + authAddr, problem: "TLS", hint: "asks for TLS (tls://) but the server does not offer it"},
		{name: "no credentials", url: "nats://" + authAddr, problem: "authorization", hint: "the server refused the credentials"},
		{name: "wrong password", url: "nats://u:wrong-password@" + authAddr, problem: "authorization", hint: "the server refused the credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			started := time.Now()
			p := startDispatcherOn(t, tt.url)
			logOnFailure(t, p)
			var lines []map[string]any
			testenv.Eventually(t, 20*time.Second, func() bool {
				lines = natsFailures(t, p)
				return len(lines) >= 2
			}, "dispatcher did not say twice why it cannot reach %s", tt.url)
			elapsed := time.Since(started)
			for _, l := range lines {
				if l["problem"] != tt.problem || !strings.Contains(l["hint"].(string), tt.hint) {
					t.Errorf("logged problem %q, hint %q; want %q and a hint saying %q", l["problem"], l["hint"], tt.problem, tt.hint)
				}
			}
			if most := int(elapsed/natsRetryInterval) + 1; len(lines) > most {
				t.Errorf("%d lines in %s: more than one per retry interval (%s)", len(lines), elapsed, natsRetryInterval)
			}
			out := p.output(t)
			if strings.Contains(out, "wrong-password") {
				t.Errorf("the password of NATS_URL was logged:\n%s", out)
			}
			if strings.Contains(out, "context deadline exceeded") {
				t.Errorf("the log says only that a deadline passed:\n%s", out)
			}
			select {
			case <-p.done:
				t.Fatalf("dispatcher stopped instead of retrying:\n%s", out)
			default:
			}
		})
	}
}

// startDispatcherOn starts a dispatcher on natsURL.
func startDispatcherOn(t *testing.T, natsURL string) *proc {
	return start(t, "dispatcher", "dispatcher", []string{"NATS_URL=" + natsURL, "REDIS_URL=", "OPS_ADDR=127.0.0.1:0"})
}

// natsFailures are the log lines of p that say it cannot reach NATS.
func natsFailures(t *testing.T, p *proc) []map[string]any {
	var lines []map[string]any
	for _, line := range strings.Split(p.output(t), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "cannot reach NATS, retrying" {
			lines = append(lines, l)
		}
	}
	return lines
}

// silentServer listens on a loopback port and accepts connections, but
// never says a word: a NATS client waits there for a greeting.
func silentServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// webhookd's embedded nats-server on an occupied NATS_LISTEN port: it
// exits at once, saying the address is in use.
func TestNatsListenInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	p := start(t, "webhookd", "webhookd", []string{"DATA_DIR=" + t.TempDir(), "NATS_URL=", "REDIS_URL=", "NATS_LISTEN=" + addr,
		"API_ADDR=" + freeAddr(t), "PUBLISHER_ADDR=" + freeAddr(t)})
	out, code := waitExit(t, p, 10*time.Second)
	want := "webhookd: NATS_LISTEN " + addr + ": address in use"
	if code != 1 || !strings.HasPrefix(lastLine(out), want) {
		t.Fatalf("exit %d, last line %q; want 1 and a line starting %q:\n%s", code, lastLine(out), want, out)
	}
}
