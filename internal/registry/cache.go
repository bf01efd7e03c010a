package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/seal"
	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/webhook"
)

// FilterCompiler compiles a filter expression (a filter.Compiler's
// Compile, which caches).
type FilterCompiler func(expr string) (*filter.Program, error)

// SharedTier is the cache tier shared by all replicas (Redis). It holds the
// company's compact form; nothing in it is needed to rebuild it.
type SharedTier interface {
	Load(ctx context.Context, companyID string) ([]byte, bool, error)
	Store(ctx context.Context, companyID string, data []byte) error
}

// Entry is a webhook ready for dispatch and delivery: its record, its opened
// secrets as signers, and its compiled filter.
type Entry struct {
	*webhook.Webhook
	Filter *filter.Program // nil: no filter
	// Payload is the webhook's part of every delivery body, pre-rendered.
	Payload []byte
	// Target is URL parsed once; nil if it does not parse (each attempt
	// then fails with the parse error).
	Target *url.URL

	current     *signing.Signer // the current secret only
	all         *signing.Signer // every secret still in its overlap
	overlapTill time.Time
}

// Signer returns the signer for a delivery at now: during a rotation's
// overlap it signs with every secret still valid when the entry was made
// (webhook.Webhook.SigningSecrets), after it with the current one.
func (e *Entry) Signer(now time.Time) *signing.Signer {
	if now.Before(e.overlapTill) {
		return e.all
	}
	return e.current
}

// Company is the resolved set of one company's webhooks.
type Company struct {
	builtAt uint64 // registry revision the set reflects at least
	Hooks   []*Entry
	byID    map[string]*Entry
}

// Webhook returns one entry by id, or nil.
func (c *Company) Webhook(id string) *Entry { return c.byID[id] }

// CacheConfig configures a Cache.
type CacheConfig struct {
	Box    *seal.Box
	Shared SharedTier // may be nil (embedded, no Redis)
	// CompileFilter compiles filter expressions; nil means filters never
	// match (a webhook with a filter then receives nothing).
	CompileFilter FilterCompiler
	// SyncTimeout bounds how long Sync waits for the watch to catch up
	// (0: 2s).
	SyncTimeout time.Duration
	Logger      *slog.Logger
}

// Cache resolves a company's webhooks through an in-process tier, the shared
// tier, then KV. Entries are validated, not expired: a KV watch (keys only)
// tracks each company's latest revision, and an entry built at an older
// revision is refilled. Sync gives read-your-writes across processes.
type Cache struct {
	kv  jetstream.KeyValue
	cfg CacheConfig
	log *slog.Logger

	mu        sync.Mutex
	companies map[string]*Company
	lastRev   map[string]uint64 // company -> latest revision seen by the watch
	applied   uint64            // highest revision the watch applied
	advanced  chan struct{}     // closed and replaced when applied grows
	ready     chan struct{}     // closed when the initial keys are loaded

	syncReq chan chan error
	filling map[string]*fill // single flight per company
}

// fill is one company refill in progress; callers that need no newer state
// wait for it instead of starting their own.
type fill struct {
	target uint64
	done   chan struct{}
	comp   *Company
	err    error
}

// NewCache returns a Cache; call Run to start its watch.
func NewCache(kv jetstream.KeyValue, cfg CacheConfig) *Cache {
	if cfg.SyncTimeout == 0 {
		cfg.SyncTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Cache{
		kv:        kv,
		cfg:       cfg,
		log:       cfg.Logger,
		companies: make(map[string]*Company),
		lastRev:   make(map[string]uint64),
		advanced:  make(chan struct{}),
		ready:     make(chan struct{}),
		syncReq:   make(chan chan error, 64),
		filling:   make(map[string]*fill),
	}
}

// Run watches the registry until ctx ends. It restarts the watch if the
// connection drops.
func (c *Cache) Run(ctx context.Context) error {
	go c.syncLoop(ctx)
	for ctx.Err() == nil {
		if err := c.watch(ctx); err != nil && ctx.Err() == nil {
			c.log.WarnContext(ctx, "registry watch failed; restarting", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
	return nil
}

// Ready is closed once the initial state of the registry is known.
func (c *Cache) Ready() <-chan struct{} { return c.ready }

func (c *Cache) watch(ctx context.Context) error {
	w, err := c.kv.WatchAll(ctx, jetstream.MetaOnly())
	if err != nil {
		return err
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch closed")
			}
			if e == nil {
				c.mu.Lock()
				select {
				case <-c.ready:
				default:
					close(c.ready)
				}
				c.mu.Unlock()
				continue
			}
			company, _, _ := strings.Cut(e.Key(), ".")
			c.mu.Lock()
			if e.Revision() > c.lastRev[company] {
				c.lastRev[company] = e.Revision()
			}
			if e.Revision() > c.applied {
				c.applied = e.Revision()
				close(c.advanced)
				c.advanced = make(chan struct{})
			}
			c.mu.Unlock()
		}
	}
}

// Sync returns once the watch has applied every registry write that was
// acknowledged before Sync was called. Concurrent calls share one round trip.
func (c *Cache) Sync(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case c.syncReq <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Cache) syncLoop(ctx context.Context) {
	for {
		var batch []chan error
		select {
		case <-ctx.Done():
			return
		case r := <-c.syncReq:
			batch = append(batch, r)
		}
	drain:
		for {
			select {
			case r := <-c.syncReq:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := c.syncOnce(ctx)
		for _, r := range batch {
			r <- err
		}
	}
}

// statusAttempt bounds one request for the bucket's state. A request that
// reached a server as it handed the bucket's leadership over gets no
// answer; asking again finds the new leader.
const statusAttempt = time.Second

func (c *Cache) syncOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SyncTimeout)
	defer cancel()
	var status jetstream.KeyValueStatus
	var err error
	for {
		actx, cancelAttempt := context.WithTimeout(ctx, statusAttempt)
		status, err = c.kv.Status(actx)
		cancelAttempt()
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("registry: sync: %w", err)
	}
	st, ok := status.(*jetstream.KeyValueBucketStatus)
	if !ok {
		return errors.New("registry: sync: unexpected bucket status type")
	}
	target := st.StreamInfo().State.LastSeq
	for {
		c.mu.Lock()
		applied, advanced := c.applied, c.advanced
		c.mu.Unlock()
		if applied >= target {
			return nil
		}
		select {
		case <-advanced:
		case <-ctx.Done():
			return fmt.Errorf("registry: sync: watch at %d, registry at %d: %w", applied, target, ctx.Err())
		}
	}
}

// Company returns the resolved webhooks of a company, filling the tiers on a
// miss. The result is shared and must not be modified.
func (c *Cache) Company(ctx context.Context, companyID string) (*Company, error) {
	c.mu.Lock()
	need := c.lastRev[companyID]
	target := c.applied
	cached := c.companies[companyID]
	if cached != nil && cached.builtAt >= need {
		c.mu.Unlock()
		return cached, nil
	}
	if f := c.filling[companyID]; f != nil && f.target >= need {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.comp, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &fill{target: target, done: make(chan struct{})}
	c.filling[companyID] = f
	c.mu.Unlock()

	// The fill outlives a caller that gives up (others may wait on it), but
	// not a registry that does not answer.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	f.comp, f.err = c.fill(fctx, companyID, need, target)
	cancel()
	c.mu.Lock()
	if f.err == nil {
		if cur := c.companies[companyID]; cur == nil || cur.builtAt < f.comp.builtAt {
			c.companies[companyID] = f.comp
		}
	}
	if c.filling[companyID] == f {
		delete(c.filling, companyID)
	}
	c.mu.Unlock()
	close(f.done)
	return f.comp, f.err
}

// Webhook returns one webhook's entry, or webhook.ErrNotFound.
func (c *Cache) Webhook(ctx context.Context, companyID, id string) (*Entry, error) {
	comp, err := c.Company(ctx, companyID)
	if err != nil {
		return nil, err
	}
	if e := comp.Webhook(id); e != nil {
		return e, nil
	}
	return nil, webhook.ErrNotFound
}

// compact is the shared tier's form of a company.
type compact struct {
	BuiltAt uint64             `json:"builtAt"`
	Hooks   []*webhook.Webhook `json:"hooks"`
}

func (c *Cache) fill(ctx context.Context, companyID string, need, target uint64) (*Company, error) {
	if c.cfg.Shared != nil {
		data, ok, err := c.cfg.Shared.Load(ctx, companyID)
		if err != nil {
			c.log.WarnContext(ctx, "registry shared tier load failed; reading KV", "company", companyID, "err", err)
		}
		if ok {
			var cp compact
			if err := json.Unmarshal(data, &cp); err == nil && cp.BuiltAt >= need {
				return c.build(ctx, cp)
			}
		}
	}
	hooks, err := loadCompany(ctx, c.kv, companyID)
	if err != nil {
		return nil, err
	}
	cp := compact{BuiltAt: target, Hooks: hooks}
	if c.cfg.Shared != nil {
		if data, err := json.Marshal(cp); err == nil {
			if err := c.cfg.Shared.Store(ctx, companyID, data); err != nil {
				c.log.WarnContext(ctx, "registry shared tier store failed", "company", companyID, "err", err)
			}
		}
	}
	return c.build(ctx, cp)
}

// build resolves the webhooks of cp, logging with ctx those it skips.
func (c *Cache) build(ctx context.Context, cp compact) (*Company, error) {
	now := time.Now()
	comp := &Company{builtAt: cp.BuiltAt, Hooks: make([]*Entry, 0, len(cp.Hooks)), byID: make(map[string]*Entry, len(cp.Hooks))}
	for _, w := range cp.Hooks {
		e, err := c.entry(w, now)
		if err != nil {
			// One broken record must not stop a company's other webhooks.
			c.log.ErrorContext(ctx, "registry: skipping webhook", "company", w.CompanyID, "webhook", w.ID, "err", err)
			continue
		}
		comp.Hooks = append(comp.Hooks, e)
		comp.byID[w.ID] = e
	}
	return comp, nil
}

func (c *Cache) entry(w *webhook.Webhook, now time.Time) (*Entry, error) {
	return newEntry(c.cfg.Box, c.cfg.CompileFilter, w, now)
}

// Entry resolves one stored webhook (secrets opened, filter compiled), as
// the cache would.
func (s *Store) Entry(w *webhook.Webhook, compile FilterCompiler) (*Entry, error) {
	return newEntry(s.box, compile, w, time.Now())
}

func newEntry(box *seal.Box, compile FilterCompiler, w *webhook.Webhook, now time.Time) (*Entry, error) {
	secrets, err := openSecrets(box, w, now)
	if err != nil {
		return nil, err
	}
	if len(secrets) == 0 {
		return nil, errors.New("no active secret")
	}
	payload, err := w.PayloadJSON()
	if err != nil {
		return nil, err
	}
	e := &Entry{Webhook: w, Payload: payload, current: signing.NewSigner(secrets[:1]), all: signing.NewSigner(secrets)}
	if u, err := url.Parse(w.URL); err == nil {
		e.Target = u
	}
	e.overlapTill = w.OverlapEnds()
	if w.Filter != "" {
		if compile == nil {
			return nil, errors.New("filter set but no filter compiler")
		}
		f, err := compile(w.Filter)
		if err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		e.Filter = f
	}
	return e, nil
}
