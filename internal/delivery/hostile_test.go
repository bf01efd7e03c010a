package delivery

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/attempt"
)

// hostileTimeout is the delivery timeout of the hostile tests: every
// attempt must end within it (and a little scheduling slack).
const (
	hostileTimeout   = 600 * time.Millisecond
	hostileHeaderMax = 16 << 10
	hostileSlack     = 2 * time.Second // scheduling, on a busy machine
)

// rawReceiver serves every connection made to it with serve, on a real
// socket on 127.0.0.1, after reading the request's head and body. It
// returns the URL to POST to.
func rawReceiver(t *testing.T, scheme string, serve func(c net.Conn)) *url.URL {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				if scheme == "http" {
					req, err := http.ReadRequest(bufio.NewReader(c))
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
				}
				serve(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return &url.URL{Scheme: scheme, Host: ln.Addr().String(), Path: "/hook"}
}

// countingConn counts the bytes the client reads from the receiver.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingClient is the deliverer's client with timeout and
// hostileHeaderMax whose connections count what they read.
func countingClient(t *testing.T, timeout time.Duration) (*http.Client, *atomic.Int64) {
	t.Helper()
	c := NewClient(ClientConfig{Timeout: timeout, MaxConns: 4, MaxHeaderBytes: hostileHeaderMax})
	tr := c.Transport.(*http.Transport)
	dial := tr.DialContext
	read := new(atomic.Int64)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: conn, n: read}, nil
	}
	return c, read
}

// writeUntilClosed writes chunk to c until the peer goes away or limit
// bytes are written.
func writeUntilClosed(c net.Conn, chunk []byte, limit int) {
	for sent := 0; sent < limit; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// trickle writes one byte every 50 ms until the peer goes away.
func trickle(c net.Conn) {
	for {
		if _, err := c.Write([]byte("x")); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond) // the receiver's pace, not a wait for a condition
	}
}

// TestHostileReceivers checks that an attempt to a receiver that
// misbehaves ends within the delivery timeout, reads at most the bounds
// (response headers, kept snippet and drained body), and fails with the
// class that says what happened.
func TestHostileReceivers(t *testing.T) {
	t.Parallel()
	padding := []byte("X-Pad: " + strings.Repeat("a", 1000) + "\r\n")
	tests := []struct {
		name   string
		url    func(t *testing.T) *url.URL
		class  string
		status int   // 0: no answer
		read   int64 // most bytes the client may read (0: no bound checked)
		retry  bool  // the answer asks for a delay (Retry-After)
		// timeout replaces hostileTimeout where the receiver fails fast
		// but the exchange takes time of its own (a TLS handshake under
		// the race detector).
		timeout time.Duration
		// early: the exchange must end long before its timeout.
		early bool
	}{
		{
			// The finding: 9.5 MB of headers, under net/http's default
			// bound of 10 MiB, were a success costing 8 MB per attempt.
			name: "megabytes of headers",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
					writeUntilClosed(c, padding, 4<<20)
					_, _ = io.WriteString(c, "Content-Length: 0\r\n\r\n")
				})
			},
			class: attempt.ClassHeadersTooLarge,
			read:  hostileHeaderMax + 4<<10, // + one read buffer
		},
		{
			name: "headers trickled forever",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Slow: ")
					trickle(c)
				})
			},
			class: attempt.ClassTimeout,
		},
		{
			name: "never answers",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
			},
			class: attempt.ClassTimeout,
		},
		{
			name: "a 500 whose body trickles forever",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) {
					_, _ = io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000000\r\n\r\n")
					trickle(c)
				})
			},
			class:  attempt.ClassStatus,
			status: 500,
		},
		{
			name: "a 200 whose body trickles forever",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) {
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
					trickle(c)
				})
			},
			status:  200, // the status acknowledges; the body is read for ackedBodyWait only
			timeout: 20 * time.Second,
			early:   true,
		},
		{
			name: "an endless body at full speed",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) {
					_, _ = io.WriteString(c, "HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n")
					chunk := fmt.Appendf(nil, "%x\r\n%s\r\n", 32<<10, strings.Repeat("b", 32<<10))
					writeUntilClosed(c, chunk, 1<<30)
				})
			},
			class:  attempt.ClassStatus,
			status: 500,
			read:   attempt.MaxResponse + drainLimit + 48<<10, // + a chunk's framing and a read buffer
		},
		{
			name: "resets the connection",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) { _ = c.(*net.TCPConn).SetLinger(0) })
			},
			class: attempt.ClassReset,
		},
		{
			name: "closes without answering",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(net.Conn) {})
			},
			class: attempt.ClassReset,
		},
		{
			name: "refuses the connection",
			url: func(t *testing.T) *url.URL {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				ln.Close() // nothing listens on the port any more
				return &url.URL{Scheme: "http", Host: ln.Addr().String(), Path: "/"}
			},
			class: attempt.ClassRefused,
		},
		{
			name: "never starts the TLS handshake",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "https", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
			},
			class: attempt.ClassTimeout,
		},
		{
			name: "a certificate nobody signed",
			url: func(t *testing.T) *url.URL {
				srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors are the point
				srv.StartTLS()
				t.Cleanup(srv.Close)
				u, err := url.Parse(srv.URL)
				if err != nil {
					t.Fatal(err)
				}
				return u
			},
			class:   attempt.ClassTLS,
			timeout: 10 * time.Second,
		},
		{
			name: "429 with a Retry-After of three years",
			url: func(t *testing.T) *url.URL {
				return rawReceiver(t, "http", func(c net.Conn) {
					_, _ = io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 99999999\r\nContent-Length: 0\r\n\r\n")
				})
			},
			class:  attempt.ClassStatus,
			status: 429,
			retry:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			timeout := cmp.Or(tt.timeout, hostileTimeout)
			client, read := countingClient(t, timeout)
			u := tt.url(t)
			start := time.Now()
			out := exchange(t.Context(), client, u, http.Header{"Content-Type": {"application/json"}}, []byte(`{}`))
			took := time.Since(start)
			if out.class != tt.class || out.status != tt.status {
				t.Errorf("class %q, status %d (%s); want %q, %d", out.class, out.status, out.errText, tt.class, tt.status)
			}
			if (out.retryIn > 0) != tt.retry {
				t.Errorf("Retry-After delay %s, want one: %v", out.retryIn, tt.retry)
			}
			if took > timeout+hostileSlack {
				t.Errorf("the attempt took %s, want it ended within the timeout (%s)", took, timeout)
			}
			if tt.early && took > timeout/4 {
				t.Errorf("the attempt took %s, want it ended soon after the status (not at the %s timeout)", took, timeout)
			}
			if tt.read > 0 && read.Load() > tt.read {
				t.Errorf("read %d bytes from the receiver, want at most %d", read.Load(), tt.read)
			}
			if tt.class != "" && attempt.Describe(tt.class, tt.status) == "" {
				t.Errorf("class %s has no description", tt.class)
			}
		})
	}
}
