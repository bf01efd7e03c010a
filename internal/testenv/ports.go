package testenv

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// Ports handed to processes that bind them later come from below Linux's
// ephemeral range (32768-60999 by default). A port the kernel picks for
// ":0" is in that range, and once the probe closes it any outgoing
// connection on the machine may take it before the process binds it; a
// busy test run makes thousands of those.
const (
	portLow  = 10000
	portHigh = 32000
)

var handed = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a loopback port that was free a moment ago and that no
// earlier call in this process returned, for a server started afterwards
// (a child process, or a nats-server that restarts on the same port).
func FreePort(t testing.TB) int {
	t.Helper()
	handed.Lock()
	defer handed.Unlock()
	for range 200 {
		p := portLow + rand.IntN(portHigh-portLow)
		if handed.ports[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		handed.ports[p] = true
		return p
	}
	t.Fatalf("testenv: no free port in %d-%d after 200 tries", portLow, portHigh)
	return 0
}

// FreeAddr is FreePort as a "127.0.0.1:port" address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
