package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bluehq/webhooks/internal/testenv"
)

// cluster is a JetStream cluster of pinned nats-server processes on
// loopback, each with storage, client, route and monitoring ports of its
// own.
type cluster struct {
	t     *testing.T
	name  string
	nodes []*node
	nc    *nats.Conn // the test's own connection, for leaders and stepdowns
	js    jetstream.JetStream
}

// node is one nats-server of a cluster.
type node struct {
	name                       string
	addr, routeAddr, monitAddr string
	storeDir                   string
	p                          *proc
}

// startCluster starts n nodes routed to each other and waits until every
// one reports JetStream healthy.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := &cluster{t: t, name: testenv.ID("c")}
	for i := range n {
		c.nodes = append(c.nodes, &node{
			name: fmt.Sprintf("n%d", i+1), addr: freeAddr(t), routeAddr: freeAddr(t), monitAddr: freeAddr(t), storeDir: t.TempDir(),
		})
	}
	for _, nd := range c.nodes {
		c.startNode(nd)
	}
	for _, nd := range c.nodes {
		c.waitHealthy(nd)
	}
	nc, err := nats.Connect(c.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) startNode(nd *node) {
	var routes []string
	for _, o := range c.nodes {
		routes = append(routes, "nats://"+o.routeAddr)
	}
	host, port, _ := net.SplitHostPort(nd.addr)
	_, mport, _ := net.SplitHostPort(nd.monitAddr)
	// Lame-duck mode (SIGUSR2) closes the clients over 30 s (the least the
	// server takes) instead of the default 2 minutes.
	conf := filepath.Join(c.t.TempDir(), nd.name+".conf")
	if err := os.WriteFile(conf, []byte("lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"1s\"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	nd.p = start(c.t, nd.name, "nats-server", nil, "-c", conf,
		"-js", "-sd", nd.storeDir, "-a", host, "-p", port, "-m", mport,
		"--server_name", nd.name, "--cluster_name", c.name,
		"--cluster", "nats://"+nd.routeAddr, "--routes", strings.Join(routes, ","))
}

// waitHealthy waits until the node's /healthz says JetStream is current
// (its meta leader known, its streams and consumers caught up).
func (c *cluster) waitHealthy(nd *node) {
	c.t.Helper()
	testenv.Eventually(c.t, 60*time.Second, func() bool {
		resp, err := http.Get("http://" + nd.monitAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, "nats-server %s not healthy", nd.name)
}

// urls is the client URL list of every node, for NATS_URL.
func (c *cluster) urls() string {
	var u []string
	for _, nd := range c.nodes {
		u = append(u, "nats://"+nd.addr)
	}
	return strings.Join(u, ",")
}

func (c *cluster) node(name string) *node {
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

// stop ends a node with sig (SIGKILL: a crash; SIGTERM: a planned stop,
// which hands its leaderships over first; SIGUSR2: lame-duck mode, which
// hands them over, then closes its clients and stops).
func (c *cluster) stop(name string, sig syscall.Signal) { c.node(name).p.stop(c.t, sig) }

// restart starts a stopped node again on its storage and ports.
func (c *cluster) restart(name string) {
	nd := c.node(name)
	c.startNode(nd)
	c.waitHealthy(nd)
}

// leaders maps each stream and consumer of the topology
// ("EVENTS", "DELIVERIES/deliver-3", "KV_webhooks") to the node leading it.
func (c *cluster) leaders() map[string]string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]string{}
	names := c.js.StreamNames(ctx)
	for name := range names.Name() {
		s, err := c.js.Stream(ctx, name)
		if err != nil {
			continue
		}
		if info, err := s.Info(ctx); err == nil && info.Cluster != nil {
			out[name] = info.Cluster.Leader
		}
		cons := s.ListConsumers(ctx)
		for ci := range cons.Info() {
			if ci.Cluster != nil && ci.Config.Durable != "" { // not the registry watches
				out[name+"/"+ci.Name] = ci.Cluster.Leader
			}
		}
	}
	return out
}

// led returns the assets a node leads.
func (c *cluster) led(name string) []string {
	var out []string
	for asset, leader := range c.leaders() {
		if leader == name {
			out = append(out, asset)
		}
	}
	return out
}

// moveLeadersOff steps down every stream (and, unless streamsOnly,
// consumer) a node leads, in favour of node to, and waits until it leads
// none of them.
func (c *cluster) moveLeadersOff(name, to string, streamsOnly bool) {
	c.t.Helper()
	testenv.Eventually(c.t, 60*time.Second, func() bool {
		var moving []string
		for _, a := range c.led(name) {
			if !streamsOnly || !strings.Contains(a, "/") {
				moving = append(moving, a)
			}
		}
		for _, a := range moving {
			c.stepDown(a, to)
		}
		return len(moving) == 0
	}, "%s still leads streams or consumers", name)
}

// stepDown asks the leader of asset ("STREAM" or "STREAM/consumer") to
// hand its leadership to node to.
func (c *cluster) stepDown(asset, to string) {
	body, _ := json.Marshal(map[string]any{"placement": map[string]string{"preferred": to}})
	subj := "$JS.API.STREAM.LEADER.STEPDOWN." + asset
	if stream, cons, ok := strings.Cut(asset, "/"); ok {
		subj = "$JS.API.CONSUMER.LEADER.STEPDOWN." + stream + "." + cons
	}
	_, _ = c.nc.Request(subj, body, 2*time.Second)
}

// moveLeadersTo makes node to the leader of asset, and waits until it is.
func (c *cluster) moveLeadersTo(asset, to string) {
	c.t.Helper()
	testenv.Eventually(c.t, 60*time.Second, func() bool {
		if c.leaders()[asset] == to {
			return true
		}
		c.stepDown(asset, to)
		return false
	}, "%s did not move to %s", asset, to)
}

// other returns a node that is none of not.
func (c *cluster) other(not ...string) string {
	for _, nd := range c.nodes {
		if !slices.Contains(not, nd.name) {
			return nd.name
		}
	}
	c.t.Fatalf("no node other than %v", not)
	return ""
}
