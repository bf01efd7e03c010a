package delivery

import (
	"context"
	"log/slog"
)

// jobLog is a logger bound to one job whose attributes are only formatted
// when a line is actually written: slog.Logger.With formats them at once,
// which costs every delivery even when its level is off.
type jobLog struct {
	base  *slog.Logger
	attrs []any
}

func (l *jobLog) With(args ...any) *jobLog {
	return &jobLog{base: l.base, attrs: append(l.attrs[:len(l.attrs):len(l.attrs)], args...)}
}

func (l *jobLog) log(ctx context.Context, level slog.Level, msg string, args ...any) {
	if !l.base.Enabled(ctx, level) {
		return
	}
	l.base.Log(ctx, level, msg, append(l.attrs[:len(l.attrs):len(l.attrs)], args...)...)
}

func (l *jobLog) Debug(msg string, args ...any) {
	l.log(context.Background(), slog.LevelDebug, msg, args...)
}
func (l *jobLog) Info(msg string, args ...any) {
	l.log(context.Background(), slog.LevelInfo, msg, args...)
}
func (l *jobLog) Warn(msg string, args ...any) {
	l.log(context.Background(), slog.LevelWarn, msg, args...)
}
func (l *jobLog) Error(msg string, args ...any) {
	l.log(context.Background(), slog.LevelError, msg, args...)
}
func (l *jobLog) InfoContext(ctx context.Context, msg string, args ...any) {
	l.log(ctx, slog.LevelInfo, msg, args...)
}
func (l *jobLog) WarnContext(ctx context.Context, msg string, args ...any) {
	l.log(ctx, slog.LevelWarn, msg, args...)
}
