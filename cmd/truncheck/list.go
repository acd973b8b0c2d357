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
	return command{fs: fs,
		summary:  "the scenario catalog, one line each",
		synopsis: "truncheck list [--scenarios FILE]...",
		about:    "Lists the built-in scenarios and those of the given files: quick or not, what each expects, its\norigin, its layout of tiers.",
		examples: []string{"truncheck list", "truncheck list --scenarios my.yaml"},
		fn: func(args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			cat, err := loadCatalog(files)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCENARIO\tQUICK\tEXPECT\tORIGIN\tLAYOUT\tDESCRIPTION")
			for _, c := range cat.All() {
				s := c.Scenario()
				quick := ""
				if s.Quick {
					quick = "yes"
				}
				layout, from := c.Layout(), s.Origin
				if s.TargetOnly {
					layout = fmt.Sprintf("client-%s>target", s.Topology.Hops[0].Network)
					from = "target " + s.Target.Server
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, quick, s.Expect.Kind, from, layout, s.Description)
			}
			return tw.Flush()
		}}
}
