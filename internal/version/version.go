// Package version tells which build a binary is, from what the Go toolchain
// stamped into it (runtime/debug.ReadBuildInfo): the module version and the
// VCS revision it was built from.
package version

import (
	"runtime/debug"
	"strings"
)

// String is the one line a binary prints for --version: its name, the
// module path and version, the VCS revision, commit time and whether the
// tree had uncommitted changes (when built from a checkout), and the Go
// version.
func String(command string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return command + " (no build information: built without module support)"
	}
	return command + " " + describe(bi)
}

func describe(bi *debug.BuildInfo) string {
	var b strings.Builder
	b.WriteString(bi.Main.Path)
	if bi.Main.Version != "" {
		b.WriteString(" " + bi.Main.Version)
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	if rev := vcs["vcs.revision"]; rev != "" {
		b.WriteString(" revision " + rev)
		if at := vcs["vcs.time"]; at != "" {
			b.WriteString(" (" + at + ")")
		}
		if vcs["vcs.modified"] == "true" {
			b.WriteString(" with uncommitted changes")
		}
	}
	b.WriteString(" " + bi.GoVersion)
	return b.String()
}
