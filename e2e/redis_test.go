package e2e

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bluehq/webhooks/internal/testenv"
)

// Every key webhookd writes to Redis, the registry cache's and the
// deliverer's state, is under its REDIS_KEY_PREFIX.
func TestRedisKeysStayUnderThePrefix(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	startRedisServer(t, addr)
	c, company, p := startWebhookd(t, "REDIS_URL=redis://"+addr, "REDIS_KEY_PREFIX=pfx:")
	logOnFailure(t, p)
	rc := newReceiver(t)
	c.createHook(t, c.apiToken, company, map[string]any{"name": "prefixed", "url": rc.srv.URL + "/prefixed"})
	c.publish(t, makeEvents(t, 1, []string{company}, []string{"p1"}))
	testenv.Eventually(t, 20*time.Second, func() bool { return len(arrivals(rc, "/prefixed")) == 1 }, "the event was not delivered")

	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	var keys []string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("keys in Redis: %q", keys)
		}
	})
	testenv.Eventually(t, 10*time.Second, func() bool {
		keys = rdb.Keys(t.Context(), "*").Val()
		var reg, state bool
		for _, k := range keys {
			reg = reg || strings.HasPrefix(k, "pfx:reg:")
			state = state || strings.HasPrefix(k, "pfx:wh:")
		}
		return reg && state
	}, "no registry (pfx:reg:) and delivery state (pfx:wh:) keys in Redis")
	for _, k := range keys {
		if !strings.HasPrefix(k, "pfx:") {
			t.Errorf("key %q is not under REDIS_KEY_PREFIX pfx:", k)
		}
	}
}

// logOnFailure logs the output of p if the test fails.
func logOnFailure(t *testing.T, p *proc) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s said:\n%s", p.name, tail(p.output(t), 4000))
		}
	})
}

// startRedisServer runs a redis-server of the test's own on addr, storing
// nothing on disk, so that the test can stop it.
func startRedisServer(t *testing.T, addr string) *proc {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis): %v", err)
	}
	host, port, _ := net.SplitHostPort(addr)
	p := start(t, "redis-server", bin, nil, "--port", port, "--bind", host, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	waitListening(t, addr)
	return p
}
