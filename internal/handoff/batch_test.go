package handoff

import (
	"bytes"
	"reflect"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"
)

// A batch decodes to the jobs' messages it was made of: subjects, every
// header value (several per key too), and data byte for byte, empty ones
// included.
func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	jobs := []*nats.Msg{
		{Subject: "deliveries.3.wh_a", Header: nats.Header{"Nats-Msg-Id": {"evt_1.wh_a"}, "Wh-Attempt": {"1"}, "X": {"a", "b"}}, Data: []byte(`{"id":"evt_1"}`)},
		{Subject: "deliveries.0.wh_b", Data: []byte{}},
		{Subject: "deliveries.7.wh_c", Header: nats.Header{"Empty": {""}}, Data: bytes.Repeat([]byte{0, 0xff, '\n'}, 300)},
	}
	got, err := DecodeBatch(EncodeBatch(nil, jobs))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(jobs) {
		t.Fatalf("decoded %d jobs, want %d", len(got), len(jobs))
	}
	for i, m := range got {
		want := jobs[i]
		if m.Subject != want.Subject || !bytes.Equal(m.Data, want.Data) || len(m.Header) != len(want.Header) {
			t.Errorf("job %d = %q %v %q, want %q %v %q", i, m.Subject, m.Header, m.Data, want.Subject, want.Header, want.Data)
			continue
		}
		for k, vs := range want.Header {
			if !reflect.DeepEqual(m.Header[k], vs) {
				t.Errorf("job %d header %s = %q, want %q", i, k, m.Header[k], vs)
			}
		}
	}
}

// Data that is not a whole batch is refused, never half-read: cut short
// anywhere, with bytes after it, or with counts larger than its length.
func TestBatchMalformed(t *testing.T) {
	t.Parallel()
	whole := EncodeBatch(nil, []*nats.Msg{
		{Subject: "deliveries.1.wh_a", Header: nats.Header{"Nats-Msg-Id": {"evt_1.wh_a"}}, Data: []byte("body")},
		{Subject: "deliveries.2.wh_b", Data: []byte("body")},
	})
	for n := range len(whole) {
		if _, err := DecodeBatch(whole[:n]); err != ErrMalformedBatch {
			t.Errorf("the first %d of %d bytes: err = %v, want ErrMalformedBatch", n, len(whole), err)
		}
	}
	for name, data := range map[string][]byte{
		"trailing bytes": append(append([]byte{}, whole...), 0),
		"huge job count": {0xff, 0xff, 0xff, 0xff, 0x0f, 1, 'a', 0, 0},
		"huge string":    {1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge headers":   {1, 1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := DecodeBatch(data); err != ErrMalformedBatch {
			t.Errorf("%s: err = %v, want ErrMalformedBatch", name, err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch(nil, []*nats.Msg{{Subject: "s", Header: nats.Header{"k": {"v"}}, Data: []byte("d")}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := DecodeBatch(data)
		if err != nil {
			return
		}
		// What decodes encodes back to a batch that decodes the same.
		again, err := DecodeBatch(EncodeBatch(nil, jobs))
		if err != nil || len(again) != len(jobs) {
			t.Fatalf("re-encoded batch: %d jobs, %v; want %d", len(again), err, len(jobs))
		}
	})
}

// The indices of a Refused answer and the failures of a Done answer read
// back as written; an index outside the batch is an error, not a job.
func TestAnswerLists(t *testing.T) {
	t.Parallel()
	idx, err := parseIndices(Indices([]int{0, 3, 4}), 5)
	if err != nil || !reflect.DeepEqual(idx, []int{0, 3, 4}) {
		t.Errorf("indices = %v, %v; want [0 3 4]", idx, err)
	}
	if all, err := parseIndices(nil, 3); err != nil || !reflect.DeepEqual(all, []int{0, 1, 2}) {
		t.Errorf("no indices = %v, %v; want all of [0 1 2]", all, err)
	}
	for _, bad := range []string{"5", "-1", "1,x", "1,,2"} {
		if _, err := parseIndices([]byte(bad), 5); err == nil {
			t.Errorf("indices %q of a batch of 5 parsed", bad)
		}
	}
	failed, err := parseFailures(Failures(map[int]string{1: "stream: no leader\nretry later", 4: "x"}), 5)
	if err != nil || !reflect.DeepEqual(failed, map[int]string{1: "stream: no leader retry later", 4: "x"}) {
		t.Errorf("failures = %v, %v", failed, err)
	}
	if none, err := parseFailures(nil, 5); err != nil || len(none) != 0 {
		t.Errorf("no failures = %v, %v", none, err)
	}
	if _, err := parseFailures([]byte("9 boom\n"), 5); err == nil {
		t.Error("a failure of index 9 in a batch of 5 parsed")
	}
}

// A batch is encoded into one allocation, and decoded with a few per job,
// not one per string: the dispatcher encodes and a deliverer decodes one
// batch per event.
func TestBatchAllocations(t *testing.T) {
	jobs := make([]*nats.Msg, 10)
	for i := range jobs {
		jobs[i] = &nats.Msg{
			Subject: "deliveries.3.wh_" + strconv.Itoa(i),
			Header:  nats.Header{"Nats-Msg-Id": {"evt_1.wh_" + strconv.Itoa(i)}, "Wh-Attempt": {"1"}, "Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
			Data:    bytes.Repeat([]byte("x"), 700),
		}
	}
	if n := testing.AllocsPerRun(50, func() { EncodeBatch(nil, jobs) }); n != 1 {
		t.Errorf("EncodeBatch of %d jobs: %.0f allocations, want 1", len(jobs), n)
	}
	data := EncodeBatch(nil, jobs)
	// The copy as a string, the jobs' slice and their header values; per
	// job its message and its header map.
	const perJob, fixed = 3, 3
	if n := testing.AllocsPerRun(50, func() { _, _ = DecodeBatch(data) }); n > fixed+perJob*float64(len(jobs)) {
		t.Errorf("DecodeBatch of %d jobs: %.0f allocations, want at most %d", len(jobs), n, fixed+perJob*len(jobs))
	}
}
