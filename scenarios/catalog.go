package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Catalog is a named set of compiled scenarios in insertion order. It is a
// value the caller owns (no package-level registry): [Builtin] returns a
// fresh one, and files loaded with [Load] are added to it with
// [Catalog.Add]. A Catalog is not safe for concurrent mutation.
type Catalog struct {
	byName map[string]Compiled
	order  []string
}

// NewCatalog compiles the given scenarios into a catalog, or returns the
// first validation error or duplicate name.
func NewCatalog(list ...Scenario) (*Catalog, error) {
	compiled := make([]Compiled, 0, len(list))
	for _, s := range list {
		c, err := Compile(s)
		if err != nil {
			return nil, err
		}
		compiled = append(compiled, c)
	}
	c := &Catalog{byName: make(map[string]Compiled)}
	if err := c.Add(compiled...); err != nil {
		return nil, err
	}
	return c, nil
}

// Add adds compiled scenarios. A name already present is an error (a file
// cannot silently replace a built-in); nothing is added when any scenario
// is rejected.
func (c *Catalog) Add(list ...Compiled) error {
	if c.byName == nil {
		c.byName = make(map[string]Compiled)
	}
	seen := make(map[string]bool)
	for _, s := range list {
		if s.IsZero() {
			return fmt.Errorf("scenarios: a zero Compiled (use Compile)")
		}
		if _, dup := c.byName[s.Name()]; dup || seen[s.Name()] {
			return fmt.Errorf("scenario %q: name already in the catalog (accepted: a name not in %s)", s.Name(), strings.Join(c.Names(), ", "))
		}
		seen[s.Name()] = true
	}
	for _, s := range list {
		c.byName[s.Name()] = s
		c.order = append(c.order, s.Name())
	}
	return nil
}

// Get returns the named scenario, or an error naming the accepted names.
func (c *Catalog) Get(name string) (Compiled, error) {
	s, ok := c.byName[name]
	if !ok {
		names := c.Names()
		sort.Strings(names)
		return Compiled{}, fmt.Errorf("unknown scenario %q (accepted: %s)", name, strings.Join(names, ", "))
	}
	return s, nil
}

// Names lists the scenario names in catalog order.
func (c *Catalog) Names() []string { return append([]string(nil), c.order...) }

// All returns every scenario in catalog order.
func (c *Catalog) All() []Compiled {
	out := make([]Compiled, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.byName[n])
	}
	return out
}

// Quick returns the scenarios marked Quick: the set `go test` and a
// default `truncheck run` go through, seconds each.
func (c *Catalog) Quick() []Compiled {
	var out []Compiled
	for _, n := range c.order {
		if s := c.byName[n]; s.s.Quick {
			out = append(out, s)
		}
	}
	return out
}

// Len is the number of scenarios.
func (c *Catalog) Len() int { return len(c.order) }
