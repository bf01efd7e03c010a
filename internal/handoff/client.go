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

// pendingOffer is one offer message's jobs not settled yet: one job, or
// the jobs of a batch, by their index in it.
type pendingOffer struct {
	msgs    []*nats.Msg // the jobs' own messages, to store if refused
	settles []func(error)
	open    int // jobs not settled
	heard   time.Time
}

// settleJob settles job i unless it was; it reports whether it did. The
// caller holds c.mu.
func (o *pendingOffer) settleJob(i int) (func(error), bool) {
	f := o.settles[i]
	if f == nil {
		return nil, false
	}
	o.settles[i] = nil
	o.open--
	return f, true
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
	return c.TakeBatch([]dispatch.Offer{{Msg: msg, Settle: settle}}) == 1
}

// TakeBatch offers the jobs of one event to the deliverers, in messages
// of at most maxBatchJobs jobs and the server's payload limit, each to one
// deliverer; see dispatch.BatchHandoff. It returns how many of them, from
// the first, it sent: the dispatcher stores the others itself.
func (c *Client) TakeBatch(offers []dispatch.Offer) int {
	sent := 0
	for sent < len(offers) {
		n := c.chunk(offers[sent:])
		if !c.send(offers[sent : sent+n]) {
			break
		}
		sent += n
	}
	return sent
}

// chunk is how many of offers, from the first, go in one message.
func (c *Client) chunk(offers []dispatch.Offer) int {
	limit := int(c.nc.MaxPayload()) / 2 // room for the header and headroom
	n, size := 0, 0
	for n < len(offers) && n < maxBatchJobs {
		size += encodedSize(offers[n].Msg)
		if n > 0 && size > limit {
			break
		}
		n++
	}
	return n
}

// send publishes one offer message with offers' jobs: a single offer for
// one job, a batch for more.
func (c *Client) send(offers []dispatch.Offer) bool {
	if c.nc.Status() != nats.CONNECTED {
		return false
	}
	id := strconv.FormatUint(c.seq.Add(1), 36)
	o := &pendingOffer{msgs: make([]*nats.Msg, len(offers)), settles: make([]func(error), len(offers)), open: len(offers), heard: time.Now()}
	for i, of := range offers {
		o.msgs[i], o.settles[i] = of.Msg, of.Settle
	}
	var m *nats.Msg
	if len(offers) == 1 {
		m = offer(offers[0].Msg, c.prefix+id)
	} else {
		m = &nats.Msg{Subject: BatchSubject, Reply: c.prefix + id, Data: EncodeBatch(nil, o.msgs)}
	}
	c.mu.Lock()
	c.pending[id] = o
	c.mu.Unlock()
	if err := c.nc.PublishMsg(m); err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return false
	}
	return true
}

func (c *Client) onAnswer(m *nats.Msg) {
	id := strings.TrimPrefix(m.Subject, c.prefix)
	status := m.Header.Get(HeaderStatus)
	if m.Header.Get("Status") == "503" { // no responders: no deliverer listens
		status = Refused
	}
	c.mu.Lock()
	o := c.pending[id]
	if o == nil {
		c.mu.Unlock()
		return // settled already (expired)
	}
	o.heard = time.Now()
	var settle []func(error)
	var errs []error
	var refused []*nats.Msg
	switch status {
	case Done, Failed:
		failed, err := c.failures(status, m.Data, len(o.msgs))
		for i := range o.msgs {
			if f, ok := o.settleJob(i); ok {
				settle, errs = append(settle, f), append(errs, cmp.Or(err, failed[i]))
			}
		}
	case Refused:
		idx, err := parseIndices(m.Data, len(o.msgs))
		if err != nil {
			// A list that does not parse settles nothing here: the Done
			// that follows, or the silence limit, settles those jobs.
			idx = nil
		}
		for _, i := range idx {
			if f, ok := o.settleJob(i); ok {
				settle, refused = append(settle, f), append(refused, o.msgs[i])
			}
		}
	}
	if o.open == 0 {
		delete(c.pending, id)
	}
	c.mu.Unlock()
	if status == Refused {
		c.store(refused, settle)
		return
	}
	for i, f := range settle {
		f(errs[i])
	}
}

// failures is the error of each job a final answer reports failed; err,
// when set, fails them all (a single offer's Failed, or a list that does
// not parse).
func (c *Client) failures(status string, data []byte, n int) (map[int]error, error) {
	if status == Failed {
		return nil, fmt.Errorf("handoff: the deliverer could not deliver or store the job: %s", data)
	}
	reasons, err := parseFailures(data, n)
	if err != nil {
		return nil, err
	}
	failed := make(map[int]error, len(reasons))
	for i, r := range reasons {
		failed[i] = fmt.Errorf("handoff: the deliverer could not deliver or store the job: %s", r)
	}
	return failed, nil
}

// store stores jobs refused or left without a deliverer, in the background,
// and settles each with the outcome.
func (c *Client) store(msgs []*nats.Msg, settle []func(error)) {
	if len(msgs) == 0 {
		return
	}
	if c.cfg.Refused != nil {
		for range msgs {
			c.cfg.Refused()
		}
	}
	go func() {
		err := stream.Store(context.Background(), c.cfg.Publisher, msgs, c.cfg.StoreWait)
		for _, f := range settle {
			f(err)
		}
	}()
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

// expire fails the jobs of offers last heard of Silence before now or
// earlier.
func (c *Client) expire(now time.Time) {
	var silent []func(error)
	c.mu.Lock()
	for id, o := range c.pending {
		if now.Sub(o.heard) >= c.cfg.Silence {
			for i := range o.msgs {
				if f, ok := o.settleJob(i); ok {
					silent = append(silent, f)
				}
			}
			delete(c.pending, id)
		}
	}
	c.mu.Unlock()
	for _, f := range silent {
		f(ErrSilent)
	}
}
