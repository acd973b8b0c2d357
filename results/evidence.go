package results

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Evidence names one thing a response's verdict rests on, from a fixed
// vocabulary ([Record.CheckedBy] lists them strongest first):
//
//	expectation            what the user stated: a length, a digest, a reference file or known-good URL
//	content-digest:<alg>   the origin's own Content-Digest (header or trailer), end to end
//	reference              our own origin's answer: the transform in-process or a clean twin
//	agreeing-fetches:<k>   k clean fetches from the target agreed: consistency, not proof
//	content-length         the hop's Content-Length promise
//	chunked-framing        the hop's last chunk arrived
//	end-stream             an HTTP/2 stream without a length ended with END_STREAM
//	tls-close-notify       a close-delimited body over TLS ended with the peer's close_notify
//	no-body                the protocol says there is no body (HEAD, 204, 304)
//	none                   nothing could check it
//
// Content-Length, chunked framing, END_STREAM and a TLS close_notify are
// the last hop's own promise: a
// gateway that launders a cut into a shorter well-formed response makes
// the same promise, so a response resting on them alone is counted apart
// ("framing only", [Summary.FramingOnly]).
type Evidence string

// The fixed evidence names; content-digest:<alg> and agreeing-fetches:<k>
// are built with [DigestEvidence] and [AgreeingFetches].
const (
	EvidenceExpectation   Evidence = "expectation"
	EvidenceReference     Evidence = "reference"
	EvidenceContentLength Evidence = "content-length"
	EvidenceChunked       Evidence = "chunked-framing"
	EvidenceEndStream     Evidence = "end-stream"
	EvidenceCloseNotify   Evidence = "tls-close-notify"
	EvidenceNoBody        Evidence = "no-body"
	EvidenceNone          Evidence = "none"

	digestPrefix   = "content-digest:"
	agreeingPrefix = "agreeing-fetches:"
)

// DigestEvidence is the evidence of a checked Content-Digest of algorithm alg.
func DigestEvidence(alg string) Evidence { return Evidence(digestPrefix + alg) }

// AgreeingFetches is the evidence of k clean reference fetches that agreed.
func AgreeingFetches(k int) Evidence { return Evidence(agreeingPrefix + strconv.Itoa(k)) }

// EvidenceClass groups evidence by how much it proves.
type EvidenceClass string

// The classes, strongest first.
const (
	EndToEnd    EvidenceClass = "end-to-end"  // expectation, content-digest, reference
	Consistency EvidenceClass = "consistency" // agreeing-fetches
	Framing     EvidenceClass = "framing"     // content-length, chunked-framing, end-stream, tls-close-notify, no-body
	NoEvidence  EvidenceClass = "none"
)

// EvidenceClasses lists the classes strongest first (the order reports use).
func EvidenceClasses() []EvidenceClass {
	return []EvidenceClass{EndToEnd, Consistency, Framing, NoEvidence}
}

// rank orders evidence strongest first; -1 for a name outside the vocabulary.
func (e Evidence) rank() int {
	switch {
	case e == EvidenceExpectation:
		return 0
	case strings.HasPrefix(string(e), digestPrefix) && len(e) > len(digestPrefix):
		return 1
	case e == EvidenceReference:
		return 2
	case strings.HasPrefix(string(e), agreeingPrefix):
		k, err := strconv.Atoi(string(e[len(agreeingPrefix):]))
		if err != nil || k < 1 || strconv.Itoa(k) != string(e[len(agreeingPrefix):]) {
			return -1
		}
		return 3
	case e == EvidenceContentLength:
		return 4
	case e == EvidenceChunked:
		return 5
	case e == EvidenceEndStream:
		return 6
	case e == EvidenceCloseNotify:
		return 7
	case e == EvidenceNoBody:
		return 8
	case e == EvidenceNone:
		return 9
	}
	return -1
}

// Valid reports whether e is in the vocabulary.
func (e Evidence) Valid() bool { return e.rank() >= 0 }

// Class returns e's class.
func (e Evidence) Class() EvidenceClass {
	switch r := e.rank(); {
	case r >= 0 && r <= 2:
		return EndToEnd
	case r == 3:
		return Consistency
	case r >= 4 && r <= 8:
		return Framing
	}
	return NoEvidence
}

// UnmarshalText accepts the vocabulary only.
func (e *Evidence) UnmarshalText(b []byte) error {
	v := Evidence(b)
	if !v.Valid() {
		return fmt.Errorf("unknown evidence %q (accepted: expectation, content-digest:<alg>, reference, agreeing-fetches:<k>, content-length, chunked-framing, end-stream, tls-close-notify, no-body, none)", b)
	}
	*e = v
	return nil
}

// SortEvidence orders a list strongest first and drops duplicates.
func SortEvidence(list []Evidence) []Evidence {
	out := slices.Clone(list)
	slices.SortStableFunc(out, func(a, b Evidence) int { return a.rank() - b.rank() })
	return slices.Compact(out)
}

// Strongest returns the strongest evidence of a list ([EvidenceNone] for an
// empty one).
func Strongest(list []Evidence) Evidence {
	best := EvidenceNone
	for _, e := range list {
		if e.Valid() && e.rank() < best.rank() {
			best = e
		}
	}
	return best
}

// EndToEndIn reports whether the list holds end-to-end evidence.
func EndToEndIn(list []Evidence) bool { return Strongest(list).Class() == EndToEnd }
