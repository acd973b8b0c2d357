package results

import (
	"fmt"
	"strings"
)

// Outcome is the checker's verdict on one request, in the vocabulary of
// DESIGN.md. It is a string so that JSON files stay readable, and its text
// unmarshalling is strict so that a typo in a baseline or a file from a newer
// version is reported instead of silently counted as something else.
type Outcome string

// The outcomes, from best to worst. The order of [Outcomes] is the order of
// the columns in every report.
const (
	// Complete: status and headers as expected, exactly Content-Length bytes,
	// digest matches, bytes equal the reference.
	Complete Outcome = "complete"
	// Truncated: fewer bytes than promised, ended by a clean EOF/FIN (or a
	// chunked body without its last chunk). The silent kind.
	Truncated Outcome = "truncated"
	// Reset: the connection was reset mid-body.
	Reset Outcome = "reset"
	// Corrupt: the length is right, the bytes are not.
	Corrupt Outcome = "corrupt"
	// Overlong: more bytes than promised.
	Overlong Outcome = "overlong"
	// Stalled: no progress within the deadline.
	Stalled Outcome = "stalled"
	// HTTPError: a non-2xx status.
	HTTPError Outcome = "http-error"
	// TransportError: failure before a response head.
	TransportError Outcome = "transport-error"
)

var allOutcomes = [...]Outcome{Complete, Truncated, Reset, Corrupt, Overlong, Stalled, HTTPError, TransportError}

// Outcomes returns every valid outcome in report order. It returns a fresh
// slice so callers cannot change the package's list.
func Outcomes() []Outcome {
	out := make([]Outcome, len(allOutcomes))
	copy(out, allOutcomes[:])
	return out
}

// AcceptedOutcomes lists the valid names, comma-separated, for error messages.
func AcceptedOutcomes() string {
	names := make([]string, len(allOutcomes))
	for i, o := range allOutcomes {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

// ParseOutcome returns the outcome named s, or an error naming s and the
// accepted names.
func ParseOutcome(s string) (Outcome, error) {
	for _, o := range allOutcomes {
		if string(o) == s {
			return o, nil
		}
	}
	return "", fmt.Errorf("unknown outcome %q (accepted: %s)", s, AcceptedOutcomes())
}

// Valid reports whether o is one of the defined outcomes.
func (o Outcome) Valid() bool {
	_, err := ParseOutcome(string(o))
	return err == nil
}

// Failed reports whether o is anything but [Complete]. An empty (unset)
// outcome counts as failed: a record nobody classified did not verify.
func (o Outcome) Failed() bool { return o != Complete }

// String returns the outcome's name.
func (o Outcome) String() string { return string(o) }

// MarshalText refuses to write an invalid outcome, so a file this package
// writes can always be read back by it.
func (o Outcome) MarshalText() ([]byte, error) {
	if !o.Valid() {
		return nil, fmt.Errorf("unknown outcome %q (accepted: %s)", string(o), AcceptedOutcomes())
	}
	return []byte(o), nil
}

// UnmarshalText accepts exactly the defined names; anything else is an error
// naming the bad value and the accepted ones.
func (o *Outcome) UnmarshalText(b []byte) error {
	v, err := ParseOutcome(string(b))
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Expect is a scenario's expectation: what a run of it must show to pass.
type Expect string

const (
	// ExpectComplete: every response verifies.
	ExpectComplete Expect = "complete"
	// ExpectDetect: the injected defect must be caught (at least one request
	// is classified as failed, optionally with a given outcome and silence).
	ExpectDetect Expect = "detect"
)

// ParseExpect returns the expectation named s, or an error naming s and
// the accepted names. The empty string is accepted and means "unknown"
// (for example, records merged without their summaries).
func ParseExpect(s string) (Expect, error) {
	switch Expect(s) {
	case ExpectComplete, ExpectDetect, "":
		return Expect(s), nil
	}
	return "", fmt.Errorf("unknown expectation %q (accepted: %s, %s)", s, ExpectComplete, ExpectDetect)
}

// MarshalText refuses an invalid expectation.
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
