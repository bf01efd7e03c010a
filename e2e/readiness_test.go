package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluehq/webhooks/internal/testenv"
)

// /readyz says not ready while Redis is unreachable, and ready again once
// it is back; what go-redis logs meanwhile is JSON like every other line.
func TestReadyzFollowsRedis(t *testing.T) {
	t.Parallel()
	redisAddr := freeAddr(t)
	rds := startRedisServer(t, redisAddr)
	apiAddr := freeAddr(t)
	p := start(t, "webhookd", "webhookd", []string{"DATA_DIR=" + t.TempDir(), "NATS_URL=", "REDIS_URL=redis://" + redisAddr,
		"API_ADDR=" + apiAddr, "PUBLISHER_ADDR=" + freeAddr(t)})
	logOnFailure(t, p)
	ready := "http://" + apiAddr + "/readyz"
	p.waitReady(t, ready)

	rds.stop(t, syscall.SIGKILL)
	var body string
	testenv.Eventually(t, 20*time.Second, func() bool {
		var code int
		code, body = getBody(t, ready)
		return code == http.StatusServiceUnavailable
	}, "/readyz still ready with Redis gone")
	if !strings.HasPrefix(body, "redis: ") {
		t.Errorf("/readyz said %q, want it to name Redis", body)
	}
	testenv.Eventually(t, 20*time.Second, func() bool { return strings.Contains(p.output(t), `"component":"go-redis"`) },
		"no line from go-redis with Redis gone")

	startRedisServer(t, redisAddr)
	testenv.Eventually(t, 20*time.Second, func() bool { code, _ := getBody(t, ready); return code == http.StatusOK },
		"/readyz not ready again with Redis back")

	for _, line := range strings.Split(strings.TrimSpace(p.output(t)), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("a log line that is not JSON: %q", line)
		}
	}
}

func getBody(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
