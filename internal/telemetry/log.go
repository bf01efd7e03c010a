package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// NewLogHandler wraps h so that every record logged with a context that
// holds a valid span (log.InfoContext(ctx, ...)) gets trace_id and span_id
// attributes. They land where h puts record attributes: inside the group
// if the logger has one open (logger.WithGroup), at the top level otherwise.
func NewLogHandler(h slog.Handler) slog.Handler {
	return logHandler{inner: h}
}

type logHandler struct{ inner slog.Handler }

func (h logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		// Clone: another handler may hold a copy of r sharing its storage.
		r = r.Clone()
		r.AddAttrs(
			slog.String("trace_id", sc.TraceID().String()),
			slog.String("span_id", sc.SpanID().String()),
		)
	}
	return h.inner.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{inner: h.inner.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{inner: h.inner.WithGroup(name)}
}

// Levels are the log levels ParseLevel accepts, lowest first.
var Levels = []string{"debug", "info", "warn", "error"}

// ParseLevel reads a log level, one of Levels in any case; "" is info.
// Anything else is an error listing the accepted values, so that a typo
// ("verbose", "warning") is refused rather than silently read as info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not a log level: use one of %s", s, strings.Join(Levels, ", "))
}

// RedisLogger carries the lines go-redis prints itself (a dial that
// failed, a connection dropped) to a slog.Logger, at warn level with
// component=go-redis, instead of go-redis's own plain-text lines on
// stderr. Install it with redis.SetLogger; it is process-wide.
type RedisLogger struct{ log *slog.Logger }

// NewRedisLogger returns the adapter for log.
func NewRedisLogger(log *slog.Logger) RedisLogger { return RedisLogger{log: log} }

// Printf is go-redis's logging interface.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
