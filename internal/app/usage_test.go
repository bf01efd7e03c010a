package app

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// ConfigVars comes from running the loader, so the help cannot leave out
// a variable the loader reads.
func TestConfigVarsAreWhatLoadConfigReads(t *testing.T) {
	t.Parallel()
	vars := ConfigVars()
	read := map[string]bool{}
	_, _ = LoadConfig(func(name string) string { read[name] = true; return "" })
	if len(vars) != len(read) {
		t.Errorf("ConfigVars has %d names, LoadConfig read %d", len(vars), len(read))
	}
	for _, v := range vars {
		if !read[v] {
			t.Errorf("ConfigVars lists %s, which LoadConfig does not read", v)
		}
	}
	for _, v := range []string{"NATS_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "LOG_LEVEL", "DATA_DIR"} {
		if !read[v] {
			t.Errorf("LoadConfig did not read %s", v)
		}
	}
	usage := Command{Name: "dispatcher", Roles: Roles{Dispatcher: true}}.usage()
	for _, v := range vars {
		if !strings.Contains(usage, v) {
			t.Errorf("the help does not list %s:\n%s", v, usage)
		}
	}
}

// The README's configuration table documents every variable the loader
// reads.
func TestReadmeDocumentsEveryConfigVar(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range ConfigVars() {
		if !bytes.Contains(readme, []byte("| `"+v+"`")) {
			t.Errorf("README.md has no configuration row for %s", v)
		}
	}
}

// The README's layout names every directory of commands and packages, and
// the end-to-end tests, one line each.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	dirs := []string{"e2e"}
	for _, parent := range []string{"cmd", "pkg", "internal"} {
		entries, err := os.ReadDir("../../" + parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, parent+"/"+e.Name())
			}
		}
	}
	for _, d := range dirs {
		if !strings.Contains(layout, "\n| `"+d+"` | ") {
			t.Errorf("the README's layout has no line for %s", d)
		}
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	publisher := Command{Name: "publisher", Roles: Roles{Publisher: true}, Subcommands: []Subcommand{{Name: "send", Summary: "publish a file"}}}
	webhookd := Command{Name: "webhookd", Roles: All}
	tests := []struct {
		name       string
		cmd        Command
		args       []string
		run        bool // the binary goes on to run its roles
		code       int
		stdout     []string
		stderr     []string
		noneOutput bool
	}{
		{name: "no arguments runs", cmd: webhookd, run: true, noneOutput: true},
		{name: "-h", cmd: webhookd, args: []string{"-h"}, stdout: []string{"usage: webhookd [-h | --help | --version]", "every role", "DATA_DIR", "LOG_LEVEL", "OTEL_*"}},
		{name: "--help", cmd: webhookd, args: []string{"--help"}, stdout: []string{"usage: webhookd"}},
		{name: "-help", cmd: webhookd, args: []string{"-help"}, stdout: []string{"usage: webhookd"}},
		{name: "--version", cmd: webhookd, args: []string{"--version"}, stdout: []string{"webhookd "}},
		{name: "subcommands in the help", cmd: publisher, args: []string{"-h"}, stdout: []string{"publisher send [flags] ...", "publish a file", "publisher send -h", "needs NATS_URL"}},
		{name: "unknown flag", cmd: webhookd, args: []string{"--verbose"}, code: 2, stderr: []string{"webhookd: flag provided but not defined: -verbose", "run webhookd -h for usage"}},
		{name: "an argument", cmd: webhookd, args: []string{"start"}, code: 2, stderr: []string{`webhookd: unexpected argument "start"`, "run webhookd -h"}},
		{name: "an argument to a binary with subcommands", cmd: publisher, args: []string{"sned"}, code: 2, stderr: []string{`unexpected argument "sned"`, "subcommand: send"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			code, done := tt.cmd.parseArgs(tt.args, &stdout, &stderr)
			if done == tt.run || (done && code != tt.code) {
				t.Fatalf("parseArgs(%q) = %d, done %v; want %d, run %v", tt.args, code, done, tt.code, tt.run)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if tt.noneOutput && stdout.Len()+stderr.Len() > 0 {
				t.Errorf("output %q %q, want none", stdout.String(), stderr.String())
			}
			if tt.code == 2 && stdout.Len() > 0 {
				t.Errorf("an error printed on stdout: %q", stdout.String())
			}
		})
	}
}
