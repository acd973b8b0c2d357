package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
)

func listCommand(stdout io.Writer) command {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var files stringList
	fs.Var(&files, "scenarios", "scenario file (YAML or JSON) to add to the catalog; repeatable")
	return command{fs: fs, summary: "the scenario catalog, one line each", fn: func(args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		cat, err := loadCatalog(files)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SCENARIO\tQUICK\tEXPECT\tHOPS\tDESCRIPTION")
		for _, s := range cat.All() {
			quick := ""
			if s.Quick {
				quick = "yes"
			}
			hops := s.HopLayout()
			if s.TargetOnly {
				hops = "client>target" // the target's URL decides the socket kind
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Name, quick, s.Expect.Kind, hops, s.Description)
		}
		return tw.Flush()
	}}
}
