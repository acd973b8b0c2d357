package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
)

// command is a subcommand: its flags, its help and the function that runs
// it (vegeta's shape). Help is written by [writeHelp] from these fields, so
// every subcommand's help has the same parts in the same order.
type command struct {
	fs       *flag.FlagSet
	summary  string   // one line, for the command list
	synopsis string   // "truncheck run [flags] [scenario...|all]"
	about    string   // what it does and its defaults, a few lines
	examples []string // command lines, each with a "# why" comment
	// exec, when set, receives the words after "--" (check's server
	// command); a command without it takes them as positional arguments.
	exec *[]string
	fn   func(args []string) error
}

// The exit codes, the same for every subcommand.
const (
	exitOK          = 0   // the run's verdict is PASS (or the command did what it was asked)
	exitFailed      = 1   // the verdict is FAIL: an expectation, a finding or the gate
	exitUsage       = 2   // bad flags, arguments or input
	exitEnv         = 3   // the environment: a port in use, a server that would not start, output that cannot be written
	exitInterrupted = 130 // SIGINT or SIGTERM: what ran is written, the verdict was not reached (the shell's 128+2)
)

// usageError marks bad flags, arguments or input: exit code 2, one line, no stack.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// envError marks a failure of the environment (exit code 3): what was
// asked was fine, the machine or the server could not do it.
type envError struct{ err error }

func (e envError) Error() string { return e.err.Error() }
func (e envError) Unwrap() error { return e.err }

// errExpectation marks a run whose verdict is FAIL: exit code 1. The table
// and reports were already printed, so it carries no text of its own.
var errExpectation = errors.New("expectations not met")

// errInterrupted marks a command stopped by SIGINT or SIGTERM after it
// wrote what it had: exit code 130, whatever the partial verdict.
var errInterrupted = errors.New("interrupted")

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

func realMain(args []string, stdout, stderr io.Writer) int {
	commands := map[string]command{
		"list":      listCommand(stdout),
		"run":       runCommand(stdout, stderr),
		"soak":      soakCommand(stdout, stderr),
		"serve":     serveCommand(stdout, stderr),
		"proxy":     proxyCommand(stdout, stderr),
		"check":     checkCommand(stdout, stderr),
		"report":    reportCommand(stdout, stderr),
		"realworld": realworldCommand(stdout, stderr),
		"survey":    surveyCommand(stdout, stderr),
	}
	commands["completion"] = completionCommand(stdout, commands)
	if len(args) == 0 {
		printUsage(stderr, commands)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		printUsage(stdout, commands)
		return exitOK
	case "help":
		return helpCommand(args[1:], commands, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "truncheck %s (%s %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "truncheck: unknown command %q; accepted: %s (truncheck help)\n", args[0], commandNames(commands))
		return exitUsage
	}
	// flag prints the problem and the whole usage; a bad flag gets one line.
	cmd.fs.SetOutput(io.Discard)
	rest, afterDash, err := parseInterspersed(cmd.fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeHelp(stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(stderr, "truncheck %s: %v (see truncheck help %s)\n", args[0], err, args[0])
		return exitUsage
	}
	if cmd.exec != nil {
		*cmd.exec = afterDash
	} else {
		rest = append(rest, afterDash...)
	}
	cmd.fs.SetOutput(stderr)
	err = cmd.fn(rest)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(stderr, "truncheck %s: interrupted; what ran is written, the verdict was not reached\n", args[0])
		return exitInterrupted
	case errors.Is(err, errExpectation):
		return exitFailed
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "truncheck %s: %v\n", args[0], err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "truncheck %s: %v\n", args[0], err)
		return exitEnv
	}
}

// helpCommand is `truncheck help [command]`: the command list, or one
// command's help, on stdout.
func helpCommand(args []string, commands map[string]command, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		printUsage(stdout, commands)
		return exitOK
	case 1:
		cmd, ok := commands[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "truncheck help: unknown command %q; accepted: %s\n", args[0], commandNames(commands))
			return exitUsage
		}
		writeHelp(stdout, cmd)
		return exitOK
	}
	fmt.Fprintf(stderr, "truncheck help: one command at a time (got %q)\n", args)
	return exitUsage
}

// writeHelp prints a command's help: synopsis, what it does, examples,
// flags.
func writeHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "usage: %s\n", c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(c.about, "\n"))
	}
	if len(c.examples) > 0 {
		fmt.Fprintln(w, "\nexamples:")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	first := true
	c.fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintln(w, "\nflags:")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if len(f.Name) == 1 {
			line = "  -" + f.Name
		}
		if name != "" {
			line += " " + strings.ToUpper(name)
		}
		fmt.Fprintln(w, line)
		for l := range strings.SplitSeq(usage, "\n") {
			fmt.Fprintf(w, "      %s\n", l)
		}
		switch f.DefValue {
		case "", "0", "false", "0s", "[]", "-1":
		default:
			fmt.Fprintf(w, "      (default %s)\n", f.DefValue)
		}
	})
}

// version is truncheck's version from the build information: the module
// version when installed with go install, else the VCS revision, else
// "devel".
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "devel"
	case len(rev) > 12:
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "devel-" + rev
}

func commandNames(commands map[string]command) string {
	return strings.Join(slices.Sorted(maps.Keys(commands)), ", ")
}

func printUsage(w io.Writer, commands map[string]command) {
	fmt.Fprintln(w, "usage: truncheck <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "truncheck finds HTTP responses that arrive shorter than they should while everything")
	fmt.Fprintln(w, "reports success. Commands:")
	fmt.Fprintln(w)
	for _, n := range slices.Sorted(maps.Keys(commands)) {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Addresses are URLs: http://HOST:PORT (https:// where TLS applies) or unix:/PATH.")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 the verdict failed, 2 bad usage, 3 the environment (a port in use,")
	fmt.Fprintln(w, "a server that would not start), 130 interrupted (what ran is written).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "truncheck help <command> (or <command> -h) shows a command's flags and examples;")
	fmt.Fprintln(w, "truncheck --version prints the version.")
}

// parseInterspersed parses flags before, between and after the positional
// arguments (`run baseline --out DIR`), which flag.Parse alone stops at.
// The words after "--" come back apart, untouched: check runs them as the
// server's command.
func parseInterspersed(fs *flag.FlagSet, args []string) (pos, afterDash []string, err error) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return pos, rest, nil
		}
		if len(rest) == 0 {
			return pos, nil, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
