package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/stream"
)

const (
	// natsRetry is how often start-up tries the NATS servers again while
	// none can be reached, and the most often a failure to reach them is
	// logged (also while reconnecting later).
	natsRetry = time.Second
	// natsTimeout bounds one attempt: the TCP connect, then the server's
	// greeting (INFO).
	natsTimeout = 2 * time.Second
)

// connectNATS starts the embedded nats-server (NATS_URL unset) or connects
// to the servers of NATS_URL, waiting for them until ctx ends.
func connectNATS(ctx context.Context, cfg Config, log *slog.Logger) (*nats.Conn, *stream.Embedded, error) {
	if cfg.NatsURL == "" {
		return startEmbedded(cfg, log)
	}
	nc, err := dialNATS(ctx, cfg.NatsURL, log)
	return nc, nil, err
}

func startEmbedded(cfg Config, log *slog.Logger) (*nats.Conn, *stream.Embedded, error) {
	emb, err := stream.StartEmbedded(stream.EmbeddedConfig{
		StoreDir: cfg.EmbeddedStoreDir(), Listen: cfg.NatsListen, LockDir: cfg.DataDir, Sync: cfg.NatsSync,
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, nil, fmt.Errorf("NATS_LISTEN %s: address in use: another process listens there; stop it or set NATS_LISTEN to a free host:port (%w)", cfg.NatsListen, err)
	}
	if err != nil {
		return nil, nil, err
	}
	nc, err := emb.Connect("webhookd")
	if err != nil {
		emb.Shutdown()
		return nil, nil, err
	}
	fsync := emb.Sync()
	log.Info("embedded nats-server started", "store_dir", cfg.EmbeddedStoreDir(), "listen", cfg.NatsListen,
		"sync_always", fsync.Always, "sync_interval", fsync.Interval.String())
	return nc, emb, nil
}

// dialNATS connects to one of the servers in urls, trying them all again
// every natsRetry until one answers or ctx ends (then it returns ctx's
// error). Each failed round is logged with what is wrong, in words a
// person can act on (see natsProblem). Once connected, nats.go reconnects
// for ever on its own, and what stops it is logged the same way, at most
// once per natsRetry.
func dialNATS(ctx context.Context, urls string, log *slog.Logger) (*nats.Conn, error) {
	dialer := &recordingDialer{Dialer: net.Dialer{Timeout: natsTimeout}}
	report := &connReport{log: log, servers: redactURLs(urls), every: natsRetry}
	opts := []nats.Option{
		nats.Name("blue-webhooks"),
		nats.Timeout(natsTimeout),
		nats.SetCustomDialer(dialer),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DrainTimeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { report.failed(err, dialer.last()) }),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected") }),
	}
	for {
		nc, err := nats.Connect(urls, opts...)
		if err == nil {
			report.connected()
			return nc, nil
		}
		report.failed(err, dialer.last())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(natsRetry):
		}
	}
}

// recordingDialer keeps the error of the last TCP connect: nats.Connect
// reports a refused connection only as nats.ErrNoServers.
type recordingDialer struct {
	net.Dialer
	mu  sync.Mutex
	err error
}

func (d *recordingDialer) Dial(network, address string) (net.Conn, error) {
	conn, err := d.Dialer.Dial(network, address)
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	return conn, err
}

func (d *recordingDialer) last() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// connReport logs failures to reach NATS: one line per failure, but not
// more often than every (unless the problem changed), so a server down
// for an hour does not flood the log, and the reason keeps being said.
type connReport struct {
	log     *slog.Logger
	servers string // NATS_URL, credentials redacted
	every   time.Duration

	mu       sync.Mutex
	failures int // since the last line
	lastKind string
	lastAt   time.Time
}

func (r *connReport) failed(err, dialErr error) {
	p := natsProblem(err, dialErr)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	now := time.Now()
	if p.kind == r.lastKind && now.Sub(r.lastAt) < r.every {
		return
	}
	r.log.Error("cannot reach NATS, retrying", "problem", p.kind, "hint", p.hint, "servers", r.servers,
		"attempts", r.failures, "retry_every", natsRetry.String(), "err", p.err.Error())
	r.failures, r.lastKind, r.lastAt = 0, p.kind, now
}

func (r *connReport) connected() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastKind != "" {
		r.log.Info("nats connected", "servers", r.servers)
	}
	r.failures, r.lastKind = 0, ""
}
