package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The hostile behaviours: receivers that answer on a raw socket of their
// own (a host of its own to the deliverer) in ways that cost the deliverer
// if it does not bound what it reads and how long it waits.
const (
	hugeHeaders behaviour = iota + fail + 1 // 200 with hugeHeaderBytes of headers
	silent                                  // reads the request, never answers
	trickle                                 // 200, then the body at one byte a second
	reset                                   // reads the request, resets the connection
	tooMany                                 // 429 with Retry-After: 99999999
)

var hostileKinds = []behaviour{hugeHeaders, silent, trickle, reset, tooMany}

// hugeHeaderBytes is what a hugeHeaders receiver sends as headers: what a
// receiver sent in the review that found net/http's 10 MiB default bound.
const hugeHeaderBytes = 9_500_000

func (b behaviour) hostile() bool { return b >= hugeHeaders }

// hostileServer is one hostile endpoint: its listener and its connections.
type hostileServer struct {
	kind     behaviour
	ln       net.Listener
	attempts *atomic.Int64 // requests read
	faulty   *atomic.Int64 // the tracker's count of attempts at faulty endpoints

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
	wg    sync.WaitGroup
}

// padding is one write's worth of header lines of a hugeHeaders answer.
var padding = func() []byte {
	line := "X-Padding: " + strings.Repeat("p", 1000) + "\r\n"
	return []byte(strings.Repeat(line, 64))
}()

func startHostile(kind behaviour, attempts, faulty *atomic.Int64) (*hostileServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("hostile receiver: %w", err)
	}
	s := &hostileServer{kind: kind, ln: ln, attempts: attempts, faulty: faulty, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *hostileServer) url() string { return "http://" + s.ln.Addr().String() + "/h" }

func (s *hostileServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.serve(c)
		})
		s.mu.Unlock()
	}
}

// serve answers the requests of one connection as s.kind does.
func (s *hostileServer) serve(c net.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		s.attempts.Add(1)
		s.faulty.Add(1)
		switch s.kind {
		case hugeHeaders:
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\n"); err != nil {
				return
			}
			for sent := 0; sent < hugeHeaderBytes; sent += len(padding) {
				if _, err := c.Write(padding); err != nil {
					return
				}
			}
			if _, err := io.WriteString(c, "Content-Length: 0\r\n\r\n"); err != nil {
				return
			}
		case silent:
			_, _ = io.Copy(io.Discard, br) // until the deliverer gives up
			return
		case trickle:
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n"); err != nil {
				return
			}
			for {
				if _, err := c.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(time.Second) // the receiver's pace
			}
		case reset:
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // Close sends RST
			}
			return
		case tooMany:
			if _, err := io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 99999999\r\nContent-Length: 0\r\n\r\n"); err != nil {
				return
			}
		}
	}
}

func (s *hostileServer) close() {
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.wg.Wait()
}

// resources samples this process's memory (VmRSS) and goroutines, the
// stack's included when it runs here, until stop is called.
type resources struct {
	maxRSS, lastRSS   float64 // MiB
	maxGor, lastGor   int
	stopped, finished chan struct{}
}

func sampleResources(every time.Duration) *resources {
	r := &resources{stopped: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(r.finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			r.sample()
			select {
			case <-r.stopped:
				r.sample()
				return
			case <-t.C:
			}
		}
	}()
	return r
}

func (r *resources) sample() {
	r.lastRSS, r.lastGor = procStatusMB("VmRSS:"), runtime.NumGoroutine()
	r.maxRSS, r.maxGor = max(r.maxRSS, r.lastRSS), max(r.maxGor, r.lastGor)
}

// stop ends the sampling; the fields may be read after it.
func (r *resources) stop() {
	close(r.stopped)
	<-r.finished
}

// procStatusMB reads one kB line of /proc/self/status (VmRSS:, VmHWM:) in
// MiB; 0 where /proc is not available.
func procStatusMB(key string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.Lines(data) {
		if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
			if f := strings.Fields(string(rest)); len(f) >= 1 {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return round(kb/1024, 1)
				}
			}
		}
	}
	return 0
}
