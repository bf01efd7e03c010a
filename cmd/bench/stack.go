package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/bluehq/webhooks/internal/app"
	"github.com/bluehq/webhooks/internal/stream"
	"github.com/bluehq/webhooks/pkg/publish"
)

// stack is the pipeline under test: run in this process (mode "embedded"
// or "nats") or elsewhere ("external").
type stack struct {
	mode        string
	apiURL      string
	ingestURL   string // publish over HTTP when set
	apiToken    string
	ingestToken string
	company     string

	httpc *http.Client
	nc    *nats.Conn
	pub   *publish.Client

	stop       context.CancelFunc // ends app.Run
	done       chan error         // app.Run's result
	dataDir    string
	natsListen string // the embedded server's client URL

	mu      sync.Mutex
	created []string // webhook ids, deleted at the end unless the stack is thrown away
}

// startStack starts (or, with -external, reaches) the pipeline.
func startStack(ctx context.Context, o options, runID string, stderr io.Writer) (*stack, error) {
	s := &stack{
		httpc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: max(64, o.publishers)}},
	}
	natsURL := os.Getenv("NATS_URL")
	if o.external {
		s.mode = "external"
		s.apiURL = strings.TrimRight(o.apiURL, "/")
		s.ingestURL = strings.TrimRight(o.ingestURL, "/")
		s.apiToken, s.ingestToken, s.company = o.token, o.ingestToken, o.company
	} else {
		if err := s.startInProcess(ctx, o, runID, stderr); err != nil {
			s.close()
			return nil, err
		}
		if natsURL == "" {
			natsURL = s.natsListen
		}
	}
	if err := s.waitReady(ctx); err != nil {
		s.close()
		return nil, err
	}
	if natsURL != "" {
		// Also what the stall report reads the queues with.
		nc, err := nats.Connect(natsURL, nats.Name("bench"), nats.MaxReconnects(-1))
		if err != nil {
			s.close()
			return nil, fmt.Errorf("connect %s: %w", natsURL, err)
		}
		s.nc = nc
	}
	if o.via == "nats" {
		if s.nc == nil {
			s.close()
			return nil, errors.New("-via nats needs NATS_URL")
		}
		var err error
		if s.pub, err = publish.New(s.nc); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *stack) startInProcess(ctx context.Context, o options, runID string, stderr io.Writer) error {
	s.mode = "embedded"
	if os.Getenv("NATS_URL") != "" {
		s.mode = "nats"
		if os.Getenv("REDIS_URL") != "" {
			s.mode = "nats+redis"
		}
	}
	dir, err := os.MkdirTemp("", "webhooks-bench-")
	if err != nil {
		return err
	}
	s.dataDir = dir
	apiAddr, err := freeAddr()
	if err != nil {
		return err
	}
	pubAddr, err := freeAddr()
	if err != nil {
		return err
	}
	s.company = "bench-" + runID
	s.apiToken = "bench-" + randomHex(16)
	s.ingestToken = "bench-ingest-" + randomHex(16)
	s.apiURL = "http://" + apiAddr
	if o.via == "http" {
		s.ingestURL = "http://" + pubAddr
	}
	env := map[string]string{
		"DATA_DIR":                   dir,
		"API_ADDR":                   apiAddr,
		"PUBLISHER_ADDR":             pubAddr,
		"DELIVERY_ALLOWED_CIDRS":     "127.0.0.0/8",
		"WEBHOOKS_API_TOKENS":        s.apiToken + "=" + s.company,
		"WEBHOOKS_INGEST_TOKENS":     s.ingestToken,
		"LOG_LEVEL":                  o.logLevel,
		"DELIVERY_TIMEOUT":           o.timeout.String(),
		"WEBHOOKS_PER_COMPANY_LIMIT": strconv.Itoa(max(100, o.webhooks+10)),
	}
	if os.Getenv("NATS_URL") == "" {
		if env["NATS_LISTEN"], err = freeAddr(); err != nil {
			return err
		}
		s.natsListen = "nats://" + env["NATS_LISTEN"]
	}
	// What the bench does not set comes from the environment: NATS_URL,
	// REDIS_URL and tuning such as DELIVERY_MAX_IN_FLIGHT, DISPATCH_WORKERS,
	// DELIVERY_SHARDS or DELIVERY_ENDPOINT_CONCURRENCY.
	cfg, err := app.LoadConfig(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return fmt.Errorf("stack configuration: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		level = slog.LevelWarn
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("in", "stack")

	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan error, 1)
	go func() { s.done <- app.Run(runCtx, cfg, app.All) }()
	return nil
}

// waitReady polls the API's /readyz.
func (s *stack) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if s.done != nil {
			select {
			case err := <-s.done:
				s.done <- err // close() reads it again
				return fmt.Errorf("stack stopped while starting: %v", err)
			default:
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.apiURL+"/readyz", nil)
		resp, err := s.httpc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("the API at %s is not ready after 60s: %v", s.apiURL, last)
}

// createWebhook registers a webhook through the management API and returns
// its id and secret.
func (s *stack) createWebhook(ctx context.Context, name, url string, projectIDs []string) (string, string, error) {
	body, _ := json.Marshal(map[string]any{"name": name, "url": url, "projectIds": projectIDs})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.httpc.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("create webhook: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("create webhook: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var out struct {
		ID     string  `json:"id"`
		Secret *string `json:"secret"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.ID == "" || out.Secret == nil {
		return "", "", fmt.Errorf("create webhook: unexpected answer %s", data)
	}
	s.mu.Lock()
	s.created = append(s.created, out.ID)
	s.mu.Unlock()
	return out.ID, *out.Secret, nil
}

// deleteWebhooks removes what this run created (a shared NATS or an
// external stack outlives the run).
func (s *stack) deleteWebhooks(ctx context.Context) {
	s.mu.Lock()
	ids := s.created
	s.created = nil
	s.mu.Unlock()
	ch := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for id := range ch {
				req, _ := http.NewRequestWithContext(ctx, http.MethodDelete, s.apiURL+"/v1/webhooks/"+id, nil)
				req.Header.Set("Authorization", "Bearer "+s.apiToken)
				if resp, err := s.httpc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	for _, id := range ids {
		ch <- id
	}
	close(ch)
	wg.Wait()
}

// publish sends raw (a JSON array of events, or one event object)
// through pkg/publish, or POSTs it to the ingest (-via http).
func (s *stack) publish(ctx context.Context, raw []byte) error {
	if s.pub != nil {
		_, err := s.pub.PublishJSON(ctx, raw)
		return err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.ingestURL+"/v1/events", bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if s.ingestToken != "" {
		req.Header.Set("Authorization", "Bearer "+s.ingestToken)
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusAccepted {
		err := fmt.Errorf("ingest: %s: %s", resp.Status, bytes.TrimSpace(data))
		if resp.StatusCode < 500 {
			return permanent{err}
		}
		return err
	}
	return nil
}

// queueState describes where undelivered work sits in JetStream: the
// dispatcher's consumer on EVENTS and the shard consumers on DELIVERIES. It
// is printed when deliveries stall; "" when the bench has no NATS
// connection (-external with -ingest).
func (s *stack) queueState(ctx context.Context) string {
	if s.nc == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	js, err := jetstream.New(s.nc)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	if c, err := js.Consumer(ctx, stream.Events, stream.DispatchConsumer); err == nil {
		if ci, err := c.Info(ctx); err == nil {
			fmt.Fprintf(&b, "EVENTS/%s pending=%d ack_pending=%d waiting=%d redelivered=%d",
				stream.DispatchConsumer, ci.NumPending, ci.NumAckPending, ci.NumWaiting, ci.NumRedelivered)
		}
	} else {
		fmt.Fprintf(&b, "EVENTS/%s: %v", stream.DispatchConsumer, err)
	}
	st, err := js.Stream(ctx, stream.Deliveries)
	if err != nil {
		fmt.Fprintf(&b, "; DELIVERIES: %v", err)
		return b.String()
	}
	if si, err := st.Info(ctx); err == nil {
		fmt.Fprintf(&b, "; DELIVERIES msgs=%d", si.State.Msgs)
	}
	var pending, ackPending, waiting, redelivered uint64
	var stuck []string
	lister := st.ListConsumers(ctx)
	for ci := range lister.Info() {
		pending += ci.NumPending
		ackPending += uint64(ci.NumAckPending)
		waiting += uint64(ci.NumWaiting)
		redelivered += uint64(ci.NumRedelivered)
		if ci.NumPending > 0 && ci.NumWaiting == 0 {
			stuck = append(stuck, fmt.Sprintf("%s(pending=%d,ack_pending=%d)", ci.Name, ci.NumPending, ci.NumAckPending))
		}
	}
	fmt.Fprintf(&b, " shard consumers: pending=%d ack_pending=%d waiting=%d redelivered=%d", pending, ackPending, waiting, redelivered)
	if len(stuck) > 0 {
		fmt.Fprintf(&b, "; pending without a pull request: %s", strings.Join(stuck, " "))
	}
	return b.String()
}

// jobCounts reads from the API's /metrics the share of delivery jobs the
// dispatcher handed straight to its own process's deliverer instead of
// storing them in DELIVERIES (webhooks_jobs_handed_over_total over
// webhooks_jobs_created_total), and how many times a job was handed back
// because its endpoint was at its in-flight cap
// (webhooks_deliveries_total{outcome="handed_back"}); ok is false when
// they cannot be read.
func (s *stack) jobCounts(ctx context.Context) (share float64, handedBack int64, ok bool) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.apiURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, false
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, 0, false
	}
	counter := func(name, label, value string) float64 {
		f := families[name]
		if f == nil {
			return 0
		}
		for _, m := range f.GetMetric() {
			if label == "" {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	created := counter("webhooks_jobs_created_total", "", "")
	handed := counter("webhooks_jobs_handed_over_total", "", "")
	back := counter("webhooks_deliveries_total", "outcome", "handed_back")
	if created == 0 {
		return 0, 0, false
	}
	return handed / created, int64(back), true
}

// permanent marks a publish error that retrying cannot fix.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// close stops the stack (when it runs here) and removes its data.
func (s *stack) close() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.stop != nil {
		s.stop()
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			fmt.Fprintln(os.Stderr, "bench: the stack did not stop within 20s")
		}
	}
	if s.dataDir != "" {
		_ = os.RemoveAll(s.dataDir)
	}
}

// inProcess reports whether the pipeline runs in this process (peak RSS
// then includes it).
func (s *stack) inProcess() bool { return s.stop != nil }

// throwaway reports whether the registry disappears with the run.
func (s *stack) throwaway() bool { return s.mode == "embedded" }

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
