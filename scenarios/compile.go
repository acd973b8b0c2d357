package scenarios

import (
	"encoding/json"
	"fmt"
)

// Compiled is a scenario as it will run: validated once, every default
// filled in, faults typed, outcomes results' own. It is the only form the
// harness runs and the catalog holds; nothing downstream parses or
// validates it again. Build one with [Compile] (a Go value) or [Load] and
// [Parse] (a file); change one by editing its [Compiled.Scenario] copy and
// compiling that.
type Compiled struct{ s Scenario }

// Compile validates s and fills in its defaults; the error is a
// *[FieldError] naming the field and what is accepted.
func Compile(s Scenario) (Compiled, error) {
	if err := s.Validate(); err != nil {
		return Compiled{}, err
	}
	return Compiled{s.withDefaults()}, nil
}

// MustCompile is Compile for scenarios known to be valid (a catalog's
// constants); it panics otherwise.
func MustCompile(s Scenario) Compiled {
	c, err := Compile(s)
	if err != nil {
		panic("scenarios: " + err.Error())
	}
	return c
}

// Scenario returns a deep copy of the compiled scenario, defaults filled in.
func (c Compiled) Scenario() Scenario { return c.s.Clone() }

// Name is the scenario's name.
func (c Compiled) Name() string { return c.s.Name }

// Layout renders the chain of tiers for records and tables, e.g.
// "client-tcp>gw-unix>svc".
func (c Compiled) Layout() string { return c.s.layout() }

// Faults says where the scenario's faults sit and what they are, in
// their canonical text, e.g. "svc listener: buffered-shutdown"; "" when
// it injects none.
func (c Compiled) Faults() string { return c.s.faults() }

// IsZero reports whether c was never compiled.
func (c Compiled) IsZero() bool { return c.s.Name == "" }

// MarshalJSON writes the scenario as it runs (faults in their canonical
// text): what a results directory keeps to replay it.
func (c Compiled) MarshalJSON() ([]byte, error) { return json.Marshal(c.s) }

// UnmarshalJSON reads what MarshalJSON wrote and compiles it again.
func (c *Compiled) UnmarshalJSON(b []byte) error {
	var s Scenario
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	cc, err := Compile(s)
	if err != nil {
		return err
	}
	*c = cc
	return nil
}
