package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/truncheck/truncheck/results"
)

func reportCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	html := fs.String("html", "", "write the merged HTML report to this file")
	out := fs.String("out", "", "write summary.json, junit.xml and report.html of the merge into this directory")
	return command{fs: fs, summary: "re-render and merge stored results (directories, .jsonl or summary .json)", fn: func(args []string) error {
		if len(args) == 0 {
			return usagef("give at least one results directory or file")
		}
		for _, a := range args {
			if _, err := os.Stat(a); err != nil {
				return usagef("results %q: %v", a, err)
			}
		}
		rr, warnings, err := results.MergeFiles(args...)
		if err != nil {
			return usagef("%v", err)
		}
		printWarnings(stderr, warnings)
		if err := results.WriteText(stdout, rr); err != nil {
			return err
		}
		if *html != "" {
			if err := results.WriteFileAtomic(*html, func(w io.Writer) error { return results.WriteHTML(w, rr) }); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "html report: %s\n", *html)
		}
		if *out != "" {
			if err := results.WriteReports(*out, rr); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "reports in %s\n", *out)
		}
		return nil
	}}
}
