package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/truncheck/truncheck/scenarios"
)

// completionCommand prints a shell completion script. The scripts are
// generated from the command table and the built-in catalog, so a new flag
// or scenario completes without anyone editing a script.
func completionCommand(stdout io.Writer, commands map[string]command) command {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	return command{fs: fs,
		summary:  "print a shell completion script (bash or zsh)",
		synopsis: "truncheck completion bash|zsh",
		about: "Prints a completion script for commands, their flags and the catalog's scenario names.\n" +
			"A flag that takes a value completes file names.",
		examples: []string{
			"source <(truncheck completion bash)                      # this bash session",
			"truncheck completion bash > /etc/bash_completion.d/truncheck",
			"truncheck completion zsh > \"${fpath[1]}/_truncheck\"      # zsh, then: compinit",
		},
		fn: func(args []string) error {
			if len(args) != 1 {
				return usagef("give one shell (accepted: bash, zsh)")
			}
			spec := completionSpec(commands)
			switch args[0] {
			case "bash":
				return writeOut(stdout, bashCompletion(spec))
			case "zsh":
				return writeOut(stdout, zshCompletion(spec))
			}
			return usagef("shell %q (accepted: bash, zsh)", args[0])
		}}
}

func writeOut(w io.Writer, s string) error {
	if _, err := io.WriteString(w, s); err != nil {
		return envError{err}
	}
	return nil
}

// completionFlag is one flag as a completion script needs it.
type completionFlag struct {
	name, usage string
	takesValue  bool
}

// completionEntry is one command as a completion script needs it.
type completionEntry struct {
	name, summary string
	flags         []completionFlag
	scenarios     bool // positional arguments are scenario names
}

func completionSpec(commands map[string]command) []completionEntry {
	var out []completionEntry
	for _, name := range slices.Sorted(maps.Keys(commands)) {
		c := commands[name]
		e := completionEntry{name: name, summary: c.summary}
		switch name {
		case "run", "soak", "check", "realworld":
			e.scenarios = true
		}
		c.fs.VisitAll(func(f *flag.Flag) {
			bf, isBool := f.Value.(interface{ IsBoolFlag() bool })
			usage, _, _ := strings.Cut(f.Usage, "\n")
			e.flags = append(e.flags, completionFlag{name: f.Name, usage: usage, takesValue: !(isBool && bf.IsBoolFlag())})
		})
		out = append(out, e)
	}
	return out
}

func scenarioNames() []string {
	var names []string
	for _, c := range scenarios.Builtin().All() {
		names = append(names, c.Name())
	}
	return append(names, "all")
}

func bashCompletion(spec []completionEntry) string {
	var b strings.Builder
	b.WriteString("# bash completion for truncheck: source <(truncheck completion bash)\n")
	b.WriteString("_truncheck() {\n")
	b.WriteString("\tlocal cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	b.WriteString("\tlocal words=\"\" valued=\"\"\n")
	names := []string{"help"}
	for _, e := range spec {
		names = append(names, e.name)
	}
	fmt.Fprintf(&b, "\tif [[ $COMP_CWORD -eq 1 ]]; then\n\t\tCOMPREPLY=($(compgen -W %q -- \"$cur\"))\n\t\treturn\n\tfi\n",
		strings.Join(append(names, "--version", "--help"), " "))
	b.WriteString("\tcase \"${COMP_WORDS[1]}\" in\n")
	fmt.Fprintf(&b, "\thelp) words=%q ;;\n", strings.Join(names[1:], " "))
	scen := strings.Join(scenarioNames(), " ")
	for _, e := range spec {
		var flags, valued []string
		for _, f := range e.flags {
			flags = append(flags, "--"+f.name)
			if f.takesValue {
				valued = append(valued, "--"+f.name)
			}
		}
		w := strings.Join(flags, " ")
		if e.scenarios {
			w += " " + scen
		}
		if e.name == "completion" {
			w = "bash zsh"
		}
		fmt.Fprintf(&b, "\t%s) words=%q valued=%q ;;\n", e.name, w, strings.Join(valued, " "))
	}
	b.WriteString("\tesac\n")
	// A flag that takes a value: leave COMPREPLY empty, and -o default
	// completes file names.
	b.WriteString("\tif [[ \" $valued \" == *\" $prev \"* ]]; then\n\t\tCOMPREPLY=()\n\t\treturn\n\tfi\n")
	b.WriteString("\tCOMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n")
	b.WriteString("}\n")
	b.WriteString("complete -o default -F _truncheck truncheck\n")
	return b.String()
}

// zshEscape makes a description safe inside an _arguments spec.
func zshEscape(s string) string {
	r := strings.NewReplacer("[", "(", "]", ")", ":", " -", "'", "", "\\", "")
	return r.Replace(s)
}

func zshCompletion(spec []completionEntry) string {
	var b strings.Builder
	b.WriteString("#compdef truncheck\n")
	b.WriteString("# zsh completion for truncheck: truncheck completion zsh > \"${fpath[1]}/_truncheck\"\n")
	b.WriteString("_truncheck() {\n")
	b.WriteString("\tlocal -a commands\n\tcommands=(\n")
	b.WriteString("\t\t'help:a command'\"'\"'s flags and examples'\n")
	for _, e := range spec {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", e.name, zshEscape(e.summary))
	}
	b.WriteString("\t)\n")
	b.WriteString("\tif (( CURRENT == 2 )); then\n\t\t_describe 'command' commands\n\t\treturn\n\tfi\n")
	b.WriteString("\tlocal cmd=$words[2]\n\tshift words\n\t(( CURRENT-- ))\n")
	b.WriteString("\tcase $cmd in\n")
	fmt.Fprintf(&b, "\thelp) _describe 'command' commands ;;\n")
	scen := strings.Join(scenarioNames(), " ")
	for _, e := range spec {
		fmt.Fprintf(&b, "\t%s)\n\t\t_arguments -s \\\n", e.name)
		for _, f := range e.flags {
			if f.takesValue {
				fmt.Fprintf(&b, "\t\t\t'--%s[%s]:value:_files' \\\n", f.name, zshEscape(f.usage))
			} else {
				fmt.Fprintf(&b, "\t\t\t'--%s[%s]' \\\n", f.name, zshEscape(f.usage))
			}
		}
		switch {
		case e.name == "completion":
			b.WriteString("\t\t\t'1:shell:(bash zsh)'\n")
		case e.scenarios:
			fmt.Fprintf(&b, "\t\t\t'*:scenario:(%s)'\n", scen)
		default:
			b.WriteString("\t\t\t'*:file:_files'\n")
		}
		b.WriteString("\t\t;;\n")
	}
	b.WriteString("\tesac\n}\n")
	b.WriteString("if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n\t_truncheck \"$@\"\nelse\n\tcompdef _truncheck truncheck\nfi\n")
	return b.String()
}
