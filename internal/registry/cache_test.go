package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/filter"
	"github.com/bluehq/webhooks/internal/registry"
	"github.com/bluehq/webhooks/internal/signing"
	"github.com/bluehq/webhooks/internal/testenv"
	"github.com/bluehq/webhooks/internal/webhook"
)

// redisTier returns the Redis tier and the client under it, and deletes the
// companies' keys when the test ends.
func redisTier(t *testing.T, companies ...string) (*registry.RedisTier, *redis.Client) {
	t.Helper()
	rdb := testenv.Redis(t)
	t.Cleanup(func() {
		for _, co := range companies {
			rdb.Del(context.Background(), "reg:"+co)
		}
	})
	return registry.NewRedisTier(rdb, "", time.Hour), rdb
}

func TestCacheReadYourWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		redis bool
	}{
		{name: "in-process only"},
		{name: "with redis", redis: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			co := testenv.ID("co")
			var storeCfg registry.StoreConfig
			var cacheCfg registry.CacheConfig
			if tc.redis {
				tier, _ := redisTier(t, co)
				storeCfg.Invalidator, cacheCfg.Shared = tier, tier
			}
			s := b.store(t, storeCfg)
			c := b.cache(t, cacheCfg)

			// Resolve first, so that every later read must see past a cached set.
			if comp := syncCompany(t, c, co); len(comp.Hooks) != 0 {
				t.Fatalf("new company has %d webhooks", len(comp.Hooks))
			}
			w1, _ := mustCreate(t, s, newHook(co, "one"), "")
			if got := names(syncCompany(t, c, co)); !maps.Equal(got, map[string]string{w1.ID: "one"}) {
				t.Fatalf("after create: %v", got)
			}
			w2, _ := mustCreate(t, s, newHook(co, "two"), "")
			if got := names(syncCompany(t, c, co)); !maps.Equal(got, map[string]string{w1.ID: "one", w2.ID: "two"}) {
				t.Fatalf("after second create: %v", got)
			}
			if _, err := s.Update(t.Context(), co, w1.ID, func(w *webhook.Webhook) error { w.Name = "one-v2"; return nil }); err != nil {
				t.Fatal(err)
			}
			if got := names(syncCompany(t, c, co)); !maps.Equal(got, map[string]string{w1.ID: "one-v2", w2.ID: "two"}) {
				t.Fatalf("after update: %v", got)
			}
			if _, _, _, err := s.Disable(t.Context(), co, w2.ID, "user"); err != nil {
				t.Fatal(err)
			}
			if e := syncCompany(t, c, co).Webhook(w2.ID); e == nil || e.Enabled || e.Status != webhook.StatusUnhealthy {
				t.Fatalf("after disable: %+v", e)
			}
			if err := s.Delete(t.Context(), co, w1.ID); err != nil {
				t.Fatal(err)
			}
			if got := names(syncCompany(t, c, co)); !maps.Equal(got, map[string]string{w2.ID: "two"}) {
				t.Fatalf("after delete: %v", got)
			}
			if _, err := c.Webhook(t.Context(), co, w1.ID); !errors.Is(err, webhook.ErrNotFound) {
				t.Errorf("Webhook of the deleted id: %v, want ErrNotFound", err)
			}
			if e, err := c.Webhook(t.Context(), co, w2.ID); err != nil || e.ID != w2.ID {
				t.Errorf("Webhook(%s) = %v, %v", w2.ID, e, err)
			}
		})
	}
}

// TestCacheSeesOtherProcessWrites: a cache that resolved a company before
// another store (another process) wrote sees the write after Sync.
func TestCacheSeesOtherProcessWrites(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	c := b.cache(t, registry.CacheConfig{})
	s := b.store(t, registry.StoreConfig{})
	w, _ := mustCreate(t, s, newHook(co, "one"), "")
	syncCompany(t, c, co)
	for i := range 5 {
		name := strings.Repeat("x", i+1)
		if _, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error { w.Name = name; return nil }); err != nil {
			t.Fatal(err)
		}
		if got := names(syncCompany(t, c, co))[w.ID]; got != name {
			t.Fatalf("round %d: name %q, want %q", i, got, name)
		}
	}
}

func TestCacheRedisFilledOnMiss(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tier, rdb := redisTier(t, co)
	s := b.store(t, registry.StoreConfig{Invalidator: tier})
	_, secret := mustCreate(t, s, newHook(co, "one"), "")
	key := "reg:" + co
	if n := rdb.Exists(t.Context(), key).Val(); n != 0 {
		t.Fatalf("%s exists before any read", key)
	}
	c := b.cache(t, registry.CacheConfig{Shared: tier})
	if comp := syncCompany(t, c, co); len(comp.Hooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(comp.Hooks))
	}
	data, err := rdb.Get(t.Context(), key).Bytes()
	if err != nil {
		t.Fatalf("%s after a miss: %v", key, err)
	}
	if bytes.Contains(data, []byte(secret)) {
		t.Errorf("Redis holds the plain secret: %s", data)
	}
	if ttl := rdb.TTL(t.Context(), key).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL %v, want within (0, 1h]", ttl)
	}
	// A write through the store deletes the key (the Invalidator).
	if _, err := s.Update(t.Context(), co, comp0(t, c, co).Hooks[0].ID, func(w *webhook.Webhook) error { w.Name = "v2"; return nil }); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(t.Context(), key).Val(); n != 0 {
		t.Errorf("%s survived a write through the store", key)
	}
}

func comp0(t *testing.T, c *registry.Cache, co string) *registry.Company {
	t.Helper()
	comp, err := c.Company(t.Context(), co)
	if err != nil {
		t.Fatal(err)
	}
	return comp
}

// TestCacheStaleRedisNotServed: a Redis entry older than the registry (the
// invalidation was lost) is never served once the cache has synced.
func TestCacheStaleRedisNotServed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tier, rdb := redisTier(t, co)
	s := b.store(t, registry.StoreConfig{}) // no Invalidator: Redis goes stale
	w, _ := mustCreate(t, s, newHook(co, "old"), "")

	warm := b.cache(t, registry.CacheConfig{Shared: tier})
	if got := names(syncCompany(t, warm, co)); got[w.ID] != "old" {
		t.Fatalf("fill: %v", got)
	}
	stale, err := rdb.Get(t.Context(), "reg:"+co).Bytes()
	if err != nil {
		t.Fatalf("reg:%s not filled: %v", co, err)
	}

	if _, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error { w.Name = "new"; return nil }); err != nil {
		t.Fatal(err)
	}
	w2, _ := mustCreate(t, s, newHook(co, "added"), "")
	if now, _ := rdb.Get(t.Context(), "reg:"+co).Bytes(); !bytes.Equal(now, stale) {
		t.Fatal("test setup: Redis changed although nothing invalidated it")
	}
	want := map[string]string{w.ID: "new", w2.ID: "added"}

	tests := []struct {
		name  string
		cache *registry.Cache
	}{
		{name: "a fresh cache", cache: b.cache(t, registry.CacheConfig{Shared: tier})},
		{name: "the cache that filled Redis", cache: warm},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Each case starts from the stale entry (a refill replaces it).
			if err := rdb.Set(t.Context(), "reg:"+co, stale, time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			if got := names(syncCompany(t, tc.cache, co)); !maps.Equal(got, want) {
				t.Errorf("served %v, want %v", got, want)
			}
		})
	}
}

// TestCacheRedisServedWhenCurrent: a fresh process resolves from Redis, not
// KV, when the Redis entry is current. The entry is doctored to tell.
func TestCacheRedisServedWhenCurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tier, rdb := redisTier(t, co)
	s := b.store(t, registry.StoreConfig{Invalidator: tier})
	w, _ := mustCreate(t, s, newHook(co, "from-kv"), "")
	syncCompany(t, b.cache(t, registry.CacheConfig{Shared: tier}), co)

	var cp map[string]json.RawMessage
	data, err := rdb.Get(t.Context(), "reg:"+co).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		t.Fatal(err)
	}
	var hooks []map[string]any
	if err := json.Unmarshal(cp["hooks"], &hooks); err != nil || len(hooks) != 1 {
		t.Fatalf("compact form %s: %v", data, err)
	}
	hooks[0]["name"] = "from-redis"
	cp["hooks"], _ = json.Marshal(hooks)
	doctored, _ := json.Marshal(cp)
	if err := rdb.Set(t.Context(), "reg:"+co, doctored, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	fresh := b.cache(t, registry.CacheConfig{Shared: tier})
	if got := names(syncCompany(t, fresh, co))[w.ID]; got != "from-redis" {
		t.Errorf("fresh cache resolved name %q, want the Redis entry's", got)
	}
}

// TestCacheRedisFlushLosesNothing: Redis is a cache only.
func TestCacheRedisFlushLosesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tier, rdb := redisTier(t, co)
	s := b.store(t, registry.StoreConfig{Invalidator: tier})
	want := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		w, _ := mustCreate(t, s, newHook(co, name), "")
		want[w.ID] = name
	}
	syncCompany(t, b.cache(t, registry.CacheConfig{Shared: tier}), co)
	if err := rdb.Del(t.Context(), "reg:"+co).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := b.cache(t, registry.CacheConfig{Shared: tier})
	if got := names(syncCompany(t, fresh, co)); !maps.Equal(got, want) {
		t.Errorf("after DEL: %v, want %v", got, want)
	}
	if n := rdb.Exists(t.Context(), "reg:"+co).Val(); n != 1 {
		t.Error("the key was not refilled")
	}
}

// TestCacheRedisDown: a failing shared tier costs a KV read, not an error.
func TestCacheRedisDown(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	closed := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	_ = closed.Close() // every command now fails at once
	tier := registry.NewRedisTier(closed, "", time.Hour)
	s := b.store(t, registry.StoreConfig{Invalidator: tier})
	w, _ := mustCreate(t, s, newHook(co, "one"), "")
	c := b.cache(t, registry.CacheConfig{Shared: tier})
	if got := names(syncCompany(t, c, co)); !maps.Equal(got, map[string]string{w.ID: "one"}) {
		t.Errorf("with Redis down: %v", got)
	}
}

func TestRedisTier(t *testing.T) {
	t.Parallel()
	co := testenv.ID("co")
	tier, _ := redisTier(t, co)
	ctx := t.Context()
	if _, ok, err := tier.Load(ctx, co); ok || err != nil {
		t.Fatalf("Load of a miss: ok %v, err %v", ok, err)
	}
	if err := tier.Store(ctx, co, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if data, ok, err := tier.Load(ctx, co); !ok || err != nil || string(data) != `{"x":1}` {
		t.Fatalf("Load = %s, %v, %v", data, ok, err)
	}
	if err := tier.Invalidate(ctx, co); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := tier.Load(ctx, co); ok || err != nil {
		t.Fatalf("Load after Invalidate: ok %v, err %v", ok, err)
	}
	if err := tier.Invalidate(ctx, co); err != nil {
		t.Errorf("Invalidate of a missing key: %v", err)
	}
}

// With a prefix (REDIS_KEY_PREFIX), the tier's keys are under it and
// nowhere else.
func TestRedisTierPrefix(t *testing.T) {
	t.Parallel()
	co, prefix := testenv.ID("co"), testenv.RedisPrefix(t, "tier")
	rdb := testenv.Redis(t)
	tier := registry.NewRedisTier(rdb, prefix, time.Hour)
	if err := tier.Store(t.Context(), co, []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if got := rdb.Get(t.Context(), prefix+"reg:"+co).Val(); got != `{"x":1}` {
		t.Errorf("%sreg:%s = %q, want the stored form", prefix, co, got)
	}
	if n := rdb.Exists(t.Context(), "reg:"+co).Val(); n != 0 {
		t.Errorf("reg:%s exists: the prefix was not applied", co)
	}
}

func TestEntrySigner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	c := b.cache(t, registry.CacheConfig{})
	co := testenv.ID("co")
	body := []byte(`{"event":"TODO_CREATED"}`)
	const id, ts = "dlv_1", int64(1700000000)
	tests := []struct {
		name   string
		secret string
	}{
		{name: "generated"},
		{name: "given raw", secret: "customer-chosen-secret-1234"},
		{name: "given whsec", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, secret := mustCreate(t, s, newHook(co, strings.ReplaceAll(tc.name, " ", "-")), tc.secret)
			if err := c.Sync(t.Context()); err != nil {
				t.Fatal(err)
			}
			e, err := c.Webhook(t.Context(), co, w.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := signing.NewSigner([]string{secret})
			got := e.Signer(time.Now())
			if g, w := got.XSignature(body), want.XSignature(body); g != w {
				t.Errorf("X-Signature %s, want %s (keyed with the current secret)", g, w)
			}
			if g, w := got.WebhookSignature(id, ts, body), want.WebhookSignature(id, ts, body); g != w {
				t.Errorf("webhook-signature %s, want %s", g, w)
			}
		})
	}
}

// TestEntrySignerRotation: during a rotation's overlap every active secret
// signs, X-Signature with the old one; afterwards only the current one.
func TestEntrySignerRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	c := b.cache(t, registry.CacheConfig{})
	co := testenv.ID("co")
	const oldSecret, newSecret = "old-secret-0123456789", "new-secret-0123456789"
	w, _ := mustCreate(t, s, newHook(co, "rotating"), oldSecret)
	overlapEnd := time.Now().Add(time.Hour).UTC()
	if _, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error {
		old := w.Secrets[0]
		old.ExpiresAt = &overlapEnd
		w.Secrets = []webhook.Secret{s.SealSecret(newSecret), old}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	e, err := c.Webhook(t.Context(), co, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{}`)
	const id, ts = "dlv_r", int64(1700000000)
	tests := []struct {
		name string
		at   time.Time
		want []string // secrets, current first
		x    string   // X-Signature's secret
	}{
		{name: "during overlap", at: time.Now(), want: []string{newSecret, oldSecret}, x: oldSecret},
		{name: "after overlap", at: overlapEnd.Add(time.Second), want: []string{newSecret}, x: newSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := e.Signer(tc.at)
			want := signing.NewSigner(tc.want)
			if g, w := got.WebhookSignature(id, ts, body), want.WebhookSignature(id, ts, body); g != w {
				t.Errorf("webhook-signature %q, want %q", g, w)
			}
			if n := len(strings.Fields(got.WebhookSignature(id, ts, body))); n != len(tc.want) {
				t.Errorf("%d signatures, want %d", n, len(tc.want))
			}
			if g, w := got.XSignature(body), signing.NewSigner([]string{tc.x}).XSignature(body); g != w {
				t.Errorf("X-Signature not keyed with %s", tc.x)
			}
		})
	}
}

func TestCacheFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.store(t, registry.StoreConfig{})
	co := testenv.ID("co")
	plain, _ := mustCreate(t, s, newHook(co, "plain"), "")
	filtered := newHook(co, "filtered")
	filtered.Filter = `event.projectId == "p1"`
	filtered, _ = mustCreate(t, s, filtered, "")
	broken := newHook(co, "broken")
	broken.Filter = "syntax error ("
	broken, _ = mustCreate(t, s, broken, "")

	filters, err := filter.NewCompiler()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		compile registry.FilterCompiler
		want    []string // ids resolved
	}{
		// Without a compiler a filtered webhook must receive nothing, not
		// everything: it is left out.
		{name: "no compiler", want: []string{plain.ID}},
		{name: "with compiler", compile: filters.Compile, want: []string{plain.ID, filtered.ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := b.cache(t, registry.CacheConfig{CompileFilter: tc.compile})
			comp := syncCompany(t, c, co)
			var got []string
			for _, e := range comp.Hooks {
				got = append(got, e.ID)
				if (e.Filter != nil) != (e.Webhook.Filter != "") {
					t.Errorf("%s: compiled filter %v for expression %q", e.Name, e.Filter, e.Webhook.Filter)
				}
			}
			if !sameSet(got, tc.want) {
				t.Errorf("resolved %v, want %v (a broken filter is left out)", got, tc.want)
			}
			if comp.Webhook(broken.ID) != nil {
				t.Error("the webhook whose filter does not compile was resolved")
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestCacheConcurrentReaders: many goroutines resolving while a writer
// writes; run under -race.
func TestCacheConcurrentReaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tier, _ := redisTier(t, co)
	s := b.store(t, registry.StoreConfig{Invalidator: tier})
	c := b.cache(t, registry.CacheConfig{Shared: tier})
	w, _ := mustCreate(t, s, newHook(co, "v0"), "")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Company(t.Context(), co); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 10 {
		if _, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error { w.Name = strings.Repeat("v", i+1); return nil }); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Company: %v", err)
	}
	if got := names(syncCompany(t, c, co))[w.ID]; got != strings.Repeat("v", 10) {
		t.Errorf("final name %q", got)
	}
}

// A webhook's caps reach the deliverers' entries through KV and through the
// Redis tier (what another process reads), and clearing them is seen too.
func TestCacheCarriesCaps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	co := testenv.ID("co")
	tier, _ := redisTier(t, co)
	s := b.store(t, registry.StoreConfig{Invalidator: tier})
	w := newHook(co, "capped")
	w.RateLimit, w.MaxConcurrency = 2.5, 3
	w, _ = mustCreate(t, s, w, "")
	caps := func(c *registry.Cache) (float64, int) {
		t.Helper()
		e := syncCompany(t, c, co).Webhook(w.ID)
		if e == nil {
			t.Fatalf("%s not resolved", w.ID)
		}
		return e.RateLimit, e.MaxConcurrency
	}
	if rate, conc := caps(b.cache(t, registry.CacheConfig{Shared: tier})); rate != 2.5 || conc != 3 {
		t.Errorf("from KV: caps %v %d, want 2.5 3", rate, conc)
	}
	// The first cache filled Redis; a fresh one resolves from there.
	c := b.cache(t, registry.CacheConfig{Shared: tier})
	if rate, conc := caps(c); rate != 2.5 || conc != 3 {
		t.Errorf("from Redis: caps %v %d, want 2.5 3", rate, conc)
	}
	if _, err := s.Update(t.Context(), co, w.ID, func(w *webhook.Webhook) error { w.RateLimit, w.MaxConcurrency = 0, 0; return nil }); err != nil {
		t.Fatal(err)
	}
	if rate, conc := caps(c); rate != 0 || conc != 0 {
		t.Errorf("after clearing: caps %v %d, want unset", rate, conc)
	}
}
