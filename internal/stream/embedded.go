package stream

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process nats-server.
type EmbeddedConfig struct {
	// StoreDir holds JetStream file storage; empty means memory only.
	StoreDir string
	// Listen is "host:port" to accept outside clients; empty means in-process
	// connections only.
	Listen string
	// LockDir, if set, is locked (LockDir) while the server runs, so that a
	// second process cannot start on the same store.
	LockDir string
	// Sync is how the server flushes JetStream writes to disk.
	Sync Sync
}

// Sync is when the embedded server fsyncs what it stored: after every write
// (Always), or every Interval (0: the server's default, 2 min). Between
// two, an ack means the write reached the OS, not the disk.
type Sync struct {
	Always   bool
	Interval time.Duration
}

// ParseSync reads "always" or a duration such as "10s" (1ms to 24h); ""
// is the server's default.
func ParseSync(s string) (Sync, error) {
	switch s {
	case "":
		return Sync{}, nil
	case "always":
		return Sync{Always: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond || d > 24*time.Hour {
		return Sync{}, fmt.Errorf("%q must be always or a duration like 10s between 1ms and 24h", s)
	}
	return Sync{Interval: d}, nil
}

// Embedded is an in-process nats-server with JetStream.
type Embedded struct {
	srv  *server.Server
	lock *DirLock
}

// StartEmbedded starts a nats-server with JetStream inside this process and
// waits until it is ready for connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	opts := &server.Options{
		ServerName: "webhookd",
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		DontListen: cfg.Listen == "",
		// The server's own limits: large enough for a delivery body.
		MaxPayload:   8 << 20,
		SyncAlways:   cfg.Sync.Always,
		SyncInterval: cfg.Sync.Interval,
	}
	if cfg.StoreDir == "" {
		opts.JetStreamMaxStore = 1 << 30
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	e := &Embedded{}
	if cfg.LockDir != "" {
		lock, err := LockDir(cfg.LockDir)
		if err != nil {
			return nil, err
		}
		e.lock = lock
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		e.release()
		return nil, fmt.Errorf("stream: embedded nats-server: %w", err)
	}
	fatal := make(chan error, 1)
	srv.SetLogger(startupLogger{fatal: fatal}, false, false)
	srv.Start()
	if err := waitReady(srv, fatal, 30*time.Second); err != nil {
		srv.Shutdown()
		e.release()
		return nil, err
	}
	e.srv = srv
	return e, nil
}

// waitReady waits until srv accepts connections, or returns at once the
// error it could not start with (a listen address in use: an error
// matching syscall.EADDRINUSE).
func waitReady(srv *server.Server, fatal <-chan error, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case err := <-fatal:
			return fmt.Errorf("stream: embedded nats-server: %w", err)
		default:
		}
		if srv.ReadyForConnections(50 * time.Millisecond) {
			return nil
		}
	}
	return fmt.Errorf("stream: embedded nats-server not ready after %s", within)
}

// startupLogger is the embedded server's logger: silent, except that it
// passes on the first fatal error (the server logs, and does not return,
// a listener it could not open).
type startupLogger struct{ fatal chan<- error }

func (l startupLogger) Fatalf(format string, v ...any) {
	err := fmt.Errorf(format, v...)
	for _, a := range v { // the cause itself, so that errors.Is sees it
		if e, ok := a.(error); ok {
			err = e
			break
		}
	}
	select {
	case l.fatal <- err:
	default:
	}
}

func (startupLogger) Noticef(string, ...any) {}
func (startupLogger) Warnf(string, ...any)   {}
func (startupLogger) Errorf(string, ...any)  {}
func (startupLogger) Debugf(string, ...any)  {}
func (startupLogger) Tracef(string, ...any)  {}

// Connect opens a client connection to the embedded server.
func (e *Embedded) Connect(name string) (*nats.Conn, error) {
	return nats.Connect("", nats.InProcessServer(e.srv), nats.Name(name), nats.MaxReconnects(-1))
}

// ClientURL is the address outside clients use, when Listen was set.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Sync is how the running server flushes JetStream writes.
func (e *Embedded) Sync() Sync {
	c := e.srv.JetStreamConfig()
	if c == nil {
		return Sync{}
	}
	return Sync{Always: c.SyncAlways, Interval: c.SyncInterval}
}

// Shutdown stops the server, waits for it, then releases the lock.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.release()
}

func (e *Embedded) release() {
	if e.lock != nil {
		_ = e.lock.Release()
	}
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("stream: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("stream: listen address %q: bad port", addr)
	}
	return host, port, nil
}
