// Package handoff hands delivery jobs from a dispatcher to a deliverer in
// another process over core NATS, so that a job the deliverer can start at
// once is not stored in DELIVERIES first: no JetStream write, delivery,
// ack and removal per job. It is the split deployment's form of the
// handoff webhookd does inside one process.
//
// The dispatcher (Client) publishes the job's message to Subject with a
// reply subject of its own; one deliverer of the queue group Queue gets it
// and answers there:
//
//   - Refused, at once, when it cannot start the job now (no free attempt
//     slot, its endpoint failing): the Client stores the job in DELIVERIES,
//     as the dispatcher would have.
//   - Working, every interval while it holds the job (a slow attempt).
//   - Done once the job is delivered or its next step (a retry, a dead
//     letter, the job itself handed back) is stored in JetStream; Failed
//     when that could not be done.
//
// The jobs of one event go together, in one batch message on BatchSubject
// (see TakeBatch and batch.go), answered once for the refused ones and
// once for the rest: two messages an event rather than two a job.
//
// Data safety comes from the event, not the job: the dispatcher acks the
// event only once each of its jobs is stored or Done. A job not heard of
// for longer than the silence limit (its deliverer died) fails, and its
// event is redelivered and dispatched again: a job may then be delivered
// twice, never lost.
package handoff

import (
	"github.com/nats-io/nats.go"
)

// Subject is where dispatchers offer jobs; deliverers take them in the
// queue group Queue, so each offer reaches one deliverer.
const (
	Subject = "webhooks.handoff"
	Queue   = "deliverers"
)

// HeaderStatus carries a deliverer's answer on the offer's reply subject;
// a Failed answer says why in its data.
const HeaderStatus = "Wh-Handoff"

// Answers to an offer.
const (
	Refused = "refused"
	Working = "working"
	Done    = "done"
	Failed  = "failed"
)

// headerSubject carries the job's own subject (its DELIVERIES shard) in an
// offer, for the deliverer to store it there if it has to hand it back.
const headerSubject = "Wh-Job-Subject"

// offer wraps a job's message for Subject, with reply as the reply subject.
// The job's header is copied, not changed: the Client may still store the
// message itself.
func offer(job *nats.Msg, reply string) *nats.Msg {
	h := make(nats.Header, len(job.Header)+1)
	for k, v := range job.Header {
		h[k] = v
	}
	h[headerSubject] = []string{job.Subject}
	return &nats.Msg{Subject: Subject, Reply: reply, Header: h, Data: job.Data}
}

// JobMsg is the job's message an offer carries: its own subject, its
// header (Nats-Msg-Id included) and its data.
func JobMsg(offer *nats.Msg) *nats.Msg {
	h := offer.Header
	subject := h.Get(headerSubject)
	delete(h, headerSubject)
	return &nats.Msg{Subject: subject, Header: h, Data: offer.Data}
}

// Answer is a deliverer's reply to an offer, with the given status.
func Answer(reply, status, detail string) *nats.Msg {
	m := &nats.Msg{Subject: reply, Header: nats.Header{HeaderStatus: {status}}}
	if detail != "" {
		m.Data = []byte(detail)
	}
	return m
}
