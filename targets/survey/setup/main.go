// Command setup installs the Debian packages of the survey's servers that
// are missing (make survey-setup). Quiet when everything is present; one
// line per server it installed, and one per server that cannot be used.
//
//	go run ./targets/survey/setup [-servers nginx,haproxy] [-versions]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/truncheck/truncheck/targets/survey"
)

func main() {
	list := flag.String("servers", os.Getenv("SURVEY_SERVERS"), "servers to install, comma-separated; empty or all: every one")
	versions := flag.Bool("versions", false, "print each server's version and Debian package version afterwards")
	flag.Parse()
	servers, err := survey.Select(*list)
	if err != nil {
		fmt.Fprintln(os.Stderr, "survey-setup:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	reports, err := survey.Install(ctx, servers...)
	for _, r := range reports {
		if len(r.Installed) > 0 {
			fmt.Printf("survey-setup: %s: installed %s\n", r.Server, strings.Join(r.Installed, " "))
		}
		for _, s := range r.Stopped {
			fmt.Printf("survey-setup: %s: stopped the daemon the package started: %s\n", r.Server, s)
		}
		if r.Err != nil {
			fmt.Fprintf(os.Stderr, "survey-setup: %s: %v\n", r.Server, r.Err)
		}
	}
	if *versions {
		for _, s := range servers {
			v, verr := s.Version(ctx)
			pv, perr := s.PackageVersion(ctx)
			if verr != nil {
				v = "? (" + verr.Error() + ")"
			}
			if perr != nil {
				pv = "-"
			}
			fmt.Printf("%-14s %-28s %s\n", s.Name, v, pv)
		}
	}
	if err != nil {
		os.Exit(1)
	}
}
