package main

import (
	"strconv"
	"strings"

	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// sizeFlag is a byte size in the grammar scenario files and faults use
// (3300000, 3.3MB, 16MiB); unset is -1.
type sizeFlag int64

func (f *sizeFlag) String() string {
	if *f < 0 {
		return ""
	}
	return strconv.FormatInt(int64(*f), 10)
}

func (f *sizeFlag) Set(s string) error {
	n, err := transport.ParseSize(s)
	if err != nil {
		return err
	}
	*f = sizeFlag(n)
	return nil
}

// catalog is the built-in catalog plus the scenarios of the --scenarios
// files, whose names are kept: with no names given, a command runs the
// files' scenarios.
type catalog struct {
	*scenarios.Catalog
	fromFiles []string
}

// loadCatalog is the built-in catalog plus the scenarios of the given files.
func loadCatalog(files []string) (catalog, error) {
	cat := catalog{Catalog: scenarios.Builtin()}
	for _, f := range files {
		list, err := scenarios.Load(f)
		if err != nil {
			return cat, usageError{err}
		}
		if err := cat.Add(list...); err != nil {
			return cat, usageError{err}
		}
		for _, s := range list {
			cat.fromFiles = append(cat.fromFiles, s.Name())
		}
	}
	return cat, nil
}

// pick returns the named scenarios; with none named, the scenarios of the
// --scenarios files, or else the quick catalog.
func pick(cat catalog, names []string) ([]scenarios.Compiled, error) {
	if len(names) == 0 && len(cat.fromFiles) > 0 {
		names = cat.fromFiles
	}
	if len(names) == 0 {
		return cat.Quick(), nil
	}
	if len(names) == 1 && names[0] == "all" {
		return cat.All(), nil
	}
	for _, n := range names {
		if n == "all" {
			return nil, usagef(`"all" stands alone: give it or scenario names, not both`)
		}
	}
	out := make([]scenarios.Compiled, 0, len(names))
	for _, n := range names {
		s, err := cat.Get(n)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, s)
	}
	return out, nil
}

// inProcess drops the scenarios written for an external target from an
// "all" selection (run and soak build the topology themselves); a target
// scenario named explicitly is an error instead, see [requireInProcess].
func inProcess(list []scenarios.Compiled, names []string) []scenarios.Compiled {
	if len(names) != 1 || names[0] != "all" {
		return list
	}
	out := list[:0]
	for _, s := range list {
		if !s.Scenario().TargetOnly {
			out = append(out, s)
		}
	}
	return out
}

// requireInProcess refuses target-only scenarios by name.
func requireInProcess(list []scenarios.Compiled, cmd string) error {
	for _, s := range list {
		if s.Scenario().TargetOnly {
			return usagef("scenario %q runs against an external target only: use truncheck check (or realworld), not %s", s.Name(), cmd)
		}
	}
	return nil
}
