package handoff

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// BatchSubject is where dispatchers offer several jobs of one event in one
// message (see EncodeBatch), to the same queue group Queue: one message
// and one final answer per event instead of one of each per job. A
// deliverer that does not listen there leaves the offer without
// responders, so its jobs are stored in DELIVERIES as refused ones are.
const BatchSubject = "webhooks.handoff.batch"

// Answers to a batch use the statuses of single offers, with the jobs they
// concern, by their index in the batch, in the data:
//
//   - Refused: the indices refused, comma-separated; no data means all.
//     Sent at once, before any other answer but Working.
//   - Working: no data; the batch's deliverer still holds some of its jobs.
//   - Done: once every job taken is settled; the data lists the ones that
//     failed, one "index reason" per line. Done ends the batch: every job
//     neither refused nor listed succeeded.

// maxBatchJobs bounds the jobs of one batch message: an event with more
// matches is offered in several, which may go to several deliverers.
const maxBatchJobs = 64

// ErrMalformedBatch is a batch message that does not decode.
var ErrMalformedBatch = errors.New("handoff: malformed batch")

// EncodeBatch appends the jobs' messages (subject, header, data) to buf.
func EncodeBatch(buf []byte, jobs []*nats.Msg) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(jobs)))
	for _, m := range jobs {
		buf = appendString(buf, m.Subject)
		n := 0
		for _, vs := range m.Header {
			n += len(vs)
		}
		buf = binary.AppendUvarint(buf, uint64(n))
		for k, vs := range m.Header {
			for _, v := range vs {
				buf = appendString(appendString(buf, k), v)
			}
		}
		buf = appendString(buf, string(m.Data))
	}
	return buf
}

// encodedSize is about what EncodeBatch adds for m, to split batches
// below the server's payload limit.
func encodedSize(m *nats.Msg) int {
	n := 3*binary.MaxVarintLen32 + len(m.Subject) + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += 2*binary.MaxVarintLen32 + len(k) + len(v)
		}
	}
	return n
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

// DecodeBatch returns the jobs' messages of a batch's data.
func DecodeBatch(data []byte) ([]*nats.Msg, error) {
	d := decoder{b: data}
	n := d.uvarint()
	// Every job takes at least three bytes: no count can exceed that.
	if d.err != nil || n > uint64(len(d.b))/3 {
		return nil, ErrMalformedBatch
	}
	jobs := make([]*nats.Msg, 0, n)
	for range n {
		m := &nats.Msg{Subject: d.string()}
		pairs := d.uvarint()
		if d.err != nil || pairs > uint64(len(d.b))/2 {
			return nil, ErrMalformedBatch
		}
		if pairs > 0 {
			m.Header = make(nats.Header, pairs)
		}
		for range pairs {
			k := d.string()
			m.Header[k] = append(m.Header[k], d.string())
		}
		m.Data = []byte(d.string())
		if d.err != nil {
			return nil, ErrMalformedBatch
		}
		jobs = append(jobs, m)
	}
	if len(d.b) > 0 {
		return nil, ErrMalformedBatch
	}
	return jobs, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrMalformedBatch
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = ErrMalformedBatch
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Indices encodes the batch indices of a Refused answer.
func Indices(idx []int) []byte {
	var b []byte
	for i, v := range idx {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return b
}

// parseIndices reads a Refused answer's indices for a batch of n jobs; nil
// data is all of them.
func parseIndices(data []byte, n int) ([]int, error) {
	if len(data) == 0 {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all, nil
	}
	var idx []int
	for f := range strings.SplitSeq(string(data), ",") {
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 || v >= n {
			return nil, fmt.Errorf("handoff: refused index %q of a batch of %d", f, n)
		}
		idx = append(idx, v)
	}
	return idx, nil
}

// Failures encodes the failed jobs of a Done answer: index and reason.
func Failures(failed map[int]string) []byte {
	var b []byte
	for i, reason := range failed {
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ' ')
		b = append(b, strings.ReplaceAll(reason, "\n", " ")...)
		b = append(b, '\n')
	}
	return b
}

// parseFailures reads a Done answer's failed jobs for a batch of n jobs.
func parseFailures(data []byte, n int) (map[int]string, error) {
	failed := make(map[int]string)
	for line := range strings.SplitSeq(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		i, reason, _ := strings.Cut(line, " ")
		v, err := strconv.Atoi(i)
		if err != nil || v < 0 || v >= n {
			return nil, fmt.Errorf("handoff: failed index %q of a batch of %d", i, n)
		}
		failed[v] = reason
	}
	return failed, nil
}
