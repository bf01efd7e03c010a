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

// EncodeBatch appends the jobs' messages (subject, header, data) to buf,
// growing it once: the dispatcher encodes a batch per event, and a buffer
// grown by appends was a fifth of its CPU (the copies and the garbage).
func EncodeBatch(buf []byte, jobs []*nats.Msg) []byte {
	size := uvarintLen(uint64(len(jobs)))
	for _, m := range jobs {
		size += encodedSize(m)
	}
	if cap(buf)-len(buf) < size {
		// Not slices.Grow: under the race detector it allocates twice.
		grown := make([]byte, len(buf), len(buf)+size)
		copy(grown, buf)
		buf = grown
	}
	buf = binary.AppendUvarint(buf, uint64(len(jobs)))
	for _, m := range jobs {
		buf = appendString(buf, m.Subject)
		buf = binary.AppendUvarint(buf, uint64(headerValues(m.Header)))
		for k, vs := range m.Header {
			for _, v := range vs {
				buf = appendString(appendString(buf, k), v)
			}
		}
		buf = appendBytes(buf, m.Data)
	}
	return buf
}

// encodedSize is what EncodeBatch adds for m; the dispatcher also splits
// batches with it, below the server's payload limit.
func encodedSize(m *nats.Msg) int {
	n := stringLen(len(m.Subject)) + uvarintLen(uint64(headerValues(m.Header))) + stringLen(len(m.Data))
	for k, vs := range m.Header {
		for _, v := range vs {
			n += stringLen(len(k)) + stringLen(len(v))
		}
	}
	return n
}

// headerValues counts h's values: one key-value pair each in a batch.
func headerValues(h nats.Header) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// stringLen is the encoded length of a string of n bytes.
func stringLen(n int) int { return uvarintLen(uint64(n)) + n }

func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

func appendString(buf []byte, s string) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(s))), s...)
}

func appendBytes(buf, b []byte) []byte {
	return append(binary.AppendUvarint(buf, uint64(len(b))), b...)
}

// DecodeBatch returns the jobs' messages of a batch's data. Their strings
// are slices of one copy of data, their header values share one array, and
// their data are slices of data itself (which the caller must not modify
// while the jobs are in use): a batch costs a few allocations per job
// instead of one per string.
func DecodeBatch(data []byte) ([]*nats.Msg, error) {
	d := decoder{b: data, s: string(data)}
	n := d.uvarint()
	// Every job takes at least three bytes: no count can exceed that.
	if d.err != nil || n > uint64(d.left())/3 {
		return nil, ErrMalformedBatch
	}
	jobs := make([]*nats.Msg, 0, n)
	var values []string // the batch's header values, handed out in order
	for i := range n {
		m := &nats.Msg{Subject: d.string()}
		pairs := d.uvarint()
		if d.err != nil || pairs > uint64(d.left())/2 {
			return nil, ErrMalformedBatch
		}
		if pairs > 0 {
			m.Header = make(nats.Header, pairs)
		}
		for range pairs {
			k, v := d.string(), d.string()
			if vs, ok := m.Header[k]; ok {
				m.Header[k] = append(vs, v)
				continue
			}
			if len(values) == 0 {
				// As many as the jobs left have if they have this one's
				// (they usually do), no more than the data can hold.
				values = make([]string, min(pairs*(n-i), uint64(d.left()/2+1)))
			}
			values[0] = v
			m.Header[k], values = values[:1:1], values[1:]
		}
		m.Data = d.bytes()
		if d.err != nil {
			return nil, ErrMalformedBatch
		}
		jobs = append(jobs, m)
	}
	if d.left() > 0 {
		return nil, ErrMalformedBatch
	}
	return jobs, nil
}

// decoder reads a batch: b is its data, s the same bytes as one string,
// off how much of them is read.
type decoder struct {
	b   []byte
	s   string
	off int
	err error
}

func (d *decoder) left() int { return len(d.b) - d.off }

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.err = ErrMalformedBatch
		return 0
	}
	d.off += n
	return v
}

// field reads a length and returns where its bytes start.
func (d *decoder) field() (start, end int) {
	n := d.uvarint()
	if d.err != nil || n > uint64(d.left()) {
		d.err = ErrMalformedBatch
		return d.off, d.off
	}
	start = d.off
	d.off += int(n)
	return start, d.off
}

func (d *decoder) string() string {
	start, end := d.field()
	return d.s[start:end]
}

// bytes returns the field's bytes within data, capped, so that appending
// to them never writes over the next job.
func (d *decoder) bytes() []byte {
	start, end := d.field()
	return d.b[start:end:end]
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
