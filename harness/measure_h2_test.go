package harness

// What Go's HTTP/2 server does on a graceful shutdown with large streams in
// flight to slow readers, measured against HTTP/1.1 with the same readers
// and deadlines. The catalog's h2-graceful-shutdown records the outcome in
// quick form; this prints the wider sweep behind it. It runs only with
// TRUNCHECK_MEASURE_H2=1 (about a minute) and asserts nothing:
//
//	TRUNCHECK_MEASURE_H2=1 go test -run '^TestMeasureH2Shutdown$' -v ./harness

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

func TestMeasureH2Shutdown(t *testing.T) {
	if os.Getenv("TRUNCHECK_MEASURE_H2") == "" {
		t.Skip("a measurement: TRUNCHECK_MEASURE_H2=1 runs it")
	}
	o := origin.Bodies()
	verySlow := transport.MustFaults(transport.SlowRead(16<<10, 10*time.Millisecond))
	slow := transport.MustFaults(transport.SlowRead(64<<10, 2*time.Millisecond))
	for _, c := range []struct {
		name  string
		hop   scenarios.Hop
		grace time.Duration
		count int
	}{
		{"http/1.1 over TLS, very slow readers, 5s", scenarios.Hop{TLS: true, Protocol: scenarios.HTTP1, ClientFaults: verySlow}, 5 * time.Second, 8},
		{"h2 over TLS, very slow reader, 5s", scenarios.Hop{TLS: true, Protocol: scenarios.HTTP2, ClientFaults: verySlow}, 5 * time.Second, 8},
		{"h2 over TLS, very slow reader, 20s", scenarios.Hop{TLS: true, Protocol: scenarios.HTTP2, ClientFaults: verySlow}, 20 * time.Second, 8},
		{"h2 over TLS, slow reader, 5s", scenarios.Hop{TLS: true, Protocol: scenarios.HTTP2, ClientFaults: slow}, 5 * time.Second, 16},
		{"h2c, very slow reader, 5s", scenarios.Hop{Protocol: scenarios.HTTP2, ClientFaults: verySlow}, 5 * time.Second, 8},
	} {
		c.hop.Network = scenarios.Unix
		s := scenarios.Scenario{Name: "h2-shutdown", Origin: "bodies", Concurrency: 4, Count: c.count, Seed: 1,
			Topology: scenarios.Topology{Hops: []scenarios.Hop{c.hop}},
			Workload: scenarios.Workload{Requests: []scenarios.Request{{Path: "/bytes/3MB"}}},
			Restarts: scenarios.Restarts{Every: 400 * time.Millisecond, Grace: c.grace},
			Expect:   results.Expectation{Kind: results.ExpectComplete}}
		var w Records
		rep, err := RunScenario(t.Context(), compile(t, s), Options{Origin: &o, Writer: &w})
		if err != nil {
			t.Fatal(err)
		}
		var lost, maxLatency = 0, time.Duration(0)
		for _, r := range w.All() {
			if r.GoAway == results.GoAwayLost {
				lost++
			}
			maxLatency = max(maxLatency, r.Latency)
		}
		offsets := "-"
		if rep.Summary.Offsets.Count > 0 {
			offsets = results.Bytes(rep.Summary.Offsets.Min) + ".." + results.Bytes(rep.Summary.Offsets.Max)
		}
		t.Logf("%-42s %-22s %-34s cut at %-18s goaway lost %d, retried %d, slowest %s, restarts %d, wall %s",
			c.name, rep.Layout, outcomeText(rep.Summary), offsets, lost, rep.Summary.Retried, maxLatency.Round(10*time.Millisecond),
			rep.Restarts, rep.Wall.Round(10*time.Millisecond))
	}
}

func outcomeText(s *results.Summary) string {
	out := ""
	for _, o := range results.Outcomes() {
		if n := s.Outcomes[o]; n > 0 {
			if out != "" {
				out += ", "
			}
			out += strconv.FormatInt(n, 10) + " " + string(o)
		}
	}
	return out
}
