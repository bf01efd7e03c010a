package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluehq/webhooks/internal/delivery"
	"github.com/bluehq/webhooks/internal/dispatch"
	"github.com/bluehq/webhooks/internal/event"
	"github.com/bluehq/webhooks/internal/job"
	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/webhook"
	"github.com/bluehq/webhooks/pkg/publish"
)

// exampleType is the event every scenario publishes: the catalogue's
// example of it, with fresh ids.
const exampleType = "TODO_CREATED"

func exampleEvent() (publish.Event, error) {
	cat, err := event.LoadCatalogue()
	if err != nil {
		return publish.Event{}, err
	}
	for _, t := range cat.Types() {
		if t.Name == exampleType {
			var e publish.Event
			if err := json.Unmarshal(t.Example, &e); err != nil {
				return e, fmt.Errorf("catalogue example %s: %w", exampleType, err)
			}
			return e, nil
		}
	}
	return publish.Event{}, fmt.Errorf("catalogue has no %s", exampleType)
}

// plan is the shape of a pipeline scenario.
type plan struct {
	kinds    []behaviour // per endpoint
	projects []string    // per endpoint: the one project its webhook is scoped to
	healthy  int         // healthy endpoints
	// perEndpoint: each event goes to one endpoint (endpoints); otherwise
	// every event goes to every endpoint.
	perEndpoint bool
	paced       bool    // publish at eventsPerSec (rate, faulty)
	eventsPerS  float64 // paced rate
	total       int64   // events to publish when not time-bound (endpoints); 0: for -duration
}

func makePlan(o options, runID string) plan {
	p := plan{kinds: make([]behaviour, o.webhooks), projects: make([]string, o.webhooks)}
	shared := "p-" + runID
	for i := range p.projects {
		p.projects[i] = shared
	}
	switch o.scenario {
	case "endpoints":
		p.perEndpoint = true
		for i := range p.projects {
			p.projects[i] = shared + "-" + strconv.Itoa(i)
		}
		p.total = int64(o.webhooks) * int64(o.perWebhook)
	case "faulty", "hostile":
		share, kinds := o.faultyShare, []behaviour{hang, fail}
		if o.scenario == "hostile" {
			share, kinds = o.hostileShare, hostileKinds
		}
		n := 0
		if share > 0 {
			n = max(1, int(math.Round(share*float64(o.webhooks))))
		}
		n = min(n, o.webhooks-1) // at least one healthy endpoint to measure
		for i := range n {
			p.kinds[i] = kinds[i%len(kinds)]
		}
		fallthrough
	case "rate":
		p.paced = true
		p.eventsPerS = o.rate / float64(o.webhooks)
	}
	for _, k := range p.kinds {
		if k == healthy {
			p.healthy++
		}
	}
	return p
}

// expectedFor is how many counted deliveries an event to target brings.
func (p plan) expectedFor(target int) int64 {
	if target < 0 {
		return int64(p.healthy)
	}
	if p.kinds[target] == healthy {
		return 1
	}
	return 0
}

// batch is one publish call's worth of events.
type batch struct {
	events  []publish.Event
	targets []int
	warm    bool
	window  int64     // > 0: wait until at most this many deliveries are outstanding with this batch
	until   time.Time // while waiting for the window: drop the batch after this
}

// runner runs one pipeline scenario.
type runner struct {
	o      options
	p      plan
	st     *stack
	rc     *receiver
	tr     *tracker
	tmpl   publish.Event
	stderr io.Writer

	errOnce sync.Once
	seq     atomic.Int64 // events generated
}

func runScenario(ctx context.Context, o options, stderr io.Writer) (*result, error) {
	if o.scenario == "ceiling" {
		return runCeiling(ctx, o, stderr)
	}
	tmpl, err := exampleEvent()
	if err != nil {
		return nil, err
	}
	runID := randomHex(12)
	tr := newTracker()
	rc, err := startReceiver(tr, o.timeout+10*time.Second)
	if err != nil {
		return nil, err
	}
	defer rc.close()
	started := time.Now()
	st, err := startStack(ctx, o, runID, stderr)
	if err != nil {
		return nil, err
	}
	defer st.close()
	r := &runner{o: o, p: makePlan(o, runID), st: st, rc: rc, tr: tr, tmpl: tmpl, stderr: stderr}
	fmt.Fprintf(stderr, "bench: %s: stack %s ready in %s; registering %d webhooks (company %s)\n",
		o.scenario, st.mode, time.Since(started).Round(time.Millisecond), o.webhooks, st.company)

	if err := r.register(ctx); err != nil {
		return nil, err
	}
	if !st.throwaway() {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			st.deleteWebhooks(dctx)
		}()
	}
	if o.warmup {
		r.warmup(ctx)
	}

	stopProgress := r.progress()
	sampled := sampleResources(250 * time.Millisecond)
	cpuStart, allocStart := cpuTime(), heapAllocs()
	pubStart := time.Now()
	r.publishAll(ctx)
	pubEnd := time.Now()
	fmt.Fprintf(stderr, "bench: publishing done after %s: %d events; waiting up to %s for %d deliveries\n",
		pubEnd.Sub(pubStart).Round(time.Millisecond), tr.published.Load(), o.wait, tr.expected.Load())
	complete := waitFor(ctx, pubEnd.Add(o.wait), func() bool { return tr.delivered.Load() >= tr.expected.Load() })
	cpu, allocs := cpuTime()-cpuStart, heapAllocs()-allocStart
	if complete && o.linger > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(o.linger):
		}
	}
	sampled.stop()
	stopProgress()

	res := r.result()
	if st.inProcess() {
		res.PeakRSSMB = peakRSSMB()
		res.CPUPerDelivery = perDelivery(float64(cpu.Microseconds()), res.Delivered)
		res.AllocsPerDelivery = perDelivery(float64(allocs), res.Delivered)
		res.RSSMaxMB, res.RSSEndMB = sampled.maxRSS, sampled.lastRSS
		res.GoroutinesMax, res.GoroutinesEnd = sampled.maxGor, sampled.lastGor
	}
	res.HostileAttempts = rc.hostileCounts()
	if share, back, ok := st.jobCounts(ctx); ok {
		share = math.Round(share*1000) / 1000
		res.HandedOverShare, res.HandedBack = &share, &back
	}
	return res, nil
}

// register creates one webhook per endpoint through the API.
func (r *runner) register(ctx context.Context) error {
	type item struct {
		idx int
		url string
	}
	items := make([]item, len(r.p.kinds))
	for i, k := range r.p.kinds {
		idx, url, err := r.rc.add(k, r.p.perEndpoint)
		if err != nil {
			return err
		}
		items[i] = item{idx, url}
	}
	ch := make(chan item)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for it := range ch {
				_, secret, err := r.st.createWebhook(ctx, fmt.Sprintf("bench %d (%s)", it.idx, r.p.kinds[it.idx]), it.url, []string{r.p.projects[it.idx]})
				if err == nil {
					err = r.rc.setSecret(it.idx, secret)
				}
				if err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	start := time.Now()
loop:
	for _, it := range items {
		select {
		case ch <- it:
		case <-ctx.Done():
			break loop
		}
		if len(errc) > 0 {
			break
		}
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintf(r.stderr, "bench: %d webhooks registered in %s\n", len(items), time.Since(start).Round(time.Millisecond))
	return nil
}

// warmup sends one event through every webhook and waits for it: the
// registry cache, the connections and the consumers are warm when the
// measurement starts. Nothing of it is counted.
func (r *runner) warmup(ctx context.Context) {
	var targets []int
	if r.p.perEndpoint {
		for i := range r.p.kinds {
			targets = append(targets, i)
		}
	} else {
		targets = []int{-1}
	}
	for i := 0; i < len(targets); i += r.o.batch {
		ts := targets[i:min(len(targets), i+r.o.batch)]
		r.publishBatch(ctx, r.makeBatch(ts, true))
	}
	start := time.Now()
	ok := waitFor(ctx, start.Add(30*time.Second), func() bool { return r.tr.warmDelivered.Load() >= r.tr.warmExpected.Load() })
	if !ok {
		fmt.Fprintf(r.stderr, "bench: warm-up incomplete after 30s: %d of %d deliveries\n", r.tr.warmDelivered.Load(), r.tr.warmExpected.Load())
		return
	}
	fmt.Fprintf(r.stderr, "bench: warm-up: %d deliveries in %s\n", r.tr.warmDelivered.Load(), time.Since(start).Round(time.Millisecond))
}

func (r *runner) makeBatch(targets []int, warm bool) batch {
	b := batch{events: make([]publish.Event, len(targets)), targets: targets, warm: warm}
	now := time.Now().UTC()
	for i, t := range targets {
		e := r.tmpl
		e.ID = event.NewID()
		e.CompanyID = r.st.company
		e.OccurredAt = now
		if t >= 0 {
			e.ProjectID = r.p.projects[t]
		} else {
			e.ProjectID = r.p.projects[0]
		}
		b.events[i] = e
	}
	return b
}

// publishBatch publishes one batch, recording the publish time of its
// events just before the call. A failed call is retried with the same ids
// (deduplicated); if it still fails, its events are not expected.
func (r *runner) publishBatch(ctx context.Context, b batch) {
	var raw []byte
	var err error
	if len(b.events) == 1 && r.o.batch == 1 {
		raw, err = json.Marshal(b.events[0]) // one event per request, as most services send them
	} else {
		raw, err = json.Marshal(b.events)
	}
	if err != nil {
		r.fail(err)
		return
	}
	var exp int64
	for _, t := range b.targets {
		exp += r.p.expectedFor(t)
	}
	expected := &r.tr.expected
	if b.warm {
		expected = &r.tr.warmExpected
	}
	if b.window > 0 {
		// Reserve room in the window of outstanding deliveries; a batch
		// larger than the window goes alone.
		for {
			cur := expected.Load()
			if out := cur - r.tr.delivered.Load(); out <= 0 || out+exp <= b.window {
				if expected.CompareAndSwap(cur, cur+exp) {
					break
				}
				continue
			}
			if ctx.Err() != nil || (!b.until.IsZero() && !time.Now().Before(b.until)) {
				return // publishing time is over: the batch is dropped, never published
			}
			time.Sleep(time.Millisecond)
		}
	} else {
		expected.Add(exp)
	}
	now := time.Now()
	for i, e := range b.events {
		r.tr.recordPublish(e.ID, pubRec{at: now, target: b.targets[i], warm: b.warm})
	}
	for attempt := range 3 {
		if err = r.st.publish(ctx, raw); err == nil || ctx.Err() != nil || publish.IsInvalid(err) || errors.As(err, new(permanent)) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	if err != nil {
		ids := make([]string, len(b.events))
		for i, e := range b.events {
			ids[i] = e.ID
		}
		r.tr.forget(ids)
		expected.Add(-exp)
		r.tr.publishErrors.Add(int64(len(b.events)))
		if ctx.Err() == nil {
			r.fail(err)
		}
		return
	}
	if !b.warm {
		r.tr.published.Add(int64(len(b.events)))
		setMax(&r.tr.lastPublish, time.Now().UnixNano())
	}
}

func (r *runner) fail(err error) {
	r.errOnce.Do(func() { fmt.Fprintf(r.stderr, "bench: publish failed (further failures only counted): %v\n", err) })
}

// publishAll is the measured publishing phase.
func (r *runner) publishAll(ctx context.Context) {
	ch := make(chan batch, r.o.publishers)
	var wg sync.WaitGroup
	for range r.o.publishers {
		wg.Go(func() {
			for b := range ch {
				r.publishBatch(ctx, b)
			}
		})
	}
	send := func(b batch) bool {
		select {
		case ch <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	start := time.Now()
	deadline := start.Add(r.o.duration)
	next := int64(0) // events generated
	target := func(i int64) int {
		if r.p.perEndpoint {
			return int(i % int64(len(r.p.kinds)))
		}
		return -1
	}
	gen := func(n int64) batch {
		ts := make([]int, n)
		for i := range ts {
			ts[i] = target(next + int64(i))
		}
		next += n
		return r.makeBatch(ts, false)
	}

	if r.p.paced {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
	paced:
		for {
			now := time.Now()
			if !now.Before(deadline) {
				break
			}
			due := int64(now.Sub(start).Seconds()*r.p.eventsPerS) + 1 - next
			for due > 0 {
				n := min(due, int64(r.o.batch))
				if !send(gen(n)) {
					break paced
				}
				due -= n
			}
			select {
			case <-ctx.Done():
				break paced
			case <-tick.C:
			}
		}
	} else {
		for ctx.Err() == nil {
			if r.p.total > 0 {
				if next >= r.p.total {
					break
				}
			} else if !time.Now().Before(deadline) {
				break
			}
			n := int64(r.o.batch)
			if r.p.total > 0 {
				n = min(n, r.p.total-next)
			}
			b := gen(n)
			b.window = int64(r.o.maxPending)
			if r.p.total == 0 {
				b.until = deadline
			}
			if !send(b) {
				break
			}
		}
	}
	close(ch)
	wg.Wait()
}

// progress prints a line to stderr every second until the returned func is
// called.
func (r *runner) progress() func() {
	return startProgress(r.stderr, r.o.scenario, r.tr, "ev", r.st.queueState)
}

// stallAfter is how long deliveries may not advance, with some outstanding,
// before the progress line is followed by where the work sits (stall).
const stallAfter = 5

func startProgress(w io.Writer, scenario string, tr *tracker, unit string, stall func(context.Context) string) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		var lastPub, lastDel int64
		still := 0 // seconds without a delivery while some are outstanding
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				pub, del, exp := tr.published.Load(), tr.delivered.Load(), tr.expected.Load()
				line := fmt.Sprintf("bench %s %3.0fs: published %d %s (%d/s)  delivered %d/%d (%d/s)  outstanding %d",
					scenario, now.Sub(start).Seconds(), pub, unit, pub-lastPub, del, exp, del-lastDel, exp-del)
				if d := tr.duplicates.Load(); d > 0 {
					line += fmt.Sprintf("  duplicates %d", d)
				}
				if b := tr.badSignatures.Load(); b > 0 {
					line += fmt.Sprintf("  BAD SIGNATURES %d", b)
				}
				if f := tr.faulty.Load(); f > 0 {
					line += fmt.Sprintf("  faulty attempts %d", f)
				}
				if e := tr.publishErrors.Load(); e > 0 {
					line += fmt.Sprintf("  publish errors %d", e)
				}
				fmt.Fprintln(w, line)
				if del == lastDel && exp > del {
					still++
				} else {
					still = 0
				}
				if stall != nil && still > 0 && still%stallAfter == 0 {
					if q := stall(context.Background()); q != "" {
						fmt.Fprintf(w, "bench %s: no delivery for %ds; %s\n", scenario, still, q)
					}
				}
				lastPub, lastDel = pub, del
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// waitFor polls cond until it holds (true) or deadline passes (false).
func waitFor(ctx context.Context, deadline time.Time, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if ctx.Err() != nil || !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// result snapshots the tracker.
func (r *runner) result() *result {
	res := snapshot(r.o.scenario, r.tr)
	res.Webhooks = len(r.p.kinds)
	res.FaultyWebhooks = len(r.p.kinds) - r.p.healthy
	res.Mode = r.st.mode
	res.Via, res.Batch, res.Publishers = r.o.via, r.o.batch, r.o.publishers
	if r.p.paced {
		res.TargetRate = r.o.rate
	}
	return res
}

func snapshot(scenario string, tr *tracker) *result {
	res := &result{
		Scenario:       scenario,
		Events:         tr.published.Load(),
		Expected:       tr.expected.Load(),
		Delivered:      tr.delivered.Load(),
		Duplicates:     tr.duplicates.Load(),
		BadSignatures:  tr.badSignatures.Load(),
		PublishErrors:  tr.publishErrors.Load(),
		Unexpected:     tr.unexpected.Load(),
		FaultyAttempts: tr.faulty.Load(),
		Cores:          cores(),
	}
	res.Lost = max(0, res.Expected-res.Delivered)
	first, lastRx, lastPub := tr.firstPublish.Load(), tr.lastReceipt.Load(), tr.lastPublish.Load()
	if first > 0 && lastRx > first {
		span := time.Duration(lastRx - first)
		res.DeliveriesPerSec = round(float64(res.Delivered)/span.Seconds(), 1)
		res.ElapsedS = round(span.Seconds(), 3)
	}
	if first > 0 && lastPub > first {
		res.PublishRate = round(float64(res.Events)/time.Duration(lastPub-first).Seconds(), 1)
	}
	latencyStats(res, tr.latencies())
	return res
}

// runCeiling POSTs signed delivery bodies straight to the receiver, with
// the deliverer's own HTTP client: no pipeline.
func runCeiling(ctx context.Context, o options, stderr io.Writer) (*result, error) {
	tmpl, err := exampleEvent()
	if err != nil {
		return nil, err
	}
	tr := newTracker()
	rc, err := startReceiver(tr, o.timeout+10*time.Second)
	if err != nil {
		return nil, err
	}
	defer rc.close()

	type target struct {
		url       *url.URL
		webhookID string
		signer    *signing.Signer
		body      []byte // rendered with a placeholder event id
		idAt      int    // where the event id is in body
	}
	targets := make([]target, o.webhooks)
	for i := range targets {
		idx, endpoint, err := rc.add(healthy, false)
		if err != nil {
			return nil, err
		}
		endpointURL, err := url.Parse(endpoint)
		if err != nil {
			return nil, err
		}
		secret, err := signing.NewSecret()
		if err != nil {
			return nil, err
		}
		if err := rc.setSecret(idx, secret); err != nil {
			return nil, err
		}
		now := time.Now().UTC()
		w := &webhook.Webhook{
			ID: webhook.NewID(), UID: webhook.NewUID(), CompanyID: "bench", Name: "bench " + strconv.Itoa(i), URL: endpoint,
			Status: webhook.StatusHealthy, Enabled: true, CreatedAt: now, UpdatedAt: now,
		}
		e := tmpl
		e.ID = event.NewID()
		body, err := dispatch.Render(&e, w)
		if err != nil {
			return nil, err
		}
		at := bytes.Index(body, []byte(e.ID))
		if at < 0 {
			return nil, errors.New("ceiling: rendered body lacks the event id")
		}
		targets[i] = target{url: endpointURL, webhookID: w.ID, signer: signing.NewSigner([]string{secret}), body: body, idAt: at}
	}
	client := delivery.NewClient(delivery.ClientConfig{Timeout: o.timeout, MaxConns: o.concurrency})
	fmt.Fprintf(stderr, "bench: ceiling: %d clients POSTing to %d endpoints for %s\n", o.concurrency, len(targets), o.duration)

	stopProgress := startProgress(stderr, o.scenario, tr, "req", nil)
	deadline := time.Now().Add(o.duration)
	cpuStart := cpuTime()
	var n atomic.Int64
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				t := &targets[int(n.Add(1)-1)%len(targets)]
				evID := event.NewID()
				body := bytes.Clone(t.body)
				copy(body[t.idAt:], evID)
				now := time.Now()
				h := make(http.Header, 8)
				h["Content-Type"] = []string{"application/json"}
				h["User-Agent"] = []string{delivery.DefaultUserAgent}
				h["X-Webhook-Event"] = []string{exampleType}
				h["X-Webhook-Attempt"] = []string{"1"}
				t.signer.Sign(h, job.DeliveryID(evID, t.webhookID, now), now.Unix(), body)
				at := time.Now()
				tr.recordPublish(evID, pubRec{at: at, target: -1})
				tr.expected.Add(1)
				resp, err := delivery.Post(ctx, client, t.url, h, body) // as the deliverer sends
				tr.published.Add(1)
				setMax(&tr.lastPublish, time.Now().UnixNano())
				if err != nil {
					continue // counted as lost
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	cpu := cpuTime() - cpuStart
	if o.linger > 0 {
		time.Sleep(min(o.linger, 200*time.Millisecond))
	}
	stopProgress()
	res := snapshot(o.scenario, tr)
	res.CPUPerDelivery = perDelivery(float64(cpu.Microseconds()), res.Delivered)
	res.Webhooks = len(targets)
	res.Mode = "no-pipeline"
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}
