package state

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the State shared by every process through Redis. Each operation
// is one script or command, so it is atomic and one round trip; each script
// touches one key, or two with the same hash tag, so it also runs on a
// Redis Cluster. Every key expires:
//
//	<prefix>lease:{<key>}   sorted set of lease ids scored by expiry; expires with the longest lease
//	<prefix>refused:{<key>} the refused Acquire remembered for Renew, "<held>:<until µs>"; expires with it
//	<prefix>rate:<key>      the token bucket; expires once it would be full again
//	<prefix>health:<key>    breaker counters; expire 8 days after the last write
//	<prefix>attempts:<key>  recent attempt records, newest first; expire 7 days after the last write
//
// Times are the callers' now (microseconds), never Redis TIME; only key
// expiry runs on Redis's clock. A key that vanished (FLUSHALL, expiry,
// failover) reads as fresh state.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
	policy BreakerPolicy
}

var _ State = (*Redis)(nil)

// NewRedis returns the Redis state with keys under prefix (e.g. "wh:"). It
// panics on an invalid policy (see BreakerPolicy).
func NewRedis(rdb redis.UniversalClient, prefix string, p BreakerPolicy) *Redis {
	return &Redis{rdb: rdb, prefix: prefix, policy: mustPolicy(p)}
}

// Numbers pass to Redis as strings through string.format('%.0f'): Lua's
// default conversion keeps 14 digits, too few for microseconds since 1970.

// acquireScript: KEYS[1] lease set, KEYS[2] refusal; ARGV now µs, limit,
// ttl µs, lease id, held. A refusal is remembered unless a needier one
// (an asker holding fewer) is.
var acquireScript = redis.NewScript(leaseCount + `
if count >= limit then
  local held = tonumber(ARGV[5])
  if not refusedHeld or held < refusedHeld then
    redis.call('SET', KEYS[2], ARGV[5] .. ':' .. string.format('%.0f', now + ttl), 'PX', string.format('%.0f', math.ceil(ttl / 1000)))
  end
  return 0
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[4])
` + leaseExpire + `
return 1
`)

// renewScript: KEYS[1] lease set, KEYS[2] refusal; ARGV now µs, limit,
// ttl µs, lease id, held. Returns 1 when the lease is kept for ttl, 0 when
// it was given up.
var renewScript = redis.NewScript(leaseCount + `
if refusedHeld and refusedHeld < tonumber(ARGV[5]) - 1 then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[4])
  return 0
end
if not redis.call('ZSCORE', KEYS[1], ARGV[4]) and count >= limit then
  return 0
end
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[4])
` + leaseExpire + `
return 1
`)

// leaseCount starts the lease scripts: it drops the leases that expired,
// counts the others (count) and reads the refusal remembered, if any
// (refusedHeld: the slots its asker held).
const leaseCount = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
local count = redis.call('ZCARD', KEYS[1])
local refusedHeld
local refusal = redis.call('GET', KEYS[2])
if refusal then
  local held, untilUs = string.match(refusal, '^(%d+):(%d+)$')
  if held and tonumber(untilUs) > now then
    refusedHeld = tonumber(held)
  end
end
`

// leaseExpire keeps the lease set for at least ttl after a lease was
// added.
const leaseExpire = `
local ms = math.ceil(ttl / 1000)
if redis.call('PTTL', KEYS[1]) < ms then
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ms))
end
`

// allowScript is GCRA: the bucket is one "theoretical arrival time" (tat).
// KEYS[1] bucket; ARGV now µs, rate per second, burst. Returns the wait in
// µs, 0 when a token was taken.
var allowScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local interval = 1000000 / tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end
local newTat = tat + interval
local allowAt = newTat - burst * interval
if now < allowAt then
  return math.ceil(allowAt - now)
end
local ms = math.ceil((newTat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', string.format('%.0f', ms))
return 0
`)

// admitScript: KEYS[1] health; ARGV now µs, probe ttl µs, probe retry µs,
// key ttl ms. Returns {allowed, probe, retryAt µs}.
var admitScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local v = redis.call('HMGET', KEYS[1], 'open_until', 'probe_until')
local openUntil = tonumber(v[1]) or 0
if openUntil == 0 then
  return {1, 0, 0}
end
if now < openUntil then
  return {0, 0, openUntil}
end
local probeUntil = tonumber(v[2]) or 0
if now < probeUntil then
  local retry = now + tonumber(ARGV[3])
  if probeUntil < retry then
    retry = probeUntil
  end
  return {0, 0, retry}
end
redis.call('HSET', KEYS[1], 'probe_until', string.format('%.0f', now + tonumber(ARGV[2])))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, 1, 0}
`)

// failureScript: KEYS[1] health; ARGV now µs, threshold, base open µs, max
// open µs, key ttl ms. Returns {failures, first failure µs, open until µs}.
var failureScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local maxOpen = tonumber(ARGV[4])
local v = redis.call('HMGET', KEYS[1], 'fails', 'first', 'open_until', 'opens')
local fails = (tonumber(v[1]) or 0) + 1
local first = tonumber(v[2]) or 0
local openUntil = tonumber(v[3]) or 0
local opens = tonumber(v[4]) or 0
if first == 0 then
  first = now
end
if fails >= threshold and now >= openUntil then
  local d = tonumber(ARGV[3])
  for i = 1, opens do
    if d >= maxOpen then
      break
    end
    d = d * 2
  end
  if d > maxOpen then
    d = maxOpen
  end
  openUntil = now + d
  opens = opens + 1
end
redis.call('HSET', KEYS[1], 'fails', fails, 'first', string.format('%.0f', first),
  'open_until', string.format('%.0f', openUntil), 'opens', opens)
redis.call('HDEL', KEYS[1], 'probe_until')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {fails, first, openUntil}
`)

// healthScript: KEYS[1] health. Returns {failures, first µs, open until µs}.
var healthScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'fails', 'first', 'open_until')
return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0}
`)

// addAttemptsScript: KEYS[1] list; ARGV max, ttl ms, records oldest first.
var addAttemptsScript = redis.NewScript(`
redis.call('LPUSH', KEYS[1], unpack(ARGV, 3))
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

func (r *Redis) key(kind, key string) string { return r.prefix + kind + ":" + key }

// leaseKey is key's lease set. Its hash tag is the one of the refusal
// too, so that the lease scripts reach both on a Redis Cluster.
func (r *Redis) leaseKey(key string) string { return r.key("lease", "{"+key+"}") }

// leaseKeys are the keys of key's lease scripts: its lease set and its
// refusal.
func (r *Redis) leaseKeys(key string) []string {
	return []string{r.leaseKey(key), r.key("refused", "{"+key+"}")}
}

// Acquire implements State.
func (r *Redis) Acquire(ctx context.Context, key string, limit, held int, ttl time.Duration, now time.Time) (Lease, bool, error) {
	if err := checkAcquire(limit, ttl); err != nil {
		return Lease{}, false, err
	}
	id := rand.Text()
	got, err := acquireScript.Run(ctx, r.rdb, r.leaseKeys(key), micros(now), limit, ttl.Microseconds(), id, held).Int()
	if err != nil {
		return Lease{}, false, fmt.Errorf("state: acquire %s: %w", key, err)
	}
	if got == 0 {
		return Lease{}, false, nil
	}
	return Lease{Key: key, ID: id}, true, nil
}

// Release implements State.
func (r *Redis) Release(ctx context.Context, lease Lease) error {
	if lease.ID == "" {
		return nil
	}
	if err := r.rdb.ZRem(ctx, r.leaseKey(lease.Key), lease.ID).Err(); err != nil {
		return fmt.Errorf("state: release %s: %w", lease.Key, err)
	}
	return nil
}

// Renew implements State.
func (r *Redis) Renew(ctx context.Context, lease Lease, limit, held int, ttl time.Duration, now time.Time) (bool, error) {
	if err := checkAcquire(limit, ttl); err != nil {
		return false, err
	}
	got, err := renewScript.Run(ctx, r.rdb, r.leaseKeys(lease.Key), micros(now), limit, ttl.Microseconds(), lease.ID, held).Int()
	if err != nil {
		return false, fmt.Errorf("state: renew %s: %w", lease.Key, err)
	}
	return got == 1, nil
}

// Allow implements State.
func (r *Redis) Allow(ctx context.Context, key string, rate float64, burst int, now time.Time) (time.Duration, error) {
	if err := checkAllow(rate, burst); err != nil {
		return 0, err
	}
	us, err := allowScript.Run(ctx, r.rdb, []string{r.key("rate", key)}, micros(now), rate, burst).Int64()
	if err != nil {
		return 0, fmt.Errorf("state: allow %s: %w", key, err)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Admit implements State.
func (r *Redis) Admit(ctx context.Context, key string, now time.Time) (Admission, error) {
	v, err := admitScript.Run(ctx, r.rdb, []string{r.key("health", key)},
		micros(now), r.policy.ProbeTTL.Microseconds(), probeRetry.Microseconds(), healthTTL.Milliseconds()).Int64Slice()
	if err == nil && len(v) != 3 {
		err = fmt.Errorf("unexpected reply %v", v)
	}
	if err != nil {
		return Admission{}, fmt.Errorf("state: admit %s: %w", key, err)
	}
	return Admission{Allowed: v[0] == 1, Probe: v[1] == 1, RetryAt: fromMicros(v[2])}, nil
}

// Success implements State.
func (r *Redis) Success(ctx context.Context, key string, _ time.Time) (Health, error) {
	if err := r.rdb.Del(ctx, r.key("health", key)).Err(); err != nil {
		return Health{}, fmt.Errorf("state: success %s: %w", key, err)
	}
	return Health{}, nil
}

// Failure implements State.
func (r *Redis) Failure(ctx context.Context, key string, now time.Time) (Health, error) {
	p := r.policy
	v, err := failureScript.Run(ctx, r.rdb, []string{r.key("health", key)},
		micros(now), p.Threshold, p.BaseOpen.Microseconds(), p.MaxOpen.Microseconds(), healthTTL.Milliseconds()).Int64Slice()
	if err != nil {
		return Health{}, fmt.Errorf("state: failure %s: %w", key, err)
	}
	return healthOf(key, v)
}

// Health implements State.
func (r *Redis) Health(ctx context.Context, key string) (Health, error) {
	v, err := healthScript.Run(ctx, r.rdb, []string{r.key("health", key)}).Int64Slice()
	if err != nil {
		return Health{}, fmt.Errorf("state: health %s: %w", key, err)
	}
	return healthOf(key, v)
}

func healthOf(key string, v []int64) (Health, error) {
	if len(v) != 3 {
		return Health{}, fmt.Errorf("state: health %s: unexpected reply %v", key, v)
	}
	return Health{ConsecutiveFailures: int(v[0]), FirstFailureAt: fromMicros(v[1]), OpenUntil: fromMicros(v[2])}, nil
}

// AddAttempts implements State.
func (r *Redis) AddAttempts(ctx context.Context, key string, records [][]byte, keep int) error {
	if err := checkAttempt(keep); err != nil {
		return err
	}
	records = records[max(0, len(records)-keep):] // the rest would be trimmed at once
	if len(records) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(records))
	args = append(args, keep, attemptsTTL.Milliseconds())
	for _, rec := range records {
		args = append(args, rec)
	}
	err := addAttemptsScript.Run(ctx, r.rdb, []string{r.key("attempts", key)}, args...).Err()
	if err != nil {
		return fmt.Errorf("state: add attempt %s: %w", key, err)
	}
	return nil
}

// RecentAttempts implements State.
func (r *Redis) RecentAttempts(ctx context.Context, key string, n int) ([][]byte, error) {
	if n < 1 {
		return [][]byte{}, nil
	}
	vals, err := r.rdb.LRange(ctx, r.key("attempts", key), 0, int64(n-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("state: recent attempts %s: %w", key, err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}
