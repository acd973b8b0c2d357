package results

import (
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/truncheck/truncheck/transport"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestMain(m *testing.M) {
	if path := os.Getenv(killChildEnv); path != "" {
		os.Exit(killChild(path)) // the child half of TestWriterSurvivesSIGKILL
	}
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// rec builds a deterministic record; failures get an account and a
// timeline like the harness would attach.
func rec(scenario string, seq int64, o Outcome) Record {
	r := Record{
		Run: "r1", Scenario: scenario, Seed: 42, Seq: seq,
		Key: "photo-4mp/resize:w=800/png", Layout: "client-tcp>svc-unix",
		Method: "GET", URL: fmt.Sprintf("http://127.0.0.1:1/images/photo-4mp?n=%d", seq),
		RequestID: fmt.Sprintf("req-%d", seq), Status: 200,
		Expected: 3_300_000, Received: 3_300_000, Outcome: o, Offset: 3_300_000,
		DigestWant: "sha-256=:abc=:", DigestGot: "sha-256=:abc=:", Framing: "content-length",
		CheckedBy: []Evidence{DigestEvidence("sha-256"), EvidenceReference, EvidenceContentLength},
		Start:     t0.Add(time.Duration(seq) * 50 * time.Millisecond),
		Latency:   time.Duration(10+seq%7) * time.Millisecond,
		TTFB:      time.Duration(2+seq%3) * time.Millisecond,
		ConnID:    fmt.Sprintf("svc-%d", seq),
	}
	if o != Complete {
		r.Received = 219_264 + seq
		r.Offset = r.Received
		r.DigestGot = "sha-256=:zzz=:"
		if o.CleanEnd() {
			r.Silence, r.Cause = SilenceSilent, CauseSystemUnderTest
		}
		r.ServerAccount = &Account{Status: 200, ContentLength: 3_300_000, BytesWritten: 3_300_000, Complete: true}
		r.Error = "body ended after 219264 of 3300000 bytes"
		r.Timeline = []Event{
			{At: 0, Kind: transport.EventAccept},
			{At: 1200 * time.Microsecond, Kind: transport.EventPartialWrite, N: 219_264, Of: 3_300_000},
			{At: 1300 * time.Microsecond, Kind: transport.EventWouldBlock},
			{At: 1400 * time.Microsecond, Kind: transport.EventCloseWrite, Note: "buffered-shutdown"},
		}
	}
	return r
}
