// Package results records, summarises and reports what the harness found.
//
// Data path:
//
//	harness verifier ──Record──> Writer ──> records.jsonl   (appended, fsynced ≥ 1/s)
//	                     │
//	                     └──────> Aggregator / Summary.Add (per scenario: HDR
//	                                 histograms, bounded series, first failures)
//	                                   │ Close; the harness sets Expect/Met/Reason
//	                                   v
//	                         ScenarioResult ... ──> RunResult
//	                                                  │
//	          ┌─────────────┬─────────────┬───────────┼─────────────┐
//	          v             v             v           v             v
//	      WriteText     WriteJSON     WriteJUnit   WriteHTML   Compare(baseline)
//	      (terminal)   summary.json   junit.xml   report.html  -> []Finding (gate)
//
//	results dirs, *.jsonl, *.json from several runners ──> Load / MergeFiles ──> Merge ──> RunResult
//
//	RunResult.Grid (from the plan: rows × columns, one scenario and its control per cell)
//	   ──> GridView ──> WriteGridMarkdown (the survey's table) and the grid section of WriteHTML
//
// A sharded run (N processes or machines, one [Shard] each, one run id):
//
//	shard 0/N ──> RUN/shard-0-of-N/ {run.json: run id, shard, scenario set; records.jsonl; summary.json}
//	shard 1/N ──> RUN/shard-1-of-N/  ...            (each does its own part: Shard.Owns, Shard.Round)
//	   ...
//	RUN/ ──> ExpandDirs ──> MergeFiles: every source a shard of one run (id, count, command, scenario
//	         set), each shard once ──> Merge (re-judged from the records) + findings [shards]:
//	         a shard missing or without its summary (killed) fails the verdict
//
// # Files
//
// A results directory holds [PlanFile], [RecordsFile], [SummaryFile],
// [JUnitFile] and [HTMLFile].
//
// records.jsonl: one [Record] per line, UTF-8 JSON, keys in snake_case,
// durations as integer nanoseconds in keys ending in _ns, times RFC 3339:
//
//	{"run":"r1","scenario":"unix-slow-reader","seed":42,"seq":7,"key":"photo-4mp/resize:w=800/png",
//	 "layout":"client-unix-tls-h2>svc","method":"GET","url":"/images/photo-4mp?format=tiff","request_id":"req-7","status":200,
//	 "proto":"HTTP/2.0","tls":"TLS 1.3",
//	 "expected":3300000,"received":219264,"outcome":"truncated","silent":true,"offset":219264,
//	 "digest_want":"sha-256=:...:","digest_got":"sha-256=:...:","error":"...",
//	 "server_account":{"status":200,"content_length":3300000,"bytes_written":3300000,"complete":true},
//	 "start":"2026-11-27T02:00:00.35Z","latency_ns":16000000,"ttfb_ns":3000000,"conn_id":"svc-7",
//	 "timeline":[{"at_ns":1200000,"kind":"partial-write","n":219264,"of":3300000}, ...]}
//
// (one line in the file). HTTP/2 adds rst_stream (the error code of the
// RST_STREAM that ended a stream), goaway ("lost", or "retried" for a
// request the client sent again), goaway_last_stream, goaway_code; retries
// counts the times the client sent a request again. The [Writer] appends
// and fsyncs at least every second; a reader skips a torn last line with a
// [Warning] and fails on a bad line anywhere else, naming file and line.
//
// summary.json: a [RunResult], indented: run id, scenarios (expectation,
// verdict, reason, faults, seed, [Summary]) and the total. Each summary
// carries its HDR histograms (latency_hdr, ttfb_hdr, offset_hdr) in the
// standard HdrHistogram V2 compressed base64 form, next to percentiles for
// people; the histograms are what [Merge] and re-closing use.
//
// junit.xml: the Jenkins/Surefire structure, one testsuite per run, one
// testcase per scenario ([JUnitSuites]). report.html: one self-contained
// file, inline CSS and SVG, no script needed, no network.
//
// results imports no other project package; the harness converts its own
// types into [Record], [Account] and [Event].
package results
