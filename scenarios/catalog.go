package scenarios

import (
	"fmt"
	"sort"
	"strings"
)

// Catalog is a named set of validated scenarios in insertion order. It is
// a value the caller owns (no package-level registry): [Builtin] returns a
// fresh one, and files loaded with [Load] are added to it with
// [Catalog.Add]. A Catalog is not safe for concurrent mutation.
type Catalog struct {
	byName map[string]Scenario
	order  []string
}

// NewCatalog returns a catalog holding the given scenarios, or the first
// validation error or duplicate name.
func NewCatalog(list ...Scenario) (*Catalog, error) {
	c := &Catalog{byName: make(map[string]Scenario)}
	if err := c.Add(list...); err != nil {
		return nil, err
	}
	return c, nil
}

// Add validates each scenario and adds it. A name already present is an
// error (a file cannot silently replace a built-in); nothing is added when
// any scenario is rejected.
func (c *Catalog) Add(list ...Scenario) error {
	if c.byName == nil {
		c.byName = make(map[string]Scenario)
	}
	seen := make(map[string]bool)
	for _, s := range list {
		if err := s.Validate(); err != nil {
			return err
		}
		if _, dup := c.byName[s.Name]; dup || seen[s.Name] {
			return fmt.Errorf("scenario %q: name already in the catalog (accepted: a name not in %s)", s.Name, strings.Join(c.Names(), ", "))
		}
		seen[s.Name] = true
	}
	for _, s := range list {
		// Defaults first: whoever asks the catalog sees the scenario as it
		// will run (a missing mode is direct everywhere, not only in the harness).
		c.byName[s.Name] = s.WithDefaults()
		c.order = append(c.order, s.Name)
	}
	return nil
}

// Get returns a copy of the named scenario, or an error naming the
// accepted names.
func (c *Catalog) Get(name string) (Scenario, error) {
	s, ok := c.byName[name]
	if !ok {
		names := c.Names()
		sort.Strings(names)
		return Scenario{}, fmt.Errorf("unknown scenario %q (accepted: %s)", name, strings.Join(names, ", "))
	}
	return s.Clone(), nil
}

// Names lists the scenario names in catalog order.
func (c *Catalog) Names() []string { return append([]string(nil), c.order...) }

// All returns copies of every scenario in catalog order.
func (c *Catalog) All() []Scenario {
	out := make([]Scenario, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.byName[n].Clone())
	}
	return out
}

// Quick returns copies of the scenarios marked Quick: the set `go test` and
// a default `truncheck run` go through, seconds each.
func (c *Catalog) Quick() []Scenario {
	var out []Scenario
	for _, n := range c.order {
		if s := c.byName[n]; s.Quick {
			out = append(out, s.Clone())
		}
	}
	return out
}

// Len is the number of scenarios.
func (c *Catalog) Len() int { return len(c.order) }
