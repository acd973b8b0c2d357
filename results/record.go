package results

import (
	"fmt"
	"time"

	"github.com/truncheck/truncheck/transport"
)

// Record is one request, flat and JSON-tagged so that one JSON line per
// request can be grepped, diffed and loaded by other tools. Durations are
// integer nanoseconds and their JSON keys say so (`latency_ns`).
//
// results imports no other project package: the harness converts its own
// types (transport timelines, imagesvc accounts) into [Event] and [Account].
type Record struct {
	Run       string `json:"run,omitempty"`    // run id, shared by every record of one invocation
	Scenario  string `json:"scenario"`         // scenario name
	Seed      int64  `json:"seed"`             // seed of the run: replays the same faults
	Seq       int64  `json:"seq"`              // request number within the scenario run
	Key       string `json:"key,omitempty"`    // request key: image + ops + format (the reference's key)
	Layout    string `json:"layout,omitempty"` // the chain of tiers, e.g. "client-tcp>gw-unix>svc"
	Method    string `json:"method,omitempty"`
	URL       string `json:"url,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Status    int    `json:"status,omitempty"` // HTTP status; 0 when no head arrived
	// Proto is the protocol that carried the response ("HTTP/1.1",
	// "HTTP/2.0"); TLS the version of its TLS session ("TLS 1.3"), "" in
	// the clear. Both are empty when no response head arrived.
	Proto string `json:"proto,omitempty"`
	TLS   string `json:"tls,omitempty"`
	// Retries counts the times the client sent the request again before
	// this answer (a new stream after a GOAWAY that did not cover it, a
	// kept-alive connection that was gone): a request retried and then
	// verified is complete, not lost.
	Retries int `json:"retries,omitempty"`

	Expected int64 `json:"expected"` // bytes promised (Content-Length or reference); -1 unknown
	Received int64 `json:"received"` // body bytes actually read

	Outcome Outcome `json:"outcome"`
	// CheckedBy is the evidence the verdict rests on, strongest first (see
	// [Evidence]): what the bytes were checked against.
	CheckedBy []Evidence `json:"checked_by,omitempty"`
	// Framing is how the body was delimited: content-length, chunked,
	// end-stream (an HTTP/2 stream without a length), close, or none (HEAD,
	// 204, 304).
	Framing string `json:"framing,omitempty"`
	// FramingWhole, for a truncated response, says its own framing ended
	// as if whole (all of its Content-Length, its last chunk, or the FIN of
	// a close-delimited body): only end-to-end evidence caught the cut. A
	// tier that re-frames a cut body and ends its own response cleanly
	// launders the cut this way. False when the framing showed the cut (a
	// body short of its Content-Length, a chunked body without its last
	// chunk), which any client that checks framing sees.
	FramingWhole bool `json:"framing_whole,omitempty"`
	// Silence, for failures the client saw end cleanly (truncated, corrupt,
	// overlong), says whether the server knew; Silent ones are the headline.
	Silence Silence `json:"silence,omitempty"`
	// Cause says who cut a failed response: "system-under-test" when none of
	// our faults fired on the conns of the request the harness can see, or
	// "injected:<fault> at <where>" when one did (which fault, on which side
	// of which hop or in which proxy, from the listener's or proxy's own
	// report).
	Cause string `json:"cause,omitempty"`
	// Offset is where the body ended or first differed: Received for a
	// truncation, the first bad block for corruption, the expected length
	// (where the excess began) for an overlong body.
	Offset int64 `json:"offset"`

	DigestWant string `json:"digest_want,omitempty"`
	DigestGot  string `json:"digest_got,omitempty"`
	// DigestError says why a digest the response carried could not be
	// checked (an unknown algorithm such as sha-384, a malformed field); such
	// a digest is not evidence.
	DigestError string `json:"digest_error,omitempty"`
	Error       string `json:"error,omitempty"` // the error text, for people; decisions use Outcome

	// HTTP/2 detail. RSTStream is the error code of the RST_STREAM that
	// ended the stream ("INTERNAL_ERROR", "CANCEL"). GoAway says what a
	// GOAWAY did to the request: "retried" (its stream was above the last
	// stream id: not processed, sent again) or "lost" (the GOAWAY covered
	// its stream, and the connection ended before the stream did), with the
	// GOAWAY's last stream id and error code.
	RSTStream        string `json:"rst_stream,omitempty"`
	GoAway           string `json:"goaway,omitempty"`
	GoAwayLastStream uint32 `json:"goaway_last_stream,omitempty"`
	GoAwayCode       string `json:"goaway_code,omitempty"`

	ServerAccount *Account `json:"server_account,omitempty"`

	Start   time.Time     `json:"start"`             // when the request was sent
	Latency time.Duration `json:"latency_ns"`        // start to the end of the body (or failure)
	TTFB    time.Duration `json:"ttfb_ns,omitempty"` // start to the first response byte
	ConnID  string        `json:"conn_id,omitempty"`

	// Timeline is the flight recorder's account of the connection(s), kept
	// for failures only (the harness decides).
	Timeline Timeline `json:"timeline,omitempty"`
}

// End returns the time the request finished.
func (r *Record) End() time.Time { return r.Start.Add(r.Latency) }

// Validate checks what a reader needs to trust a record: a scenario name, a
// valid outcome, non-negative sizes. It names the first problem found.
func (r *Record) Validate() error {
	switch {
	case r.Scenario == "":
		return fmt.Errorf("record %d: empty scenario", r.Seq)
	case !r.Outcome.Valid():
		return fmt.Errorf("record %d: unknown outcome %q (accepted: %s)", r.Seq, r.Outcome, AcceptedOutcomes())
	case r.Expected < -1:
		return fmt.Errorf("record %d: expected %d bytes (accepted: -1 for unknown, or >= 0)", r.Seq, r.Expected)
	case r.Received < 0:
		return fmt.Errorf("record %d: received %d bytes (accepted: >= 0)", r.Seq, r.Received)
	case r.Latency < 0 || r.TTFB < 0:
		return fmt.Errorf("record %d: negative latency or ttfb", r.Seq)
	case !r.Silence.Valid():
		return fmt.Errorf("record %d: unknown silence %q (accepted: silent, noticed, unknown, injected, or none)", r.Seq, r.Silence)
	case r.Retries < 0:
		return fmt.Errorf("record %d: %d retries (accepted: >= 0)", r.Seq, r.Retries)
	case r.GoAway != "" && r.GoAway != GoAwayRetried && r.GoAway != GoAwayLost:
		return fmt.Errorf("record %d: unknown goaway %q (accepted: retried, lost, or none)", r.Seq, r.GoAway)
	}
	for _, e := range r.CheckedBy {
		if !e.Valid() {
			return fmt.Errorf("record %d: unknown evidence %q", r.Seq, e)
		}
	}
	return nil
}

// What a GOAWAY did to a request ([Record.GoAway]).
const (
	GoAwayRetried = "retried"
	GoAwayLost    = "lost"
)

// Silent reports whether the record is a proven silent failure.
func (r *Record) Silent() bool { return r.Silence == SilenceSilent && r.Outcome.CleanEnd() }

// Silence says whether the server knew of a failure the client saw end
// cleanly.
type Silence string

// The silence values.
const (
	// SilenceSilent: the server's own account says it sent everything, the
	// client saw a clean end, and no injected fault outside the server cut
	// the response. Nobody noticed: the headline number.
	SilenceSilent Silence = "silent"
	// SilenceNoticed: the server's account shows it knew (a write failed, or
	// it did not write everything).
	SilenceNoticed Silence = "noticed"
	// SilenceUnknown: the server kept no account (or it could not be read):
	// whether it knew cannot be said. Never counted as silent nor as noticed.
	SilenceUnknown Silence = "unknown"
	// SilenceInjected: one of our faults outside the server (client side, a
	// proxy in front of it) cut the response: the server could not have
	// known, and that is not its silence.
	SilenceInjected Silence = "injected"
)

// Valid reports whether s is a defined silence or empty.
func (s Silence) Valid() bool {
	switch s {
	case "", SilenceSilent, SilenceNoticed, SilenceUnknown, SilenceInjected:
		return true
	}
	return false
}

// CauseSystemUnderTest is the [Record.Cause] of a failure no injected fault
// explains.
const CauseSystemUnderTest = "system-under-test"

// InjectedCause is the [Record.Cause] of a failure one of our faults made:
// "injected:close-after=300KiB at proxy".
func InjectedCause(fault, where string) string { return "injected:" + fault + " at " + where }

// Account is a server's own account of one response: did it believe it
// sent everything? It is the JSON of the account protocol every origin
// publishes (package harness/account implements it for any http.Handler
// and documents it; imagesvc and the hyper target follow the same
// document), and what a record keeps of it.
type Account struct {
	RequestID     string `json:"request_id"`
	Method        string `json:"method,omitempty"`
	Path          string `json:"path,omitempty"`
	Status        int    `json:"status"`
	ContentLength int64  `json:"content_length"` // what the head promised; -1 none (chunked, close-delimited)
	BytesWritten  int64  `json:"bytes_written"`  // body bytes the handler's writes accepted
	WriteError    string `json:"write_error,omitempty"`
	// Error is the error the server answered with, for a non-2xx (as its
	// error body says it); optional.
	Error string `json:"error,omitempty"`
	// Complete: the handler finished, and every byte it promised (or wrote,
	// when it promised no length) was accepted without a write error.
	Complete bool `json:"complete"`
	// Finished is false while the handler still runs (a stalled response).
	Finished bool   `json:"finished"`
	ConnID   string `json:"conn_id,omitempty"`
	// ConnEnd is how the request's connection stood when the account was
	// read: "open", "closed", "error: ..." (a socket write failed below the
	// handler), or "" when the server does not track its connections.
	ConnEnd string    `json:"conn_end,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// Source says where the account came from when the server did not
	// publish it itself, e.g. "access log: <the line>" (a real server's
	// log read as its account); "" for an account the server published.
	Source string `json:"source,omitempty"`
}

// Event is one flight-recorder entry: what happened on a connection,
// when. It is the transport's own type, so a timeline goes from the socket
// to the results file without a second vocabulary.
type Event = transport.Event

// Timeline is a connection's events, oldest first.
type Timeline = transport.Timeline
