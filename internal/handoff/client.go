package handoff

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/stream"
)

// Config configures a Client. A zero field takes its default (see
// WithDefaults) but Publisher, which is required.
type Config struct {
	// Publisher stores the jobs no deliverer takes (see stream.Store).
	Publisher stream.AsyncPublisher
	// StoreWait bounds storing one of them: the dispatcher's own bound
	// (dispatch.DefaultStoreWait), since these are its jobs.
	StoreWait time.Duration
	// Silence is how long an offered job may go unheard of (no answer, no
	// Working) before it fails, its deliverer presumed dead; deliverers
	// report Working three times within it (stream.DefaultAckWait: set it
	// to the consumers' AckWait).
	Silence time.Duration
	// Refused, if set, is called for each job a deliverer refused or no
	// deliverer was there to take.
	Refused func()
}

// WithDefaults returns c with each zero field set to its default.
func (c Config) WithDefaults() Config {
	c.StoreWait = cmp.Or(c.StoreWait, dispatch.DefaultStoreWait)
	c.Silence = cmp.Or(c.Silence, stream.DefaultAckWait)
	return c
}

func (c Config) validate() error {
	switch {
	case c.Publisher == nil:
		return errors.New("handoff: Config.Publisher is required")
	case c.StoreWait < 0:
		return fmt.Errorf("handoff: Config.StoreWait must not be negative, got %s", c.StoreWait)
	case c.Silence < 0:
		return fmt.Errorf("handoff: Config.Silence must not be negative, got %s", c.Silence)
	}
	return nil
}

// ErrSilent fails a job whose deliverer stopped answering.
var ErrSilent = errors.New("handoff: the deliverer holding the job stopped answering")

// Client offers jobs to deliverers over NATS: the dispatcher's Handoff in
// a process that does not deliver.
type Client struct {
	nc     *nats.Conn
	cfg    Config
	prefix string // of the reply subjects; the offer's id follows
	sub    *nats.Subscription
	seq    atomic.Uint64

	mu      sync.Mutex
	pending map[string]*pendingOffer
}

type pendingOffer struct {
	msg    *nats.Msg // the job's own message, to store if refused
	settle func(error)
	heard  time.Time
}

// NewClient subscribes to the replies of nc's offers; Run expires the
// offers whose deliverer went silent. An error names the Config field that
// is out of range.
func NewClient(nc *nats.Conn, cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{nc: nc, cfg: cfg, prefix: nc.NewInbox() + ".", pending: make(map[string]*pendingOffer)}
	sub, err := nc.Subscribe(c.prefix+"*", c.onAnswer)
	if err != nil {
		return nil, fmt.Errorf("handoff: subscribe to answers: %w", err)
	}
	// Answers come at the rate jobs do; never drop one for a slow reader.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("handoff: %w", err)
	}
	c.sub = sub
	return c, nil
}

// Take offers j's message msg to the deliverers; see dispatch.Handoff. It
// returns false only when the offer could not be sent (no connection): the
// dispatcher then stores the job itself. A job no deliverer takes is
// stored here, and settled once it is.
func (c *Client) Take(_ *job.Job, msg *nats.Msg, settle func(error)) bool {
	if c.nc.Status() != nats.CONNECTED {
		return false
	}
	id := strconv.FormatUint(c.seq.Add(1), 36)
	c.mu.Lock()
	c.pending[id] = &pendingOffer{msg: msg, settle: settle, heard: time.Now()}
	c.mu.Unlock()
	if err := c.nc.PublishMsg(offer(msg, c.prefix+id)); err != nil {
		c.take(id)
		return false
	}
	return true
}

// take removes an offer from the pending ones; nil if it was settled.
func (c *Client) take(id string) *pendingOffer {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.pending[id]
	delete(c.pending, id)
	return o
}

func (c *Client) onAnswer(m *nats.Msg) {
	id := strings.TrimPrefix(m.Subject, c.prefix)
	status := m.Header.Get(HeaderStatus)
	if m.Header.Get("Status") == "503" { // no responders: no deliverer listens
		status = Refused
	}
	switch status {
	case Working:
		c.mu.Lock()
		if o := c.pending[id]; o != nil {
			o.heard = time.Now()
		}
		c.mu.Unlock()
	case Done:
		if o := c.take(id); o != nil {
			o.settle(nil)
		}
	case Failed:
		if o := c.take(id); o != nil {
			o.settle(fmt.Errorf("handoff: the deliverer could not deliver or store the job: %s", m.Data))
		}
	case Refused:
		if o := c.take(id); o != nil {
			if c.cfg.Refused != nil {
				c.cfg.Refused()
			}
			go func() {
				o.settle(stream.Store(context.Background(), c.cfg.Publisher, []*nats.Msg{o.msg}, c.cfg.StoreWait))
			}()
		}
	}
}

// Run fails the offers not heard of within Silence until ctx ends, then
// stops listening for answers; the offers still pending then fail.
func (c *Client) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Silence / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = c.sub.Unsubscribe()
			c.expire(time.Now().Add(c.cfg.Silence))
			return nil
		case now := <-t.C:
			c.expire(now)
		}
	}
}

// expire fails the offers last heard of Silence before now or earlier.
func (c *Client) expire(now time.Time) {
	var silent []*pendingOffer
	c.mu.Lock()
	for id, o := range c.pending {
		if now.Sub(o.heard) >= c.cfg.Silence {
			silent = append(silent, o)
			delete(c.pending, id)
		}
	}
	c.mu.Unlock()
	for _, o := range silent {
		o.settle(ErrSilent)
	}
}
