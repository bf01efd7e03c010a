package inspect

import "math"

// latencyHistogram counts latencies in logarithmic buckets: bucket i holds
// [base*growth^(i-1), base*growth^i) ms, so a quantile read from it is
// within half a bucket (about 9 %) of the true one, in fixed memory.
type latencyHistogram struct {
	counts [latencyBuckets]uint32
	n      uint32
}

const (
	latencyBuckets = 80
	latencyBase    = 0.1 // ms: bucket 0 is everything below
)

// latencyGrowth is 2^(1/4): four buckets per doubling, up to ~100 s.
var latencyGrowth = math.Pow(2, 0.25)

func (h *latencyHistogram) add(ms float64) {
	i := 0
	if ms > latencyBase {
		i = int(math.Ceil(math.Log(ms/latencyBase) / math.Log(latencyGrowth)))
	}
	h.counts[min(max(i, 0), latencyBuckets-1)]++
	h.n++
}

func (h *latencyHistogram) merge(o *latencyHistogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the middle of the bucket holding the q-quantile.
func (h *latencyHistogram) quantile(q float64) (float64, bool) {
	if h.n == 0 {
		return 0, false
	}
	rank := uint32(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint32
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == 0 {
				return latencyBase / 2, true
			}
			upper := latencyBase * math.Pow(latencyGrowth, float64(i))
			return upper / math.Sqrt(latencyGrowth), true
		}
	}
	return latencyBase * math.Pow(latencyGrowth, latencyBuckets-1), true
}
