package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisPrefix returns a Redis key prefix of this test's own (name, a
// unique id, ":") and, when the test ends, deletes every key under it from
// the Redis at RedisURL. Tests share one Redis, often a developer's own:
// each writes under its prefix and removes only what it wrote, never
// FLUSHDB.
func RedisPrefix(t testing.TB, name string) string {
	t.Helper()
	rdb := Redis(t)
	prefix := ID(name) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := DeleteKeys(ctx, rdb, prefix); err != nil {
			t.Errorf("testenv: deleting the test's Redis keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// DeleteKeys deletes the keys of rdb that start with prefix (SCAN, then
// DEL in batches) and returns how many it deleted. It touches no other key.
func DeleteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) (int, error) {
	if prefix == "" {
		panic("testenv: DeleteKeys with an empty prefix would delete every key")
	}
	deleted := 0
	iter := rdb.Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := rdb.Del(ctx, batch...).Result()
		deleted += int(n)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 500 {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return deleted, err
	}
	return deleted, flush()
}

// globEscape quotes the characters SCAN MATCH gives a meaning to.
func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(s)
}
