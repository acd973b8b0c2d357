package results_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/truncheck/truncheck/results"
)

// Example shows the harness's side: append records as requests finish,
// aggregate them, record the verdict, write the reports.
func Example() {
	dir, err := os.MkdirTemp("", "results-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	w, err := results.NewWriter(filepath.Join(dir, results.RecordsFile), results.WriterConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	agg := results.NewAggregator(0)
	start := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	for i := range int64(10) {
		r := results.Record{
			Scenario: "unix-slow-reader", Seq: i, Expected: 3_300_000, Received: 3_300_000,
			Outcome: results.Complete, Offset: 3_300_000, Start: start.Add(time.Duration(i) * time.Second),
			Latency: 40 * time.Millisecond, Status: 200,
			CheckedBy: []results.Evidence{results.DigestEvidence("crc32c"), results.EvidenceContentLength},
		}
		if i == 7 { // the server believed it sent everything; the client got 219 KB and a FIN
			r.Outcome, r.Received, r.Offset, r.Silence = results.Truncated, 219_264, 219_264, results.SilenceSilent
			r.ServerAccount = &results.Account{BytesWritten: 3_300_000, Complete: true}
		}
		if err := w.Write(&r); err != nil { // safe from many goroutines
			fmt.Println(err)
		}
		agg.Add(&r)
	}
	if err := w.Close(); err != nil {
		fmt.Println(err)
	}

	run := agg.Close("example")
	sr := &run.Scenarios[0]
	sr.Expectation = results.Expectation{Kind: results.ExpectComplete}
	run.Rejudge()

	if err := results.WriteReports(dir, run); err != nil {
		fmt.Println(err)
	}
	fmt.Println(sr.Met, sr.Reason)
	for _, f := range results.Compare(run, nil, results.Tolerance{}) {
		fmt.Println(f)
	}
	// Output:
	// false 1 of 10 responses did not verify (9 complete, 1 truncated; 1 silent)
	// FAIL unix-slow-reader [silent]: 1 of 10 responses failed silently (9 complete, 1 truncated)
	// FAIL unix-slow-reader [expectation]: expected complete: 1 of 10 responses did not verify (9 complete, 1 truncated; 1 silent)
}
