// Command truncheck finds HTTP responses that arrive shorter than they should while
// everything reports success. Each subcommand is a thin call into the packages, one
// file each:
//
//	list        the scenario catalog, one line each                  (scenarios)
//	run         run scenarios, print the table, write results         (harness, results)
//	soak        loop a scenario mix until the time is up              (harness, results)
//	serve       the image service alone                               (imagesvc, transport)
//	proxy       the fault-injecting proxy alone                       (transport)
//	check       hunt truncations in a server we did not write         (scenarios.Hunt, harness.Target)
//	report      re-render and merge stored results                    (results)
//	realworld   hyper #4022 on real hyper 0.14.19, stock and fixed    (harness.Target, targets/hyper)
//	survey      real servers from Debian's packages by conditions     (targets/survey, harness.Target)
//	completion  bash and zsh completion, generated from the command table
//
// Data path of run, check, realworld and survey (soak: the same, with a
// results.Aggregator instead of kept reports, so its memory stays flat for hours;
// survey: a survey.Runner starts, reloads, restarts and stops each server, gives
// each cell a harness.Target whose accounts are the server's access log, and the
// plan carries the table's grid, rendered as DIR/survey.md and in report.html):
//
//	scenarios.Builtin() + --scenarios files ──> pick ──> []scenarios.Compiled
//	   (check --path: scenarios.Hunt ──> one compiled scenario per condition)
//	   │  per scenario: harness.Options{Writer, Run, Seed/Count/Duration, Target}
//	   ▼
//	harness.RunScenario ──record by record──> results.Writer ──> DIR/records.jsonl (synced ≥ 1/s)
//	   │ harness.Report (verdict + summary)
//	   ▼
//	results.NewRunResult ──> results.WriteReports ──> DIR/summary.json, junit.xml, report.html
//	   │                └──> results.Compare(baseline) with --gate
//	   ▼
//	stdout: the table, details of what failed, the report paths; exit code
//	stderr: a line per scenario as it ends, progress between them (progress.go)
//
// A run split across processes or machines (shard.go: --shard K/N, or JOB_COMPLETION_INDEX
// with --shards N, and --run-id; results.Shard says what each shard does):
//
//	shard K of N ──> the scenarios it has a part of ──> harness.Options{Shard}: the request
//	   │               sequence numbers it owns (soak: rounds K, K+N, ...; every request of them)
//	   ▼
//	OUT/shard-K-of-N/ run.json (run id, shard, scenario set), records.jsonl, summary.json
//	   │  exit 0 once its part is done: a part is judged alone, the verdict is the merge's
//	   ▼
//	report [--wait D] OUT ──> results.MergeFiles: one run's shards, each once ──> one table,
//	   summary, JUnit, HTML; a shard missing or killed fails the verdict (exit 1)
//
// Exit codes: 0 success, 1 an expectation or the gate failed, 2 bad usage or input
// (one line on stderr naming the problem, never a stack trace), 3 the environment,
// 130 interrupted after writing what ran. Help goes to stdout when asked for; every
// address is a URL (address.go).
package main
