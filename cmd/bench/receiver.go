package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluehq/webhooks/pkg/verify"
)

// behaviour of one receiver endpoint.
type behaviour int

const (
	healthy behaviour = iota // 204 at once
	hang                     // hold the request until the client gives up
	fail                     // 500 at once
)

func (b behaviour) String() string {
	return [...]string{"healthy", "hang", "500", "huge-headers", "silent", "trickle", "reset", "429"}[b]
}

// endpoint is one webhook's URL on the receiver.
type endpoint struct {
	kind     behaviour
	verifier *verify.Verifier
}

// pubRec is what the receiver needs to know about a published event.
type pubRec struct {
	at     time.Time // just before the publish call
	target int       // the one endpoint that gets it; -1: every healthy one
	warm   bool      // warm-up: not counted
}

const nShards = 64

// shard is one lock's worth of the tracker's maps.
type shard struct {
	mu   sync.Mutex
	pub  map[string]pubRec   // event id -> publish record
	seen map[string]struct{} // webhook-id of every delivery answered 2xx
	lat  []time.Duration     // latencies of counted deliveries
	_    [64]byte            // keep shards on separate cache lines
}

// tracker holds what was published and what arrived. Its counters are read
// by the progress line while it runs.
type tracker struct {
	seed   maphash.Seed
	shards [nShards]shard

	published     atomic.Int64 // measured events acknowledged
	expected      atomic.Int64 // measured deliveries expected (incl. publishes in flight)
	delivered     atomic.Int64 // measured deliveries received (first time, valid)
	warmExpected  atomic.Int64
	warmDelivered atomic.Int64
	duplicates    atomic.Int64
	badSignatures atomic.Int64
	unexpected    atomic.Int64
	faulty        atomic.Int64 // attempts at faulty endpoints
	publishErrors atomic.Int64

	firstPublish atomic.Int64 // unix nanos of the first measured publish
	lastPublish  atomic.Int64 // unix nanos of the last measured publish ack
	lastReceipt  atomic.Int64 // unix nanos of the last measured delivery
}

func newTracker() *tracker {
	t := &tracker{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].pub = make(map[string]pubRec)
		t.shards[i].seen = make(map[string]struct{})
	}
	return t
}

func (t *tracker) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)%nShards]
}

// recordPublish records an event about to be published.
func (t *tracker) recordPublish(id string, rec pubRec) {
	s := t.shard(id)
	s.mu.Lock()
	s.pub[id] = rec
	s.mu.Unlock()
	if !rec.warm {
		setOnce(&t.firstPublish, rec.at.UnixNano())
	}
}

// forget removes events whose publish failed: they are not expected.
func (t *tracker) forget(ids []string) {
	for _, id := range ids {
		s := t.shard(id)
		s.mu.Lock()
		delete(s.pub, id)
		s.mu.Unlock()
	}
}

func (t *tracker) lookup(id string) (pubRec, bool) {
	s := t.shard(id)
	s.mu.Lock()
	r, ok := s.pub[id]
	s.mu.Unlock()
	return r, ok
}

// latencies returns a copy of every counted latency.
func (t *tracker) latencies() []time.Duration {
	var out []time.Duration
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		out = append(out, s.lat...)
		s.mu.Unlock()
	}
	return out
}

func setOnce(a *atomic.Int64, v int64) {
	if a.Load() == 0 {
		a.CompareAndSwap(0, v)
	}
}

func setMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// receiver is the customer's side: one HTTP server on 127.0.0.1 with one
// path per webhook (/h/<index>).
type receiver struct {
	tr      *tracker
	timeout time.Duration // how long a hanging endpoint holds at most

	mu      sync.RWMutex
	eps     []*endpoint
	hostile []*hostileServer
	// hostileAttempts counts the requests each hostile behaviour read.
	hostileAttempts map[behaviour]*atomic.Int64

	srv  *http.Server
	base string // http://127.0.0.1:port
}

func startReceiver(tr *tracker, hangMax time.Duration) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	rc := &receiver{tr: tr, timeout: hangMax, base: "http://" + ln.Addr().String(), hostileAttempts: map[behaviour]*atomic.Int64{}}
	for _, k := range hostileKinds {
		rc.hostileAttempts[k] = new(atomic.Int64)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /h/{idx}", rc.serve)
	rc.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

// add registers the next endpoint and returns its index and URL. The secret
// may be set later (it is known once the webhook is created). With ownPort
// the endpoint gets a listener of its own, so that to the deliverer it is a
// host of its own (its own connection pool) as distinct customers are. A
// hostile endpoint is always a raw socket of its own (hostile.go).
func (rc *receiver) add(kind behaviour, ownPort bool) (int, string, error) {
	if kind.hostile() {
		return rc.addHostile(kind)
	}
	base := rc.base
	if ownPort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, "", fmt.Errorf("receiver: %w", err)
		}
		go func() { _ = rc.srv.Serve(ln) }()
		base = "http://" + ln.Addr().String()
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.eps = append(rc.eps, &endpoint{kind: kind})
	i := len(rc.eps) - 1
	return i, base + "/h/" + strconv.Itoa(i), nil
}

func (rc *receiver) addHostile(kind behaviour) (int, string, error) {
	s, err := startHostile(kind, rc.hostileAttempts[kind], &rc.tr.faulty)
	if err != nil {
		return 0, "", err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hostile = append(rc.hostile, s)
	rc.eps = append(rc.eps, &endpoint{kind: kind})
	return len(rc.eps) - 1, s.url(), nil
}

// hostileCounts is the requests each hostile behaviour read, by name.
func (rc *receiver) hostileCounts() map[string]int64 {
	out := map[string]int64{}
	for k, n := range rc.hostileAttempts {
		if v := n.Load(); v > 0 {
			out[k.String()] = v
		}
	}
	return out
}

func (rc *receiver) setSecret(i int, secret string) error {
	v, err := verify.New(secret)
	if err != nil {
		return err
	}
	rc.mu.Lock()
	rc.eps[i].verifier = v
	rc.mu.Unlock()
	return nil
}

func (rc *receiver) endpoint(i int) *endpoint {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	if i < 0 || i >= len(rc.eps) {
		return nil
	}
	return rc.eps[i]
}

func (rc *receiver) close() {
	_ = rc.srv.Close()
	rc.mu.Lock()
	hostile := rc.hostile
	rc.mu.Unlock()
	for _, s := range hostile {
		s.close()
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.Atoi(r.PathValue("idx"))
	ep := rc.endpoint(idx)
	if err != nil || ep == nil {
		rc.tr.unexpected.Add(1)
		http.NotFound(w, r)
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := io.Copy(buf, io.LimitReader(r.Body, 8<<20)); err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	now := time.Now()
	body := buf.Bytes()
	if ep.verifier == nil || errors.Join(ep.verifier.Verify(r.Header, body), ep.verifier.VerifyXSignature(r.Header, body)) != nil {
		rc.tr.badSignatures.Add(1)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	switch ep.kind {
	case hang:
		rc.tr.faulty.Add(1)
		ctx, cancel := context.WithTimeout(r.Context(), rc.timeout)
		<-ctx.Done()
		cancel()
		w.WriteHeader(http.StatusGatewayTimeout)
		return
	case fail:
		rc.tr.faulty.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}

	tr := rc.tr
	id := r.Header.Get("webhook-id")
	evID := eventIDOf(body)
	rec, known := tr.lookup(evID)
	s := tr.shard(id)
	s.mu.Lock()
	_, dup := s.seen[id]
	if !dup {
		s.seen[id] = struct{}{}
	}
	counted := !dup && known && !rec.warm && (rec.target < 0 || rec.target == idx)
	if counted {
		s.lat = append(s.lat, now.Sub(rec.at))
	}
	s.mu.Unlock()
	switch {
	case dup:
		tr.duplicates.Add(1)
	case !known || (rec.target >= 0 && rec.target != idx):
		tr.unexpected.Add(1)
	case rec.warm:
		tr.warmDelivered.Add(1)
	default:
		tr.delivered.Add(1)
		setMax(&tr.lastReceipt, now.UnixNano())
	}
	w.WriteHeader(http.StatusNoContent)
}

// eventIDOf finds the eventId of a delivery body: near the start, as the
// dispatcher renders it, or anywhere by decoding.
func eventIDOf(body []byte) string {
	const key = `"eventId":"`
	head := body[:min(len(body), 512)]
	if i := bytes.Index(head, []byte(key)); i >= 0 {
		rest := body[i+len(key):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			return string(rest[:j])
		}
	}
	var b struct {
		EventID string `json:"eventId"`
	}
	_ = json.Unmarshal(body, &b)
	return b.EventID
}
