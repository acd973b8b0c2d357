package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command pairs a subcommand's flags with the function that runs it (vegeta's shape).
type command struct {
	fs      *flag.FlagSet
	summary string
	fn      func(args []string) error
}

// usageError marks bad flags, arguments or input: exit code 2, one line, no stack.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errExpectation marks a run whose expectations or gate failed: exit code 1. The table
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
		return 0
	case errors.Is(err, errExpectation):
		return 1
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "truncheck %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "truncheck %s: %v\n", args[0], err)
		return 2
	}
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
