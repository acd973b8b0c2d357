package results

import (
	"fmt"
	"strings"
)

// Outcome is the checker's verdict on one request (complete, truncated,
// overlong, corrupt, ...; the README's outcome table). It is a string so that JSON files stay readable, and its text
// unmarshalling is strict so that a typo in a baseline or a file from a newer
// version is reported instead of silently counted as something else.
type Outcome string

// The outcomes, from best to worst. The order of [Outcomes] is the order of
// the columns in every report.
const (
	// Complete: status as expected, exactly the promised bytes, and every
	// independent check that applies (digest, reference, expectation)
	// matched. [Record.CheckedBy] says which evidence it rests on; a complete
	// response whose only evidence is its own hop's framing is counted apart
	// ([Summary.FramingOnly]).
	Complete Outcome = "complete"
	// Unverified: it looked clean, but nothing independent could check it (a
	// close-delimited body with no digest, expectation or reference; reference
	// fetches that disagree; framing only where end-to-end evidence is
	// required). Never counted as complete.
	Unverified Outcome = "unverified"
	// Truncated: fewer bytes than promised, ended by a clean EOF/FIN (or a
	// chunked body without its last chunk, or TLS without close_notify). The
	// silent kind.
	Truncated Outcome = "truncated"
	// Reset: the connection (or an HTTP/2 stream) was reset or failed
	// mid-body.
	Reset Outcome = "reset"
	// Corrupt: the length is right, the bytes are not.
	Corrupt Outcome = "corrupt"
	// Overlong: more bytes than promised; the offset is where the excess
	// began.
	Overlong Outcome = "overlong"
	// Stalled: no progress within the deadline.
	Stalled Outcome = "stalled"
	// HTTPError: a non-2xx status.
	HTTPError Outcome = "http-error"
	// TransportError: failure before a response head.
	TransportError Outcome = "transport-error"
)

var allOutcomes = [...]Outcome{Complete, Unverified, Truncated, Reset, Corrupt, Overlong, Stalled, HTTPError, TransportError}

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
// [Unverified] counts too: what nothing could check is not a success.
func (o Outcome) Failed() bool { return o != Complete }

// CleanEnd reports whether the client saw the body end as if whole (a
// clean FIN, a last chunk, a complete length) while the bytes were wrong:
// only such failures can be silent. Resets, stalls and errors are seen.
func (o Outcome) CleanEnd() bool { return o == Truncated || o == Corrupt || o == Overlong }

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
