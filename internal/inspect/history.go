package inspect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/attempt"
	"github.com/bluehq/webhooks/internal/stream"
)

// History is a read model of the attempt log for the pages that summarise
// it (the portal): per company, the attempts of the last Window folded into
// deliveries and hourly counts. Every read first brings it up to date from
// ATTEMPTS, reading only what was added since the last read, so a page
// costs what changed rather than the whole log. It is derived data: each
// process keeps its own, in memory, and rebuilds it from ATTEMPTS.
type History struct {
	js  jetstream.JetStream
	cfg HistoryConfig

	mu        sync.Mutex
	companies map[string]*companyLog
}

// HistoryConfig bounds a History. A zero field takes its default (see
// WithDefaults).
type HistoryConfig struct {
	// Window is how far back it keeps deliveries and counts
	// (DefaultWindow).
	Window time.Duration
	// MaxDeliveries bounds the deliveries kept per company (the newest);
	// older ones are read from ATTEMPTS when asked for
	// (DefaultMaxDeliveries).
	MaxDeliveries int
	// Idle drops a company not read for this long (DefaultIdle).
	Idle time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Defaults of HistoryConfig.
const (
	DefaultWindow        = 24 * time.Hour
	DefaultMaxDeliveries = 50000
	DefaultIdle          = 15 * time.Minute
)

// WithDefaults returns c with each zero field set to its default.
func (c HistoryConfig) WithDefaults() HistoryConfig {
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.MaxDeliveries = cmp.Or(c.MaxDeliveries, DefaultMaxDeliveries)
	c.Idle = cmp.Or(c.Idle, DefaultIdle)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c HistoryConfig) validate() error {
	switch {
	case c.Window < 0:
		return fmt.Errorf("inspect: HistoryConfig.Window must not be negative, got %s", c.Window)
	case c.MaxDeliveries < 0:
		return fmt.Errorf("inspect: HistoryConfig.MaxDeliveries must not be negative, got %d", c.MaxDeliveries)
	case c.Idle < 0:
		return fmt.Errorf("inspect: HistoryConfig.Idle must not be negative, got %s", c.Idle)
	}
	return nil
}

// Bounds on how much of the log one refresh or one older lookup reads.
const (
	refreshScanLimit = 100000
	olderScanLimit   = 200000
)

// NewHistory returns a History over the ATTEMPTS stream. An error names
// the HistoryConfig field that is out of range.
func NewHistory(js jetstream.JetStream, cfg HistoryConfig) (*History, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &History{js: js, cfg: cfg, companies: map[string]*companyLog{}}, nil
}

// Delivery is one delivery as its attempts so far describe it.
type Delivery struct {
	// Seq orders deliveries by their first attempt; a page of a Query
	// continues before it.
	Seq        int64
	ID         string
	WebhookID  string
	EventID    string
	EventType  string
	First      time.Time // the first attempt seen
	Last       time.Time // the latest attempt
	Attempts   int
	Outcome    string // of the latest attempt
	StatusCode int    // of the latest attempt
	ErrorClass string // of the latest attempt
	LatencyMs  float64
}

// Query selects a webhook's deliveries, newest first.
type Query struct {
	Outcome   string    // "": any
	EventType string    // "": any
	From      time.Time // first attempt at or after ("": the window)
	Until     time.Time // first attempt before ("": now)
	Before    int64     // continue before this Seq (0: from the newest)
	Limit     int       // 1 to 500 (50)
}

// Page is one page of a Query.
type Page struct {
	Deliveries []Delivery
	// Next is the Before of the next page; 0 on the last.
	Next int64
	// Partial: the log had more to read than one lookup reads; what is
	// shown may lack some deliveries.
	Partial bool
}

// Deliveries returns a page of a webhook's deliveries, newest first. What
// begins before the window (or before the oldest delivery kept) is read
// from ATTEMPTS for this query.
func (h *History) Deliveries(ctx context.Context, companyID, webhookID string, q Query) (Page, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	c, err := h.company(ctx, companyID)
	if err != nil {
		return Page{}, err
	}
	if !q.From.IsZero() && q.From.Before(c.covers) {
		c.mu.Unlock()
		return h.older(ctx, companyID, webhookID, q)
	}
	defer c.mu.Unlock()
	page := c.query(webhookID, q)
	page.Partial = c.partial
	return page, nil
}

// older answers a query reaching before what the company's log keeps, from
// a scan of the webhook's attempts over the query's span.
func (h *History) older(ctx context.Context, companyID, webhookID string, q Query) (Page, error) {
	tmp := newCompanyLog()
	until := q.Until
	if until.IsZero() {
		until = h.cfg.Now()
	}
	// A delivery's attempts span up to retrySpan after its first.
	stop := until.Add(retrySpan)
	_, more, err := stream.Scan(ctx, h.js, stream.Attempts, stream.AttemptSubject(companyID, webhookID), stream.ScanFrom{Since: q.From}, olderScanLimit, func(m jetstream.Msg) error {
		if md, err := m.Metadata(); err == nil && md.Timestamp.After(stop) {
			return errStopScan
		}
		for r := range summaries(m.Data()) {
			tmp.add(r)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return Page{}, err
	}
	page := tmp.query(webhookID, q)
	page.Partial = more && err == nil
	return page, nil
}

// Stats are a webhook's attempts over the window, by hour.
type Stats struct {
	Hours []Hour // oldest first, one per hour of the window
}

// Hour counts the attempts of one hour by outcome, with their latency.
type Hour struct {
	Start                                             time.Time
	Delivered, Retry, Dead, Parked, Deferred, Dropped int
	latency                                           latencyHistogram
}

// Attempted is how many attempts made a request.
func (h Hour) Attempted() int { return h.Delivered + h.Retry + h.Dead }

// Latency returns the q-quantile (0.5, 0.99) of the hour's attempts, in
// milliseconds, to within 10 %; ok is false when there were none.
func (h Hour) Latency(q float64) (ms float64, ok bool) { return h.latency.quantile(q) }

// Total sums the hours.
func (s Stats) Total() Hour {
	var t Hour
	for _, h := range s.Hours {
		t.Delivered += h.Delivered
		t.Retry += h.Retry
		t.Dead += h.Dead
		t.Parked += h.Parked
		t.Deferred += h.Deferred
		t.Dropped += h.Dropped
		t.latency.merge(&h.latency)
	}
	return t
}

// SuccessRate is the share of attempts that were delivered; ok is false
// when there were none.
func (s Stats) SuccessRate() (rate float64, ok bool) {
	t := s.Total()
	if t.Attempted() == 0 {
		return 0, false
	}
	return float64(t.Delivered) / float64(t.Attempted()), true
}

// Stats returns a webhook's hourly counts over the window.
func (h *History) Stats(ctx context.Context, companyID, webhookID string) (Stats, error) {
	c, err := h.company(ctx, companyID)
	if err != nil {
		return Stats{}, err
	}
	defer c.mu.Unlock()
	return c.stats(webhookID, h.cfg.Now(), h.cfg.Window), nil
}

// Summary is what a list of webhooks shows of each.
type Summary struct {
	Latest *Delivery // the delivery attempted last in the window; nil: none
	Stats  Stats
}

// Summaries returns the summary of every webhook of the company that had
// attempts in the window.
func (h *History) Summaries(ctx context.Context, companyID string) (map[string]Summary, error) {
	c, err := h.company(ctx, companyID)
	if err != nil {
		return nil, err
	}
	defer c.mu.Unlock()
	now := h.cfg.Now()
	out := make(map[string]Summary, len(c.hours))
	for id := range c.hours {
		s := Summary{Stats: c.stats(id, now, h.cfg.Window)}
		if d := c.latest[id]; d != nil {
			latest := *d
			s.Latest = &latest
		}
		out[id] = s
	}
	return out, nil
}

// company returns the company's log, brought up to date and locked; the
// caller unlocks it.
func (h *History) company(ctx context.Context, companyID string) (*companyLog, error) {
	now := h.cfg.Now()
	h.mu.Lock()
	for id, c := range h.companies {
		if c.used.Before(now.Add(-h.cfg.Idle)) && c.mu.TryLock() {
			delete(h.companies, id)
			c.mu.Unlock()
		}
	}
	c := h.companies[companyID]
	if c == nil {
		c = newCompanyLog()
		h.companies[companyID] = c
	}
	c.used = now
	h.mu.Unlock()

	c.mu.Lock()
	if err := h.refresh(ctx, c, companyID, now); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	return c, nil
}

// refresh reads what ATTEMPTS added for the company since the last read
// (the whole window the first time), then drops what left the window.
func (h *History) refresh(ctx context.Context, c *companyLog, companyID string, now time.Time) error {
	from := stream.ScanFrom{AfterSeq: c.lastSeq}
	if c.lastSeq == 0 {
		from = stream.ScanFrom{Since: now.Add(-h.cfg.Window)}
		if c.covers.IsZero() {
			c.covers = from.Since
		}
	}
	_, more, err := stream.Scan(ctx, h.js, stream.Attempts, stream.AttemptSubject(companyID, "*"), from, refreshScanLimit, func(m jetstream.Msg) error {
		if md, err := m.Metadata(); err == nil {
			c.lastSeq = md.Sequence.Stream
		}
		for r := range summaries(m.Data()) {
			c.add(r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.partial = more
	c.prune(now.Add(-h.cfg.Window), h.cfg.MaxDeliveries)
	return nil
}

// companyLog is one company's deliveries, in the order of their first
// attempt, and its attempts counted by webhook and hour.
type companyLog struct {
	mu      sync.Mutex
	used    time.Time // guarded by History.mu
	lastSeq uint64
	covers  time.Time // deliveries begun since are all kept
	partial bool

	deliveries []*Delivery // oldest first
	byID       map[string]*Delivery
	latest     map[string]*Delivery       // per webhook, by Last
	hours      map[string]map[int64]*Hour // per webhook, by hour (unix)
	types      map[string]string          // interned event types
	seq        int64
}

func newCompanyLog() *companyLog {
	return &companyLog{
		byID: map[string]*Delivery{}, latest: map[string]*Delivery{},
		hours: map[string]map[int64]*Hour{}, types: map[string]string{},
	}
}

// add folds one attempt record in.
func (c *companyLog) add(r summary) {
	d := c.byID[r.DeliveryID]
	if d == nil {
		c.seq++
		typ, ok := c.types[r.EventType]
		if !ok {
			c.types[r.EventType], typ = r.EventType, r.EventType
		}
		d = &Delivery{Seq: c.seq, ID: r.DeliveryID, WebhookID: r.WebhookID, EventID: r.EventID, EventType: typ, First: r.At}
		c.byID[r.DeliveryID] = d
		c.deliveries = append(c.deliveries, d)
	}
	d.Attempts++
	if !r.At.Before(d.Last) {
		d.Last, d.Outcome, d.StatusCode, d.ErrorClass, d.LatencyMs = r.At, r.Outcome, r.StatusCode, r.ErrorClass, r.LatencyMs
	}
	if l := c.latest[r.WebhookID]; l == nil || !d.Last.Before(l.Last) {
		c.latest[r.WebhookID] = d
	}
	byHour := c.hours[r.WebhookID]
	if byHour == nil {
		byHour = map[int64]*Hour{}
		c.hours[r.WebhookID] = byHour
	}
	start := r.At.Truncate(time.Hour)
	hr := byHour[start.Unix()]
	if hr == nil {
		hr = &Hour{Start: start}
		byHour[start.Unix()] = hr
	}
	switch r.Outcome {
	case attempt.Delivered:
		hr.Delivered++
	case attempt.Retry:
		hr.Retry++
	case attempt.Dead:
		hr.Dead++
	case attempt.Parked:
		hr.Parked++
	case attempt.Deferred:
		hr.Deferred++
	case attempt.Dropped:
		hr.Dropped++
	}
	switch r.Outcome {
	case attempt.Delivered, attempt.Retry, attempt.Dead:
		hr.latency.add(r.LatencyMs)
	}
}

// prune drops the deliveries begun before cutoff, and the oldest beyond
// maxKept, and the hours before cutoff.
func (c *companyLog) prune(cutoff time.Time, maxKept int) {
	drop := 0
	for drop < len(c.deliveries) && c.deliveries[drop].First.Before(cutoff) {
		drop++
	}
	if over := len(c.deliveries) - drop - maxKept; over > 0 {
		drop += over + maxKept/10 // in batches, not one by one
	}
	drop = min(drop, len(c.deliveries))
	if drop > 0 {
		for _, d := range c.deliveries[:drop] {
			delete(c.byID, d.ID)
			if c.latest[d.WebhookID] == d {
				delete(c.latest, d.WebhookID)
			}
		}
		c.deliveries = slices.Delete(c.deliveries, 0, drop)
		if len(c.deliveries) > 0 && c.deliveries[0].First.After(c.covers) {
			c.covers = c.deliveries[0].First
		}
	}
	if cutoff.After(c.covers) {
		c.covers = cutoff
	}
	first := cutoff.Truncate(time.Hour).Unix()
	for _, byHour := range c.hours {
		for start := range byHour {
			if start < first {
				delete(byHour, start)
			}
		}
	}
}

// query returns a page of webhookID's deliveries matching q, newest first.
func (c *companyLog) query(webhookID string, q Query) Page {
	var page Page
	for i := len(c.deliveries) - 1; i >= 0; i-- {
		d := c.deliveries[i]
		switch {
		case d.WebhookID != webhookID,
			q.Before > 0 && d.Seq >= q.Before,
			q.Outcome != "" && d.Outcome != q.Outcome,
			q.EventType != "" && d.EventType != q.EventType,
			!q.From.IsZero() && d.First.Before(q.From),
			!q.Until.IsZero() && !d.First.Before(q.Until):
			continue
		}
		if len(page.Deliveries) == q.Limit {
			page.Next = page.Deliveries[len(page.Deliveries)-1].Seq
			break
		}
		page.Deliveries = append(page.Deliveries, *d)
	}
	return page
}

// stats returns webhookID's hours of the window ending at now, zero-filled.
func (c *companyLog) stats(webhookID string, now time.Time, window time.Duration) Stats {
	byHour := c.hours[webhookID]
	last := now.Truncate(time.Hour)
	n := int(window / time.Hour)
	s := Stats{Hours: make([]Hour, 0, n)}
	for i := n - 1; i >= 0; i-- {
		start := last.Add(-time.Duration(i) * time.Hour)
		if hr := byHour[start.Unix()]; hr != nil {
			s.Hours = append(s.Hours, *hr)
		} else {
			s.Hours = append(s.Hours, Hour{Start: start})
		}
	}
	return s
}
