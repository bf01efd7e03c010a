package delivery

import (
	"context"
	"log/slog"

	"github.com/bluehq/webhooks/internal/job"
)

// jobLog is a logger bound to one job whose attributes are only built when
// a line is actually written: slog.Logger.With formats them at once, and
// even boxing them into []any cost every delivery allocations while the
// level is off.
type jobLog struct {
	base *slog.Logger
	j    *job.Job
	out  *outcome // set once the attempt is made
}

func (l *jobLog) attrs(args []any) []any {
	j := l.j
	a := make([]any, 0, 16+len(args))
	a = append(a, "delivery_id", j.DeliveryID, "webhook_id", j.WebhookID, "event_id", j.EventID, "event_type", j.EventType, "attempt", j.Attempt)
	if o := l.out; o != nil {
		a = append(a, "status", o.status, "latency_ms", o.latency.Milliseconds(), "error_class", o.class)
	}
	return append(a, args...)
}

func (l *jobLog) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if !l.base.Enabled(ctx, level) {
		return
	}
	l.base.Log(ctx, level, msg, l.attrs(args)...)
}

// The methods take the job's context, from which the log handler takes
// the trace id of the line (see telemetry.NewLogHandler).

func (l *jobLog) DebugContext(ctx context.Context, msg string, args ...any) {
	l.log(ctx, slog.LevelDebug, msg, args...)
}
func (l *jobLog) InfoContext(ctx context.Context, msg string, args ...any) {
	l.log(ctx, slog.LevelInfo, msg, args...)
}
func (l *jobLog) WarnContext(ctx context.Context, msg string, args ...any) {
	l.log(ctx, slog.LevelWarn, msg, args...)
}
func (l *jobLog) ErrorContext(ctx context.Context, msg string, args ...any) {
	l.log(ctx, slog.LevelError, msg, args...)
}
