package e2e

import (
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
}

// startStack starts everything; extra are environment overrides
// ("NAME=value") for every role.
func startStack(t *testing.T, redisURL string, extra ...string) *stack {
	s := &stack{t: t, natsAddr: freeAddr(t), storeDir: t.TempDir(), company: testenv.ID("co"), token: testenv.ID("tok"), procs: map[string]*proc{}}
	s.nats = startNATSServer(t, s.storeDir, s.natsAddr)
	s.env = append([]string{
		"NATS_URL=nats://" + s.natsAddr,
		"REDIS_URL=" + redisURL,
		"WEBHOOKS_API_TOKENS=" + s.token + "=" + s.company,
		"WEBHOOKS_INGEST_TOKENS=ingest-token",
		"WEBHOOKS_SECRET_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"DELIVERY_ALLOWED_CIDRS=127.0.0.0/8",
		"DELIVERY_RETRY_SCHEDULE=1s,1s,1s",
		"LOG_LEVEL=debug",
	}, extra...)
	apiAddr, pubAddr := freeAddr(t), freeAddr(t)
	s.procs["api"] = start(t, "api", "api", append(s.env, "API_ADDR="+apiAddr))
	s.procs["publisher"] = start(t, "publisher", "publisher", append(s.env, "PUBLISHER_ADDR="+pubAddr))
	s.procs["dispatcher"] = start(t, "dispatcher", "dispatcher", s.env)
	s.procs["deliverer-1"] = start(t, "deliverer-1", "deliverer", s.env)
	s.procs["deliverer-2"] = start(t, "deliverer-2", "deliverer", s.env)
	waitHTTP(t, "http://"+apiAddr+"/readyz")
	waitHTTP(t, "http://"+pubAddr+"/readyz")
	s.c = client{apiURL: "http://" + apiAddr, ingestURL: "http://" + pubAddr, apiToken: s.token, ingestToken: "ingest-token"}
	return s
}

// restart starts a role again after it was stopped.
func (s *stack) restart(name, bin string) {
	s.procs[name] = start(s.t, name+"-again", bin, s.env)
}

// kill ends a role at once (SIGKILL): no clean-up, no acks.
func (s *stack) kill(name string) { s.procs[name].stop(s.t, syscall.SIGKILL) }

// restartNATS kills the nats-server and starts it again on the same port
// and storage.
func (s *stack) restartNATS() {
	s.nats.stop(s.t, syscall.SIGKILL)
	s.nats = startNATSServer(s.t, s.storeDir, s.natsAddr)
}
