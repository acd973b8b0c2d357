package results

import (
	"fmt"
	"slices"
	"strings"
)

// Expect is the kind of a scenario's expectation.
type Expect string

const (
	// ExpectComplete: every response verifies.
	ExpectComplete Expect = "complete"
	// ExpectDetect: an injected defect must be caught (see [Expectation]).
	ExpectDetect Expect = "detect"
)

// ParseExpect returns the expectation kind named s, or an error naming s
// and the accepted names. The empty string is accepted and means "unknown"
// (records merged without any expectation).
func ParseExpect(s string) (Expect, error) {
	switch Expect(s) {
	case ExpectComplete, ExpectDetect, "":
		return Expect(s), nil
	}
	return "", fmt.Errorf("unknown expectation %q (accepted: %s, %s)", s, ExpectComplete, ExpectDetect)
}

// MarshalText refuses an invalid expectation kind.
func (e Expect) MarshalText() ([]byte, error) {
	if _, err := ParseExpect(string(e)); err != nil {
		return nil, err
	}
	return []byte(e), nil
}

// UnmarshalText accepts "complete", "detect" or "" only.
func (e *Expect) UnmarshalText(b []byte) error {
	v, err := ParseExpect(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// SilentRule says whether the failures a detect expectation names must be
// silent (the server's own account says it sent everything).
type SilentRule string

// The silence rules.
const (
	SilentAny       SilentRule = ""          // not checked
	SilentRequired  SilentRule = "required"  // at least one expected failure is proven silent
	SilentForbidden SilentRule = "forbidden" // every expected failure is proven noticed by the server
)

// ParseSilentRule returns the rule named s or an error naming the accepted ones.
func ParseSilentRule(s string) (SilentRule, error) {
	switch r := SilentRule(s); r {
	case SilentAny, SilentRequired, SilentForbidden:
		return r, nil
	}
	return "", fmt.Errorf("unknown silence rule %q (accepted: required, forbidden, or empty for not checked)", s)
}

// UnmarshalText accepts the defined rules only.
func (r *SilentRule) UnmarshalText(b []byte) error {
	v, err := ParseSilentRule(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Expectation is what a scenario's run must show. It is stored whole with
// the results (summary.json, run.json), so a merge or a later `report`
// judges the records again with the same rule ([Expectation.Judge]).
//
// For [ExpectComplete] every response must be complete; unverified ones
// fail it unless AllowUnverified.
//
// For [ExpectDetect] at least one response must have one of Outcomes (with
// the Silent rule applied to those), and every response must be complete,
// have one of Outcomes, or have one of Tolerate: any other outcome is
// unexplained and fails the run, so a scenario cannot pass by accident.
type Expectation struct {
	Kind     Expect     `json:"kind" yaml:"kind"`
	Outcomes []Outcome  `json:"outcomes,omitempty" yaml:"outcomes,omitempty"`
	Silent   SilentRule `json:"silent,omitempty" yaml:"silent,omitempty"`
	Tolerate []Outcome  `json:"tolerate,omitempty" yaml:"tolerate,omitempty"`
	// AllowUnverified lets unverified responses pass (a server that cannot
	// be checked end to end, accepted knowingly); they are still counted
	// and shown.
	AllowUnverified bool `json:"allow_unverified,omitempty" yaml:"allow_unverified,omitempty"`
}

// Clone returns a deep copy.
func (e Expectation) Clone() Expectation {
	e.Outcomes = slices.Clone(e.Outcomes)
	e.Tolerate = slices.Clone(e.Tolerate)
	return e
}

// Equal reports whether two expectations judge alike.
func (e Expectation) Equal(o Expectation) bool {
	return e.Kind == o.Kind && e.Silent == o.Silent && e.AllowUnverified == o.AllowUnverified &&
		slices.Equal(e.Outcomes, o.Outcomes) && slices.Equal(e.Tolerate, o.Tolerate)
}

// Explains reports whether an outcome is what the expectation allows:
// complete always, unverified when allowed, and for a detect expectation
// the outcomes it names or tolerates. A live display uses it to tell an
// expected detection from a failure as records arrive.
func (e Expectation) Explains(o Outcome) bool {
	switch {
	case o == Complete:
		return true
	case o == Unverified && e.AllowUnverified:
		return true
	case e.Kind == ExpectDetect:
		return slices.Contains(e.Outcomes, o) || slices.Contains(e.Tolerate, o)
	}
	return false
}

// String renders the expectation in one line: "complete",
// "detect truncated (silent required; tolerate transport-error)".
func (e Expectation) String() string {
	if e.Kind == "" {
		return "unknown"
	}
	s := string(e.Kind)
	var extra []string
	if e.Kind == ExpectDetect {
		s += " " + joinOutcomes(e.Outcomes, "|")
		if e.Silent != SilentAny {
			extra = append(extra, "silent "+string(e.Silent))
		}
		if len(e.Tolerate) > 0 {
			extra = append(extra, "tolerate "+joinOutcomes(e.Tolerate, ", "))
		}
	}
	if e.AllowUnverified {
		extra = append(extra, "unverified allowed")
	}
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, "; ") + ")"
	}
	return s
}

func joinOutcomes(os []Outcome, sep string) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = string(o)
	}
	return strings.Join(parts, sep)
}

// FieldProblem is a problem of one field of an expectation: the field's
// path in a scenario file's spelling, what is wrong and what is accepted.
// Callers wrap it with the file and scenario they know.
type FieldProblem struct {
	Path, Problem, Accepted string
}

func (p *FieldProblem) Error() string {
	s := p.Path + ": " + p.Problem
	if p.Accepted != "" {
		s += " (accepted: " + p.Accepted + ")"
	}
	return s
}

// detectable lists the outcomes a detect expectation may name.
func detectable() []Outcome {
	var out []Outcome
	for _, o := range allOutcomes {
		if o != Complete {
			out = append(out, o)
		}
	}
	return out
}

// Validate returns the first problem as a *[FieldProblem] (paths relative
// to the expectation: kind, outcomes[1], ...).
func (e Expectation) Validate() error {
	accepted := joinOutcomes(detectable(), ", ")
	switch e.Kind {
	case ExpectComplete:
		if len(e.Outcomes) > 0 || len(e.Tolerate) > 0 || e.Silent != SilentAny {
			return &FieldProblem{Path: "kind", Problem: "outcomes, tolerate and silent belong to kind detect", Accepted: "kind: complete alone (allow_unverified may go with it)"}
		}
		return nil
	case ExpectDetect:
	default:
		return &FieldProblem{Path: "kind", Problem: fmt.Sprintf("unknown expectation %q", e.Kind), Accepted: "complete, detect"}
	}
	if len(e.Outcomes) == 0 {
		return &FieldProblem{Path: "outcomes", Problem: "a detect expectation names no outcome", Accepted: accepted}
	}
	for _, l := range []struct {
		field string
		list  []Outcome
	}{{"outcomes", e.Outcomes}, {"tolerate", e.Tolerate}} {
		for i, o := range l.list {
			if !slices.Contains(detectable(), o) {
				return &FieldProblem{Path: fmt.Sprintf("%s[%d]", l.field, i), Problem: fmt.Sprintf("unknown outcome %q", o), Accepted: accepted}
			}
		}
	}
	if _, err := ParseSilentRule(string(e.Silent)); err != nil {
		return &FieldProblem{Path: "silent", Problem: fmt.Sprintf("unknown silence rule %q", e.Silent), Accepted: "required, forbidden, or empty (not checked)"}
	}
	return nil
}

// Judgement is an expectation applied to a summary.
type Judgement struct {
	Met    bool
	Reason string
	// Unexplained counts outcomes a detect expectation neither names nor
	// tolerates (and every non-complete outcome of a complete one).
	Unexplained map[Outcome]int64
}

// Judge decides the expectation from the summary's counts alone, so a run,
// a merge of runs and a `report` of stored records all reach the same
// verdict from the same records. See [Expectation] for the rules; silence
// counts only when proven ([Summary.Silent]); where the server kept no
// account ([Summary.SilenceUnknown]) a silence rule cannot be met.
func (e Expectation) Judge(s *Summary) Judgement {
	j := Judgement{Unexplained: map[Outcome]int64{}}
	if s == nil || s.Requests == 0 {
		j.Reason = "no requests were made"
		return j
	}
	outcomes := outcomeList(s)
	for _, o := range allOutcomes {
		if n := s.Outcomes[o]; n > 0 && !e.Explains(o) {
			j.Unexplained[o] = n
		}
	}
	if s.Invalid > 0 {
		j.Reason = fmt.Sprintf("%d records had no valid outcome (%s)", s.Invalid, outcomes)
		return j
	}
	switch e.Kind {
	case "":
		// Records merged without any expectation: a silent failure is a
		// finding whatever the scenario meant to show.
		j.Met = s.Silent == 0
		j.Reason = fmt.Sprintf("no expectation recorded (%s; %s)", outcomes, silenceText(s))
		return j
	case ExpectComplete:
		if len(j.Unexplained) > 0 {
			j.Reason = fmt.Sprintf("%d of %d responses did not verify (%s; %s)", sumCounts(j.Unexplained), s.Requests, outcomes, silenceText(s))
			return j
		}
		j.Met = true
		j.Reason = fmt.Sprintf("all %d responses verified%s", s.Requests, completeNotes(s))
		return j
	}
	var hits, silent, unknown int64
	for _, o := range e.Outcomes {
		hits += s.Outcomes[o]
		silent += s.SilentBy[o]
		unknown += s.SilenceUnknownBy[o]
	}
	want := joinOutcomes(e.Outcomes, "|")
	switch {
	case hits == 0:
		j.Reason = fmt.Sprintf("defect not detected: no %s response in %d (%s)", want, s.Requests, outcomes)
	case len(j.Unexplained) > 0:
		j.Reason = fmt.Sprintf("unexplained outcomes (%s) besides %d %s: expected only complete, %s%s",
			countList(j.Unexplained), hits, want, want, tolerateText(e))
	case e.Silent == SilentRequired && silent == 0 && unknown > 0:
		j.Reason = fmt.Sprintf("defect detected (%d %s) but silence is unknown: the server kept no account (silent=?)", hits, want)
	case e.Silent == SilentRequired && silent == 0:
		j.Reason = fmt.Sprintf("defect detected (%d %s) but none was silent: the server knew, or an injected fault cut them", hits, want)
	case e.Silent == SilentForbidden && silent > 0:
		j.Reason = fmt.Sprintf("defect detected (%d %s) but %d were silent: the server believed it sent everything", hits, want, silent)
	case e.Silent == SilentForbidden && unknown > 0:
		j.Reason = fmt.Sprintf("defect detected (%d %s) but for %d of them the server kept no account: cannot show it knew (silent=?)", hits, want, unknown)
	default:
		j.Met = true
		j.Reason = fmt.Sprintf("defect detected: %d of %d %s, %s (%s)", hits, s.Requests, want, silenceText(s), outcomes)
	}
	return j
}

// completeNotes says what a "complete" verdict rests on when it is less
// than end to end.
func completeNotes(s *Summary) string {
	var parts []string
	if s.FramingOnly > 0 {
		parts = append(parts, fmt.Sprintf("%d by their own framing only", s.FramingOnly))
	}
	if n := s.Outcomes[Unverified]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d unverified, allowed", n))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func tolerateText(e Expectation) string {
	var extra []Outcome
	extra = append(extra, e.Tolerate...)
	if e.AllowUnverified {
		extra = append(extra, Unverified)
	}
	if len(extra) == 0 {
		return ""
	}
	return " or " + joinOutcomes(extra, ", ")
}

// silenceText renders the silence counts: "3 silent", "silent=? (no
// account)", "2 silent, 5 unknown".
func silenceText(s *Summary) string {
	switch {
	case s.SilenceUnknown > 0 && s.Silent == 0:
		return fmt.Sprintf("silent=? (%d with no account)", s.SilenceUnknown)
	case s.SilenceUnknown > 0:
		return fmt.Sprintf("%d silent, %d unknown (no account)", s.Silent, s.SilenceUnknown)
	}
	return fmt.Sprintf("%d silent", s.Silent)
}

func sumCounts(m map[Outcome]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// countList renders counts in report order: "3 reset, 1 stalled".
func countList(m map[Outcome]int64) string {
	var parts []string
	for _, o := range allOutcomes {
		if n := m[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	return strings.Join(parts, ", ")
}
