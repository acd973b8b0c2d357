package h2fault

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/truncheck/truncheck/transport/internal/spec"
)

// Faults is a parsed, validated set of stream faults. It is a value: the
// zero value injects nothing.
type Faults struct {
	reset  *resetSpec
	goAway *goAwaySpec
}

type selection struct {
	p     float64 // 0 => every one
	every int64   // 0 => every one
}

func (s selection) String() string {
	out := ""
	if s.p > 0 {
		out += "@p=" + spec.FormatProb(s.p)
	}
	if s.every > 0 {
		out += fmt.Sprintf("@every=%d", s.every)
	}
	return out
}

// resetSpec is reset-after=SIZE.
type resetSpec struct {
	size int64
	sel  selection
}

// goAwaySpec is goaway-after=N[/DRAIN].
type goAwaySpec struct {
	streams int64
	drain   time.Duration // 0 => graceful
	sel     selection
}

// Accepted lists the fault names Parse accepts.
func Accepted() []string { return []string{"reset-after", "goaway-after"} }

const (
	resetUsage  = "reset-after=SIZE, e.g. reset-after=300KiB"
	goAwayUsage = "goaway-after=N[/DRAIN], e.g. goaway-after=4 or goaway-after=4/20ms"
)

// Parse parses a comma-separated stream fault spec such as
// "reset-after=300KiB@p=0.5,goaway-after=4/20ms". Errors name the bad token
// and what is accepted; an empty spec is the zero Faults.
func Parse(s string) (Faults, error) {
	items, err := spec.Split(s)
	if err != nil {
		return Faults{}, err
	}
	var f Faults
	for _, it := range items {
		if it.Dir != "" {
			return Faults{}, fmt.Errorf("fault %q: %s takes no @dir (it acts on responses)", it.Raw, it.Name)
		}
		sel := selection{p: it.P, every: it.Every}
		switch it.Name {
		case "reset-after":
			if f.reset != nil {
				return Faults{}, fmt.Errorf("fault %q: reset-after already given (each fault at most once)", it.Raw)
			}
			if it.Value == "" {
				return Faults{}, fmt.Errorf("fault %q: missing size (usage: %s)", it.Raw, resetUsage)
			}
			n, err := spec.ParseSize(it.Value)
			if err != nil {
				return Faults{}, fmt.Errorf("fault %q: %w (usage: %s)", it.Raw, err, resetUsage)
			}
			f.reset = &resetSpec{size: n, sel: sel}
		case "goaway-after":
			if f.goAway != nil {
				return Faults{}, fmt.Errorf("fault %q: goaway-after already given (each fault at most once)", it.Raw)
			}
			g, err := parseGoAway(it.Value)
			if err != nil {
				return Faults{}, fmt.Errorf("fault %q: %w (usage: %s)", it.Raw, err, goAwayUsage)
			}
			g.sel = sel
			f.goAway = &g
		default:
			return Faults{}, fmt.Errorf("fault %q: unknown stream fault %q; accepted: %s", it.Raw, it.Name, strings.Join(Accepted(), ", "))
		}
	}
	return f, nil
}

func parseGoAway(v string) (goAwaySpec, error) {
	if v == "" {
		return goAwaySpec{}, fmt.Errorf("missing stream count")
	}
	count, drain, hasDrain := strings.Cut(v, "/")
	n, err := strconv.ParseInt(count, 10, 64)
	if err != nil || n < 1 {
		return goAwaySpec{}, fmt.Errorf("stream count %q: want a whole number >= 1", count)
	}
	g := goAwaySpec{streams: n}
	if hasDrain {
		d, err := spec.ParseDuration(drain)
		if err != nil || d == 0 {
			return goAwaySpec{}, fmt.Errorf("drain %q: want a positive Go duration such as 20ms", drain)
		}
		g.drain = d
	}
	return g, nil
}

// IsZero reports whether f injects nothing.
func (f Faults) IsZero() bool { return f.reset == nil && f.goAway == nil }

// String returns the canonical spec (reset-after first); Parse(f.String())
// gives f back.
func (f Faults) String() string {
	var parts []string
	if r := f.reset; r != nil {
		parts = append(parts, r.String())
	}
	if g := f.goAway; g != nil {
		parts = append(parts, g.String())
	}
	return strings.Join(parts, ",")
}

func (r resetSpec) action() string { return "reset-after=" + spec.FormatSize(r.size) }
func (r resetSpec) String() string { return r.action() + r.sel.String() }

func (g goAwaySpec) action() string {
	s := "goaway-after=" + strconv.FormatInt(g.streams, 10)
	if g.drain > 0 {
		s += "/" + g.drain.String()
	}
	return s
}
func (g goAwaySpec) String() string { return g.action() + g.sel.String() }

// MarshalText writes the canonical spec, so a set stored in JSON or YAML
// reads back the same.
func (f Faults) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText parses a spec; errors name the bad token.
func (f *Faults) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// Fault is one stream fault as a Go value, the twin of one item of a spec:
// build them with [ResetAfter] and [GoAwayAfter], adjust with the
// modifiers, combine with [New] (validated exactly as Parse validates text).
type Fault struct{ text string }

// String is the fault's spec item, e.g. "reset-after=300KiB@p=0.5".
func (f Fault) String() string { return f.text }

// ResetAfter aborts a response after n body bytes: Go's HTTP/2 server
// resets its stream.
func ResetAfter(n int64) Fault { return Fault{"reset-after=" + spec.FormatSize(n)} }

// GoAwayAfter makes the nth stream of every connection close it gracefully:
// GOAWAY, the streams taken finished, then the close.
func GoAwayAfter(n int64) Fault { return Fault{"goaway-after=" + strconv.FormatInt(n, 10)} }

// WithDrain, on a [GoAwayAfter], closes the connection d after the stream
// that sends the GOAWAY began, whatever is still in flight.
func (f Fault) WithDrain(d time.Duration) Fault { return Fault{f.text + "/" + d.String()} }

// WithProbability applies the fault to this fraction of streams
// (reset-after) or connections (goaway-after), chosen from the seed.
func (f Fault) WithProbability(p float64) Fault { return Fault{f.text + "@p=" + spec.FormatProb(p)} }

// OnEvery applies the fault to every nth stream or connection.
func (f Fault) OnEvery(n int64) Fault { return Fault{fmt.Sprintf("%s@every=%d", f.text, n)} }

// New combines faults, validated like a parsed spec.
func New(fs ...Fault) (Faults, error) {
	items := make([]string, len(fs))
	for i, f := range fs {
		items[i] = f.text
	}
	return Parse(strings.Join(items, ","))
}

// Must is New for values known to be valid (a catalog's constants); it
// panics otherwise.
func Must(fs ...Fault) Faults {
	f, err := New(fs...)
	if err != nil {
		panic("h2fault: " + err.Error())
	}
	return f
}
