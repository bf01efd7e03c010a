package delivery

import (
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// message is a job as the pipeline holds it: pulled from its shard
// (pulledMsg), or handed over by a dispatcher without being stored
// (handedJob). It is settled once: acked, or requeued.
type message interface {
	Data() []byte
	Headers() nats.Header
	// Subject is the shard subject of the job: where its retries go.
	Subject() string
	// Ack settles the job: it was delivered, or its next step is stored.
	Ack() error
	// requeue returns the job to its shard, to be delivered again after
	// delay (0: at once).
	requeue(delay time.Duration) error
	// deliveries is how many times the shard delivered the job, this
	// time included.
	deliveries() uint64
	// sequence is the job's sequence in DELIVERIES; 0 when it was not
	// stored there.
	sequence() uint64
}

// pulledMsg is a job pulled from its shard: requeued with a Nak.
type pulledMsg struct{ m jetstream.Msg }

var _ message = pulledMsg{}

func (p pulledMsg) Data() []byte         { return p.m.Data() }
func (p pulledMsg) Headers() nats.Header { return p.m.Headers() }
func (p pulledMsg) Subject() string      { return p.m.Subject() }
func (p pulledMsg) Ack() error           { return p.m.Ack() }

func (p pulledMsg) requeue(delay time.Duration) error {
	if delay <= 0 {
		return p.m.Nak()
	}
	return p.m.NakWithDelay(delay)
}

func (p pulledMsg) sequence() uint64 {
	if md, err := p.m.Metadata(); err == nil {
		return md.Sequence.Stream
	}
	return 0
}

// deliveries is 1 when the message has no metadata to tell.
func (p pulledMsg) deliveries() uint64 {
	if md, err := p.m.Metadata(); err == nil {
		return md.NumDelivered
	}
	return 1
}
