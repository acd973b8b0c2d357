// Package results records, summarises and reports what the harness found.
//
// Data path:
//
//	harness verifier ──Record──> Writer ──> records.jsonl   (appended, fsynced ≥ 1/s)
//	                     │
//	                     └──────> Summary.Add (per scenario; HDR histograms,
//	                                 bounded series, first few failures)
//	                                   │ Close, harness sets Met/Reason
//	                                   v
//	                         ScenarioResult ... ──> RunResult
//	                                                  │
//	          ┌─────────────┬─────────────┬───────────┼─────────────┐
//	          v             v             v           v             v
//	      WriteText     WriteJSON     WriteJUnit   WriteHTML   Compare(baseline)
//	      (terminal)   summary.json   junit.xml   report.html  -> []Finding (gate)
//
//	records.jsonl / summary.json from several runners ──> Merge ──> RunResult
//
// results imports no other project package; the harness converts its own
// types into [Record], [Account] and [Event].
package results
