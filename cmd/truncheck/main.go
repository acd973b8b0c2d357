package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
)

// command pairs a subcommand's flags with the function that runs it (vegeta's shape).
type command struct {
	fs      *flag.FlagSet
	summary string
	fn      func(args []string) error
}

// The exit codes, the same for every subcommand.
const (
	exitOK     = 0 // the run's verdict is PASS (or the command did what it was asked)
	exitFailed = 1 // the verdict is FAIL: an expectation, a finding or the gate
	exitUsage  = 2 // bad flags, arguments or input
	exitEnv    = 3 // the environment: a port in use, a server that would not start, output that cannot be written
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
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr, commands)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "truncheck: unknown command %q; accepted: %s\n", args[0], commandNames(commands))
		return 2
	}
	// flag prints the problem and the whole usage; a bad flag gets one line.
	cmd.fs.SetOutput(io.Discard)
	rest, err := parseInterspersed(cmd.fs, args[1:])
	if err != nil {
		cmd.fs.SetOutput(stderr)
		if errors.Is(err, flag.ErrHelp) {
			cmd.fs.Usage()
			return 0
		}
		fmt.Fprintf(stderr, "truncheck %s: %v (see truncheck %s -h)\n", args[0], err, args[0])
		return 2
	}
	cmd.fs.SetOutput(stderr)
	err = cmd.fn(rest)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
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
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

func printUsage(w io.Writer, commands map[string]command) {
	fmt.Fprintln(w, "usage: truncheck <command> [flags] [args]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'truncheck <command> -h' for a command's flags.")
}

// parseInterspersed parses flags before, between and after the positional
// arguments (`run baseline --out DIR`), which flag.Parse alone stops at;
// everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
