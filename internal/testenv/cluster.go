package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Cluster is a JetStream cluster of real nats-servers in this process
// (n1, n2, ...), on loopback ports, each with its own store in a temporary
// directory. It stops when the test ends.
type Cluster struct {
	t     testing.TB
	opts  []server.Options
	nodes []*server.Server // nil while a node is shut down
}

// StartCluster starts an n-node cluster and returns once it can create a
// stream with n replicas.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	// JetStream needs routes configured from the start, so the route ports
	// are picked first: free a moment ago.
	for i, port := range freePorts(t, n) {
		c.opts = append(c.opts, server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "testenv", Host: "127.0.0.1", Port: port},
			NoLog:      true,
			NoSigs:     true,
		})
		c.nodes = append(c.nodes, nil)
	}
	// After the t.TempDir calls: cleanups run last first.
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Shutdown(i)
		}
	})
	for i := range n {
		c.Restart(i)
	}
	_, js := c.Connect(t)
	probe := jetstream.StreamConfig{Name: "TESTENV_PROBE", Subjects: []string{"testenv.probe"}, Storage: jetstream.MemoryStorage, Replicas: n}
	// Polls until the meta leader is elected and every node is a peer. The
	// probe stays: deleting an account's last stream makes each node remove
	// the account's then-empty store directories a moment later, which
	// races the creation of the test's first file stream ("error creating
	// store for stream").
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.CreateStream(ctx, probe)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: the %d-node cluster could not create an R%d stream within 60s: %v", n, n, err)
		}
		<-tick.C
	}
	return c
}

// URLs is the client URL of every node, comma-separated (for NATS_URL).
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.opts))
	for i, o := range c.opts {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", o.Port)
	}
	return strings.Join(urls, ",")
}

// Connect returns a client connected to the cluster, closed when the test
// ends.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("testenv: connect to the cluster: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return nc, js
}

// Shutdown stops node i (0-based) and waits for it; its store stays for a
// Restart.
func (c *Cluster) Shutdown(i int) {
	if srv := c.nodes[i]; srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		c.nodes[i] = nil
	}
}

// Restart starts node i again, on its ports and store, with routes to
// every other node.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	o := c.opts[i]
	o.Routes = nil
	for j, other := range c.opts {
		if j != i {
			o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", other.Cluster.Port)})
		}
	}
	srv, err := server.NewServer(&o)
	if err != nil {
		c.t.Fatalf("testenv: nats-server %s: %v", o.ServerName, err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		c.t.Fatalf("testenv: nats-server %s not ready after 30s", o.ServerName)
	}
	// Later restarts keep the client port the first start was given.
	c.opts[i].Port = srv.Addr().(*net.TCPAddr).Port
	c.nodes[i] = srv
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = FreePort(t)
	}
	return ports
}
