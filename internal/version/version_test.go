package version

import (
	"runtime/debug"
	"testing"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	main := debug.Module{Path: "github.com/bluehq/webhooks", Version: "v1.2.3"}
	tests := []struct {
		name     string
		settings []debug.BuildSetting
		want     string
	}{
		{name: "no vcs", want: "github.com/bluehq/webhooks v1.2.3 go1.26.8"},
		{name: "clean checkout", settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-27T10:00:00Z"}, {Key: "vcs.modified", Value: "false"},
		}, want: "github.com/bluehq/webhooks v1.2.3 revision abc123 (2026-11-27T10:00:00Z) go1.26.8"},
		{name: "modified checkout", settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"},
		}, want: "github.com/bluehq/webhooks v1.2.3 revision abc123 with uncommitted changes go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := describe(&debug.BuildInfo{GoVersion: "go1.26.8", Main: main, Settings: tt.settings})
			if got != tt.want {
				t.Errorf("describe = %q, want %q", got, tt.want)
			}
		})
	}
}
