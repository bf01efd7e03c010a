package registry

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisTier is the shared cache tier in Redis: key <prefix>reg:<companyId>
// holds the company's compact form. It is a cache only; FLUSHALL loses
// nothing.
type RedisTier struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var (
	_ SharedTier  = (*RedisTier)(nil)
	_ Invalidator = (*RedisTier)(nil)
)

// NewRedisTier returns the Redis tier, its keys under prefix (often "");
// entries expire after ttl (a bound on memory for companies that went
// quiet).
func NewRedisTier(rdb redis.UniversalClient, prefix string, ttl time.Duration) *RedisTier {
	return &RedisTier{rdb: rdb, prefix: prefix, ttl: ttl}
}

func (t *RedisTier) key(companyID string) string { return t.prefix + "reg:" + companyID }

// Load returns the cached form, ok false on a miss.
func (t *RedisTier) Load(ctx context.Context, companyID string) ([]byte, bool, error) {
	data, err := t.rdb.Get(ctx, t.key(companyID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

// Store caches a company's compact form.
func (t *RedisTier) Store(ctx context.Context, companyID string, data []byte) error {
	return t.rdb.Set(ctx, t.key(companyID), data, t.ttl).Err()
}

// Invalidate drops a company after a registry write.
func (t *RedisTier) Invalidate(ctx context.Context, companyID string) error {
	return t.rdb.Del(ctx, t.key(companyID)).Err()
}
