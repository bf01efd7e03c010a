package webhook

// Bounds of a webhook's own caps, whatever the process-wide limits.
const (
	// DefaultConcurrency is the attempts in flight per endpoint when
	// Limits.Concurrency is not set (DELIVERY_ENDPOINT_CONCURRENCY's default).
	DefaultConcurrency = 32
	// MinRateLimit is the slowest rate a webhook may ask for: one delivery
	// every 100 s.
	MinRateLimit = 0.01
	// MaxRateLimit bounds rateLimit when there is no process-wide rate
	// (DELIVERY_ENDPOINT_RATE's own upper bound).
	MaxRateLimit = 1e6
)

// Limits are the process-wide caps of delivery to one endpoint
// (DELIVERY_ENDPOINT_RATE and DELIVERY_ENDPOINT_CONCURRENCY): the defaults
// of a webhook that sets no RateLimit / MaxConcurrency, and the ceilings of
// one that does. The API refuses a value above a ceiling; the deliverer
// clamps one that was stored before a ceiling was lowered.
type Limits struct {
	Rate        float64 // deliveries per second; 0: no limit by default
	Concurrency int     // attempts in flight; 0: DefaultConcurrency
}

// RateCeiling is the highest RateLimit a webhook may have.
func (l Limits) RateCeiling() float64 {
	if l.Rate > 0 {
		return l.Rate
	}
	return MaxRateLimit
}

// ConcurrencyCeiling is the highest MaxConcurrency a webhook may have, and
// the default of one that sets none.
func (l Limits) ConcurrencyCeiling() int {
	if l.Concurrency > 0 {
		return l.Concurrency
	}
	return DefaultConcurrency
}

// EffectiveRate is the rate w is delivered at: its own RateLimit, clamped to
// the ceiling, or else the default. 0 means no limit.
func (w *Webhook) EffectiveRate(l Limits) float64 {
	if w.RateLimit > 0 {
		return min(w.RateLimit, l.RateCeiling())
	}
	return max(l.Rate, 0)
}

// EffectiveConcurrency is how many attempts to w may be in flight: its own
// MaxConcurrency, clamped to the ceiling, or else the default.
func (w *Webhook) EffectiveConcurrency(l Limits) int {
	if w.MaxConcurrency > 0 {
		return min(w.MaxConcurrency, l.ConcurrencyCeiling())
	}
	return l.ConcurrencyCeiling()
}
