package app

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// The HTTP servers Run starts, probed with raw sockets: each test runs the
// API and the ingest with the limits it needs and plays a client that
// misbehaves in one way.

// A body sent a byte at a time is cut off after HTTP_READ_TIMEOUT, on both
// ports, whether the handler reads it (the ingest) or the server discards
// it after the handler (GET /healthz); headers over HTTP_MAX_HEADER_BYTES
// are refused.
func TestHTTPSlowOrLargeRequestsAreCutOff(t *testing.T) {
	t.Parallel()
	addrs := startServers(t, map[string]string{"HTTP_READ_TIMEOUT": "500ms", "HTTP_MAX_HEADER_BYTES": "8192"})
	trickled := func(request string) string {
		return request + "Host: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n"
	}
	tests := []struct {
		name, server, head string
		trickle            bool
		wantStatus         string // "": any answer, or none; the connection must end
	}{
		{name: "ingest body", server: "ingest", head: trickled("POST /v1/events HTTP/1.1\r\n"), trickle: true, wantStatus: "408"},
		{name: "api body discarded", server: "api", head: trickled("GET /healthz HTTP/1.1\r\n"), trickle: true},
		{name: "ingest headers too large", server: "ingest", head: "POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", wantStatus: "431"},
		{name: "api headers too large", server: "api", head: "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n", wantStatus: "431"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addrs[tc.server])
			write(t, c, tc.head)
			if tc.trickle {
				stop := make(chan struct{})
				defer close(stop)
				go trickle(c, stop)
			}
			answer, err := readUntilClosed(c, 15*time.Second)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the server still held the connection after 15 s (answer so far %.100q)", answer)
			}
			if tc.wantStatus != "" && !strings.HasPrefix(answer, "HTTP/1.1 "+tc.wantStatus) {
				t.Errorf("answer %.100q, want status %s", answer, tc.wantStatus)
			}
		})
	}
}

// A request without a token is refused before its body is read: 401 at once
// and the connection closed, although the client sent none of the 200000
// bytes it announced (the server's read timeout, 30 s, is far away).
func TestHTTPUnauthenticatedBodyIsNotRead(t *testing.T) {
	t.Parallel()
	addrs := startServers(t, map[string]string{"WEBHOOKS_API_TOKENS": "api-token=co1", "WEBHOOKS_INGEST_TOKENS": "ingest-token=*"})
	tests := []struct{ server, path string }{
		{server: "api", path: "/v1/webhooks"},
		{server: "ingest", path: "/v1/events"},
	}
	for _, tc := range tests {
		t.Run(tc.server, func(t *testing.T) {
			t.Parallel()
			c := dial(t, addrs[tc.server])
			write(t, c, "POST "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n")
			answer, err := readUntilClosed(c, 10*time.Second)
			if err != nil {
				t.Fatalf("no answer and close within 10 s (%v); answer so far %.200q", err, answer)
			}
			if !strings.HasPrefix(answer, "HTTP/1.1 401") || !strings.Contains(answer, "Connection: close") {
				t.Errorf("answer %.300q, want 401 with Connection: close", answer)
			}
		})
	}
}

// An idle keep-alive connection is closed after HTTP_IDLE_TIMEOUT, and a
// connection over HTTP_MAX_CONNS waits until one closes: with a cap of 1,
// the second connection is served only once the first was idle for 1 s.
func TestHTTPIdleConnectionsCloseAndConnectionsOverTheCapWait(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	addrs := startServers(t, map[string]string{"HTTP_IDLE_TIMEOUT": idle.String(), "HTTP_MAX_CONNS": "1"})
	tests := []struct{ server, path string }{
		{server: "api", path: "/healthz"},
		{server: "ingest", path: "/v1/events"}, // 405: any answer will do
	}
	for _, tc := range tests {
		t.Run(tc.server, func(t *testing.T) {
			t.Parallel()
			request := "GET " + tc.path + " HTTP/1.1\r\nHost: x\r\n\r\n"
			before := time.Now()
			first := dial(t, addrs[tc.server])
			firstReader := bufio.NewReader(first)
			write(t, first, request)
			readResponse(t, first, firstReader)

			second := dial(t, addrs[tc.server])
			write(t, second, request)
			readResponse(t, second, bufio.NewReader(second))
			if waited := time.Since(before); waited < idle {
				t.Errorf("the connection over the cap was served %s after the first connection's request, before that one was idle for %s", waited, idle)
			}
			_ = first.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := firstReader.ReadByte(); !errors.Is(err, io.EOF) {
				t.Errorf("the idle connection: read %v, want EOF (closed by the server)", err)
			}
		})
	}
}

// startServers runs the API and the ingest (embedded NATS) with the
// variables given on loopback ports until the test ends, and returns their
// addresses by server name.
func startServers(t *testing.T, vars map[string]string) map[string]string {
	t.Helper()
	addrs, _ := startLogged(t, vars)
	return addrs
}

// startLogged is startServers that also returns what Run logged.
func startLogged(t *testing.T, vars map[string]string) (map[string]string, *listening) {
	t.Helper()
	all := map[string]string{"DATA_DIR": t.TempDir(), "API_ADDR": "127.0.0.1:0", "PUBLISHER_ADDR": "127.0.0.1:0"}
	maps.Copy(all, vars)
	cfg, err := LoadConfig(env(all))
	if err != nil {
		t.Fatal(err)
	}
	h := &listening{addrs: map[string]string{}, started: make(chan struct{})}
	cfg.Logger = slog.New(h)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var runErr error
	go func() {
		defer close(stopped)
		runErr = Run(ctx, cfg, Roles{API: true, Publisher: true})
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		if runErr != nil {
			t.Errorf("Run: %v", runErr)
		}
	})
	select {
	case <-h.started:
	case <-stopped:
		t.Fatalf("Run returned before it started: %v", runErr)
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not start within 60 s")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.addrs), h
}

// listening is a slog.Handler that keeps the messages (records) and the
// address of each "listening" line by server, and closes started at
// "started".
type listening struct {
	records
	mu      sync.Mutex
	addrs   map[string]string
	started chan struct{}
}

func (l *listening) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *listening) WithGroup(string) slog.Handler      { return l }
func (l *listening) Handle(ctx context.Context, r slog.Record) error {
	_ = l.records.Handle(ctx, r)
	switch r.Message {
	case "listening":
		var server, addr string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "server":
				server = a.Value.String()
			case "addr":
				addr = a.Value.String()
			}
			return true
		})
		l.mu.Lock()
		l.addrs[server] = addr
		l.mu.Unlock()
	case "started":
		close(l.started)
	}
	return nil
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// trickle writes one byte of body every 50 ms until stop or a failed write.
func trickle(c net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}
}

// readUntilClosed reads what the server sends until it closes the
// connection (a reset counts) or within passes: os.ErrDeadlineExceeded.
func readUntilClosed(c net.Conn, within time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(within))
	data, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil // reset by the server: closed too
	}
	return string(data), err
}

func readResponse(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}
