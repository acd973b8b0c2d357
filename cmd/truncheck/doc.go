// Command truncheck finds HTTP responses that arrive shorter than they should while
// everything reports success. Each subcommand is a thin call into the packages, one
// file each:
//
//	list       the scenario catalog, one line each                  (scenarios)
//	run        run scenarios, print the table, write results         (harness, results)
//	soak       loop a scenario mix until the time is up              (harness, results)
//	serve      the image service alone                               (imagesvc, transport)
//	proxy      the fault-injecting proxy alone                       (transport)
//	check      hunt truncations in a server we did not write         (harness.Target)
//	report     re-render and merge stored results                    (results)
//	realworld  hyper #4022 on real hyper 0.14.19, stock and fixed    (harness.Target, targets/hyper)
//	survey     real servers from Debian's packages by conditions      (targets/survey, harness.Target)
//
// Data path of run, check, realworld and survey (soak: the same, with a
// results.Aggregator instead of kept reports, so its memory stays flat for hours;
// survey: a survey.Runner starts, reloads, restarts and stops each server, gives
// each cell a harness.Target whose accounts are the server's access log, and the
// plan carries the table's grid, rendered as DIR/survey.md and in report.html):
//
//	scenarios.Builtin() + --scenarios files ──> pick ──> []scenarios.Scenario
//	   │  per scenario: harness.Options{Writer, Run, Seed/Count/Duration, Target}
//	   ▼
//	harness.RunScenario ──record by record──> results.Writer ──> DIR/records.jsonl (synced ≥ 1/s)
//	   │ harness.Report (verdict + summary)
//	   ▼
//	results.NewRunResult ──> results.WriteReports ──> DIR/summary.json, junit.xml, report.html
//	   │                └──> results.Compare(baseline) with --gate
//	   ▼
//	stdout: harness.Table, details of what failed, the report paths; exit code
//
// Exit codes: 0 success, 1 an expectation or the gate failed, 2 bad usage or input
// (one line on stderr naming the problem, never a stack trace).
package main
