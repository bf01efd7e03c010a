package app

import (
	"context"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
)

// readyTimeout bounds the Redis PING of one /readyz.
const readyTimeout = time.Second

// readiness is /readyz: 200 while the NATS connection is up and, with
// REDIS_URL, Redis answers a PING within readyTimeout; else 503 naming what
// is down. Without Redis the process goes on (caps and breaker are not
// enforced, the registry reads KV), but it is not ready: a balancer should
// send its traffic elsewhere until Redis is back.
func readiness(nc *nats.Conn, rdb *redis.Client) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s := nc.Status(); s != nats.CONNECTED {
			http.Error(w, "nats: "+s.String(), http.StatusServiceUnavailable)
			return
		}
		if rdb != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := rdb.Ping(ctx).Err(); err != nil {
				http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	}
}
