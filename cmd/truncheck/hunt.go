package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

// conditionList is the hunting set for check's help.
func conditionList() string {
	var b strings.Builder
	b.WriteString("The hunting conditions:")
	for _, c := range scenarios.HuntConditions() {
		fmt.Fprintf(&b, "\n  %-16s %s", c.Name, c.About)
	}
	return b.String()
}

// splitList reads a comma-separated flag value.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, v := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(v))
	}
	return out
}

// printHuntSummary says, under the table, which conditions found
// something, which found nothing and which did not run.
func printHuntSummary(w io.Writer, rr *results.RunResult, skipped []scenarios.Skipped) error {
	var found, clean []string
	for _, sr := range rr.Scenarios {
		name, ok := strings.CutPrefix(sr.Scenario, scenarios.HuntPrefix)
		if !ok {
			continue
		}
		if sr.Met {
			clean = append(clean, name)
		} else {
			found = append(found, fmt.Sprintf("  %-16s %s", name, sr.Reason))
		}
	}
	ew := &errorWriter{w: w}
	fmt.Fprintln(ew)
	switch {
	case len(found) == 0:
		fmt.Fprintf(ew, "hunt: nothing found under %s (%s)\n", plural(len(clean), "condition"), strings.Join(clean, ", "))
	default:
		fmt.Fprintf(ew, "hunt: %d of %d conditions found something:\n%s\n", len(found), len(found)+len(clean), strings.Join(found, "\n"))
		if len(clean) > 0 {
			fmt.Fprintf(ew, "  nothing under: %s\n", strings.Join(clean, ", "))
		}
	}
	if len(skipped) > 0 {
		reasons := make([]string, len(skipped))
		for i, sk := range skipped {
			reasons[i] = sk.String()
		}
		fmt.Fprintf(ew, "  not run: %s\n", strings.Join(reasons, "; "))
	}
	if ew.err != nil {
		return envError{fmt.Errorf("writing the table: %w", ew.err)}
	}
	return nil
}

// errorWriter keeps the first write error.
type errorWriter struct {
	w   io.Writer
	err error
}

func (e *errorWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

// parseHeader reads --header "Name: value".
func parseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return "", "", usagef("--header %q (accepted: \"Name: value\", e.g. \"Accept-Encoding: identity\")", s)
	}
	return name, value, nil
}

// plural is "1 condition", "3 conditions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
