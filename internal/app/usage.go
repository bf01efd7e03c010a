package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/bluehq/webhooks/internal/version"
)

// parseArgs handles what a person may type after a role binary's name:
// -h / --help prints the usage, --version the build, both on stdout with
// exit 0; anything else is refused with exit 2. done is false when the
// binary should run.
func (c Command) parseArgs(args []string, stdout, stderr io.Writer) (code int, done bool) {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the messages below say it better
	showVersion := fs.Bool("version", false, "print the version and exit")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, c.usage())
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v\nrun %s -h for usage\n", c.Name, err, c.Name)
		return 2, true
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "%s: unexpected argument %q: it takes no arguments, only environment variables%s\nrun %s -h for usage\n",
			c.Name, fs.Arg(0), c.subcommandHint(), c.Name)
		return 2, true
	case *showVersion:
		fmt.Fprintln(stdout, version.String(c.Name))
		return 0, true
	}
	return 0, false
}

func (c Command) subcommandHint() string {
	if len(c.Subcommands) == 0 {
		return ""
	}
	names := make([]string, len(c.Subcommands))
	for i, s := range c.Subcommands {
		names[i] = s.Name
	}
	return " (or a subcommand: " + strings.Join(names, ", ") + ")"
}

// usage is the -h text: how to call the binary, what it does, and every
// environment variable it reads, listed by ConfigVars.
func (c Command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s [-h | --help | --version]\n", c.Name)
	for _, s := range c.Subcommands {
		fmt.Fprintf(&b, "       %s %s [flags] ...   %s (%s %s -h for its flags)\n", c.Name, s.Name, s.Summary, c.Name, s.Name)
	}
	what := "a role"
	if c.Roles == All {
		what = "every role"
	}
	fmt.Fprintf(&b, "\n%s runs %s of the Blue webhook platform until SIGINT or SIGTERM:\n", c.Name, what)
	for _, line := range c.Roles.describe() {
		b.WriteString("  - " + line + "\n")
	}
	if c.Roles == All {
		b.WriteString("in one process, on an embedded nats-server storing under DATA_DIR unless NATS_URL\nis set, with in-process state unless REDIS_URL is set.\n")
	} else {
		b.WriteString("It needs NATS_URL (nats-server 2.12 or newer with JetStream); run as many copies\nas you like.\n")
	}
	b.WriteString("\n-h, --help prints this help, --version the version and build.\n")
	b.WriteString("\nConfigured by these environment variables (defaults and meanings: README.md,\n\"Configuration\"):\n")
	b.WriteString(EnvironmentHelp())
	return b.String()
}

// EnvironmentHelp lists, for a usage text, the environment variables a
// process running roles reads: ConfigVars and the OTEL_* ones.
func EnvironmentHelp() string {
	return wrap(ConfigVars(), 78, "  ") +
		"and the standard OpenTelemetry OTEL_* variables (tracing is off unless\nOTEL_EXPORTER_OTLP_ENDPOINT is set).\n"
}

// describe is a line per role in r.
func (r Roles) describe() []string {
	var lines []string
	if r.Publisher {
		lines = append(lines, "ingest: POST /v1/events on PUBLISHER_ADDR, stored in the EVENTS stream")
	}
	if r.Dispatcher {
		lines = append(lines, "dispatcher: a delivery job per webhook that matches each event")
	}
	if r.Deliverer {
		lines = append(lines, "deliverer: signed POSTs to the endpoints, retries, dead letters")
	}
	if r.API {
		lines = append(lines, "management API on API_ADDR (webhooks, deliveries; /openapi.json)")
	}
	return lines
}

// ConfigVars is every variable LoadConfig reads, in the order it first
// reads each: found by running it on an empty environment, so the list
// cannot drift from the loader. (A variable read only when another is set
// would be missed: the loader reads each one unconditionally.)
func ConfigVars() []string {
	var names []string
	seen := map[string]bool{}
	_, _ = LoadConfig(func(name string) string {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
		return ""
	})
	return names
}

// wrap joins words with ", " into lines of at most width, each indented.
func wrap(words []string, width int, indent string) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	if line != indent {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// helpOr2 is the exit code of a subcommand whose flags did not parse: 0 for
// -h (the flag package printed the usage), 2 otherwise.
func helpOr2(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
