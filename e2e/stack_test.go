package e2e

import (
	"strings"
	"syscall"
	"testing"

	"github.com/bluehq/webhooks/internal/testenv"
)

// stack is the split deployment: a nats-server process, the API, the
// publisher, a dispatcher and two deliverers, sharing Redis.
type stack struct {
	t        *testing.T
	natsAddr string
	storeDir string
	nats     *proc
	env      []string
	company  string
	token    string
	c        client
	procs    map[string]*proc
	ready    map[string]string // each role's /readyz (its /metrics beside it)

	// redisPrefix is the REDIS_KEY_PREFIX of every role: the keys the
	// stack writes, deleted when the test ends.
	redisPrefix string
}

// startStack starts everything, on a nats-server of its own; extra are
// environment overrides ("NAME=value") for every role.
func startStack(t *testing.T, redisURL string, extra ...string) *stack {
	natsAddr, storeDir := freeAddr(t), t.TempDir()
	natsProc := startNATSServer(t, storeDir, natsAddr)
	s := startRoles(t, "nats://"+natsAddr, redisURL, extra...)
	s.natsAddr, s.storeDir, s.nats = natsAddr, storeDir, natsProc
	return s
}

// startRoles starts the roles on the NATS servers at natsURL (a
// comma-separated list for a cluster).
func startRoles(t *testing.T, natsURL, redisURL string, extra ...string) *stack {
	s := &stack{t: t, company: testenv.ID("co"), token: testenv.ID("tok"), procs: map[string]*proc{}, ready: map[string]string{}}
	s.env = append([]string{
		"NATS_URL=" + natsURL,
		"REDIS_URL=" + redisURL,
		"REDIS_KEY_PREFIX=" + s.keyPrefix(redisURL),
		"WEBHOOKS_API_TOKENS=" + s.token + "=" + s.company,
		"WEBHOOKS_INGEST_TOKENS=ingest-token",
		"WEBHOOKS_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
		"DELIVERY_RETRY_SCHEDULE=1s,1s,1s",
		"LOG_LEVEL=debug",
	}, extra...)
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	ready := map[string]string{
		"api":       s.launch("api", "api", "API_ADDR="+apiAddr),
		"publisher": s.launch("publisher", "publisher", "PUBLISHER_ADDR="+pubAddr),
	}
	for _, r := range []struct{ name, bin string }{{"dispatcher", "dispatcher"}, {"deliverer-1", "deliverer"}, {"deliverer-2", "deliverer"}} {
		ready[r.name] = s.launch(r.name, r.bin)
	}
	for name, url := range ready {
		s.procs[name].waitReady(t, url)
	}
	s.c = client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr, apiToken: s.token, ingestToken: "ingest-token"}
	return s
}

// keyPrefix is the stack's REDIS_KEY_PREFIX: one of its own, its keys
// deleted when the test ends, when the stack uses the tests' Redis.
func (s *stack) keyPrefix(redisURL string) string {
	if redisURL == testenv.RedisURL() {
		s.redisPrefix = testenv.RedisPrefix(s.t, "e2e")
	}
	return s.redisPrefix
}

// launch starts one role as name, with an address of its own for its
// /readyz (extra names it for api and publisher), and returns that URL.
func (s *stack) launch(name, bin string, extra ...string) string {
	addr := freeAddr(s.t)
	env := append(append([]string{}, s.env...), "OPS_ADDR="+addr)
	for _, e := range extra {
		if v, ok := strings.CutPrefix(e, "API_ADDR="); ok {
			addr = v
		} else if v, ok := strings.CutPrefix(e, "PUBLISHER_ADDR="); ok {
			addr = v
		}
	}
	s.procs[name] = start(s.t, name, bin, append(env, extra...))
	s.ready[name] = "http://" + addr + "/readyz"
	return s.ready[name]
}

// metrics is the /metrics URL of a role.
func (s *stack) metrics(name string) string {
	return strings.TrimSuffix(s.ready[name], "/readyz") + "/metrics"
}

// restart starts a role (dispatcher or deliverer) again after it was
// stopped, or one more of it, and waits until it is ready.
func (s *stack) restart(name, bin string) {
	url := s.launch(name, bin)
	s.procs[name].waitReady(s.t, url)
}

// kill ends a role at once (SIGKILL): no clean-up, no acks.
func (s *stack) kill(name string) { s.procs[name].stop(s.t, syscall.SIGKILL) }

// restartNATS kills the nats-server and starts it again on the same port
// and storage.
func (s *stack) restartNATS() {
	s.nats.stop(s.t, syscall.SIGKILL)
	s.nats = startNATSServer(s.t, s.storeDir, s.natsAddr)
}
