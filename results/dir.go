package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The file names of a results directory, so every subcommand and runner
// writes and finds the same ones.
const (
	RecordsFile = "records.jsonl" // one Record per line, appended during the run
	PlanFile    = "run.json"      // Plan, written before the first request
	SummaryFile = "summary.json"  // RunResult, written at the end
	JUnitFile   = "junit.xml"
	HTMLFile    = "report.html"
)

// WriteReports writes summary.json, junit.xml and report.html into dir
// (created if needed). Each file is written to a temporary name, synced
// and renamed, so a crash never leaves half a report.
func WriteReports(dir string, rr *RunResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer, *RunResult) error
	}{
		{SummaryFile, WriteJSON},
		{JUnitFile, WriteJUnit},
		{HTMLFile, WriteHTML},
	} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), func(w io.Writer) error { return f.write(w, rr) }); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic writes a file through a temporary name in the same
// directory, fsync and rename: readers see the old file or the new one,
// never half of one.
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	return writeFileAtomic(path, write)
}

func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("results: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	return nil
}

// Load reads one source of results and judges it:
//   - a directory: its records.jsonl is the truth (every request as it was
//     recorded, a run killed with SIGKILL included), judged with the
//     expectations of its run.json (the plan written when the run started);
//     summary.json adds what records do not hold (notes, findings, restarts)
//     when it belongs to the same run (and shard), and stands alone only
//     when there are no records;
//   - a file ending in .jsonl: records, aggregated per scenario (no
//     expectations: only silent failures fail it);
//   - a file ending in .json: a summary, judged again from its counts.
//
// Warnings (a torn last line, a summary left by another run) are returned,
// never fatal.
func Load(path string) (*RunResult, []Warning, error) {
	src, warns, err := loadSource(path)
	if err != nil {
		return nil, warns, err
	}
	return src.rr, warns, nil
}

// source is one loaded source of results, with what a merge of shards
// checks: its plan and whether the run that wrote it finished.
type source struct {
	path string
	rr   *RunResult
	plan *Plan // nil: a file, or a directory without a plan
	// finished: the directory's summary.json belongs to its records' run
	// (and shard), so that run ended and wrote its reports.
	finished bool
}

func loadSource(path string) (*source, []Warning, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("results: %w", err)
	}
	if !st.IsDir() {
		switch {
		case strings.HasSuffix(path, ".jsonl"):
			rr, warns, err := loadRecords(path, nil)
			if rr != nil {
				rr.Rejudge()
			}
			if err != nil {
				return nil, warns, err
			}
			return &source{path: path, rr: rr}, warns, nil
		case strings.HasSuffix(path, ".json"):
			rr, err := ReadJSONFile(path)
			if err != nil {
				return nil, nil, err
			}
			rr.Sources = []string{path}
			rr.Rejudge()
			return &source{path: path, rr: rr, finished: true}, nil, nil
		}
		return nil, nil, fmt.Errorf("results: %s: unknown kind of file (accepted: a results directory, *.jsonl records, *.json summary)", path)
	}
	plan, err := ReadPlan(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	var sum *RunResult
	sumPath := filepath.Join(path, SummaryFile)
	if _, err := os.Stat(sumPath); err == nil {
		if sum, err = ReadJSONFile(sumPath); err != nil {
			return nil, nil, err
		}
	}
	recs := filepath.Join(path, RecordsFile)
	if _, err := os.Stat(recs); err != nil {
		if sum == nil {
			return nil, nil, fmt.Errorf("results: %s holds neither %s nor %s (nor results directories of a sharded run)", path, RecordsFile, SummaryFile)
		}
		sum.Sources = []string{sumPath}
		sum.Rejudge()
		return &source{path: path, rr: sum, plan: plan, finished: true}, nil, nil
	}
	rr, warns, err := loadRecords(recs, plan)
	if err != nil {
		return nil, warns, err
	}
	finished := false
	if sum != nil {
		switch {
		case sum.Run != rr.Run:
			warns = append(warns, Warning{File: sumPath, Msg: fmt.Sprintf("summary of run %q, records of run %q: the summary is ignored", sum.Run, rr.Run)})
		case sum.Shard != rr.Shard:
			warns = append(warns, Warning{File: sumPath, Msg: fmt.Sprintf("summary of shard %q, plan of shard %q: the summary is ignored", sum.Shard, rr.Shard)})
		default:
			adoptSummary(rr, sum)
			finished = true
		}
	}
	rr.Rejudge()
	return &source{path: path, rr: rr, plan: plan, finished: finished}, warns, nil
}

// loadRecords aggregates a records file; with a plan, scenarios come in
// the plan's order with its expectations, and a planned scenario without a
// record is kept (with no requests: not met).
func loadRecords(path string, plan *Plan) (*RunResult, []Warning, error) {
	a := NewAggregator(0)
	runs := map[string]bool{}
	var first string
	warns, err := ScanFile(path, func(r *Record) error {
		if !runs[r.Run] {
			runs[r.Run] = true
			if first == "" {
				first = r.Run
			}
		}
		a.Add(r)
		return nil
	})
	if err != nil {
		return nil, warns, err
	}
	if len(runs) > 1 {
		warns = append(warns, Warning{File: path, Msg: fmt.Sprintf("records of %d runs in one file", len(runs))})
	}
	got := a.Close(first)
	rr := &RunResult{Run: first, Sources: []string{path}}
	if plan == nil {
		rr.Scenarios = got.Scenarios
		return rr, warns, nil
	}
	if rr.Run == "" {
		rr.Run = plan.Run
	} else if plan.Run != "" && plan.Run != rr.Run {
		warns = append(warns, Warning{File: path, Msg: fmt.Sprintf("records of run %q, plan of run %q", rr.Run, plan.Run)})
	}
	rr.Version = plan.Version
	rr.Grid = plan.Grid.Clone()
	rr.Shard = plan.Shard
	byName := map[string]*ScenarioResult{}
	for i := range got.Scenarios {
		byName[got.Scenarios[i].Scenario] = &got.Scenarios[i]
	}
	for _, p := range plan.Scenarios {
		sr := ScenarioResult{Scenario: p.Name, Expectation: p.Expectation.Clone(), Seed: p.Seed, Layout: p.Layout, Faults: p.Faults,
			Notes: slices.Clone(p.Notes)}
		if g, ok := byName[p.Name]; ok {
			sr.Summary = g.Summary
			delete(byName, p.Name)
		} else {
			sr.Summary = NewSummary(p.Name)
		}
		rr.Scenarios = append(rr.Scenarios, sr)
	}
	for i := range got.Scenarios {
		if g, ok := byName[got.Scenarios[i].Scenario]; ok {
			warns = append(warns, Warning{File: path, Msg: fmt.Sprintf("scenario %q has records but is not in the plan", g.Scenario)})
			rr.Scenarios = append(rr.Scenarios, *g)
		}
	}
	return rr, warns, nil
}

// adoptSummary copies from a run's own summary what records do not hold.
func adoptSummary(rr, sum *RunResult) {
	by := map[string]*ScenarioResult{}
	for i := range sum.Scenarios {
		by[sum.Scenarios[i].Scenario] = &sum.Scenarios[i]
	}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		s, ok := by[sr.Scenario]
		if !ok {
			continue
		}
		if sr.Expectation.Kind == "" {
			sr.Expectation = s.Expectation.Clone()
			sr.Seed, sr.Layout, sr.Faults = s.Seed, s.Layout, s.Faults
		}
		sr.Restarts, sr.Aborted = s.Restarts, s.Aborted
		sr.Notes = slices.Clone(s.Notes)
		sr.Findings = slices.Clone(s.Findings)
	}
	rr.Gated, rr.Findings = sum.Gated, slices.Clone(sum.Findings)
	if sum.Grid != nil {
		rr.Grid = sum.Grid.Clone() // written last: it knows the rows that could not run
	}
	if rr.Version == "" {
		rr.Version = sum.Version
	}
	rr.Created = sum.Created
}

// MergeFiles loads every path with [Load] and merges them with [Merge].
// A directory that holds results directories instead of results (a
// sharded run's directory, see [ExpandDirs]) stands for them.
//
// Shards are merged only with the other shards of their run, from their
// results directories: shards of two runs, of different counts, commands
// or scenario sets, a shard given twice from two directories, or a source
// that is not a shard among shards are errors naming the sources. The
// merge of a run's shards carries findings ([CheckShards]) that fail it
// when a shard is missing or did not finish (its directory has records
// but no summary: it was killed, or is still running): the run's verdict
// needs every part, a missing part is not a smaller sample.
func MergeFiles(paths ...string) (*RunResult, []Warning, error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("results: nothing to merge (give at least one results directory or file)")
	}
	paths, err := ExpandDirs(paths)
	if err != nil {
		return nil, nil, err
	}
	// The plans first: shards that do not belong together are refused
	// before any records file, which may be large, is read.
	srcs := make([]*source, len(paths))
	for i, p := range paths {
		srcs[i] = &source{path: p}
		st, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("results: %w", err)
		}
		if st.IsDir() {
			plan, err := ReadPlan(p)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, nil, err
			}
			srcs[i].plan = plan
		}
	}
	warns, err := checkShards(srcs)
	if err != nil {
		return nil, warns, err
	}
	for _, s := range srcs {
		src, w, err := loadSource(s.path)
		warns = append(warns, w...)
		if err != nil {
			return nil, warns, err
		}
		if len(src.rr.Sources) == 0 {
			src.rr.Sources = []string{s.path}
		}
		s.rr, s.finished = src.rr, src.finished
	}
	findings := shardFindings(srcs)
	runs := make([]*RunResult, len(srcs))
	for i, s := range srcs {
		runs[i] = s.rr
	}
	if len(runs) == 1 && len(findings) == 0 {
		return runs[0], warns, nil
	}
	rr, w := Merge(runs...)
	rr.Findings = append(rr.Findings, findings...)
	rr.Rejudge()
	return rr, append(warns, w...), nil
}

// ExpandDirs replaces each directory among paths that holds results
// directories rather than results of its own (no plan, records or
// summary: the directory of a sharded run, whose shards each wrote
// DIR/shard-K-of-N) by those directories, in name order. Other paths are
// kept as given.
func ExpandDirs(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		sub, err := resultDirs(p)
		if err != nil {
			return nil, err
		}
		if len(sub) == 0 {
			out = append(out, p)
			continue
		}
		out = append(out, sub...)
	}
	return out, nil
}

// resultDirs lists the results directories inside dir when dir holds no
// results of its own; nil otherwise (or when dir is not a directory).
func resultDirs(dir string) ([]string, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() || isResultsDir(dir) {
		return nil, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	var out []string
	for _, e := range entries { // os.ReadDir sorts by name
		if p := filepath.Join(dir, e.Name()); e.IsDir() && isResultsDir(p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func isResultsDir(dir string) bool {
	for _, name := range []string{PlanFile, RecordsFile, SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// PrepareDir makes dir a fresh results directory: created if needed, and
// the files of an earlier run in it (records, plan, summary, JUnit, HTML)
// removed, so a run killed before its end never leaves another run's
// summary looking current.
func PrepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	for _, name := range []string{RecordsFile, PlanFile, SummaryFile, JUnitFile, HTMLFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("results: %w", err)
		}
	}
	return nil
}

// Plan is what a run set out to do, written as run.json before its first
// request: the run id, the version, and every scenario with its
// expectation and seed (and, for replays, the scenario as compiled and the
// target's recipe, in the harness's own JSON). Records alone then suffice
// to judge a run that was killed before its summary.
type Plan struct {
	Run     string    `json:"run"`
	Version string    `json:"version,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Command string    `json:"command,omitempty"` // run, check, soak, realworld
	// Shard is the part of a sharded run this directory holds; zero for a
	// whole run, and in plans written before runs were sharded.
	Shard Shard `json:"shard,omitzero"`
	// ScenarioSet is the [Fingerprint] of every scenario of the whole run
	// as compiled, the same in each of its shards whatever part a shard
	// runs; "" in plans written before it existed.
	ScenarioSet string `json:"scenario_set,omitempty"`
	// Scenarios are the scenarios this directory's run set out to run: for
	// a shard, those it has a part of.
	Scenarios []PlannedScenario `json:"scenarios"`
	Target    *PlannedTarget    `json:"target,omitempty"` // check's server; nil for in-process runs
	// Grid lays the scenarios out as a table (the survey's servers by
	// conditions), so the records alone render it again.
	Grid *Grid `json:"grid,omitempty"`
}

// PlannedTarget is the external server a check ran against, as its
// command line gave it. (A hyper target scenario carries its own recipe
// in its spec.)
type PlannedTarget struct {
	URL          string        `json:"url"`
	Exec         []string      `json:"exec,omitempty"`
	RestartEvery time.Duration `json:"restart_every_ns,omitempty"`
	Overlap      bool          `json:"overlap,omitempty"`
	ReadyPath    string        `json:"ready_path,omitempty"`
	AccountPath  string        `json:"account_path,omitempty"`
	// Protocol is the HTTP version asked for ("http/1.1", "h2"; "" the
	// server's choice by ALPN); TLS how an https:// target was trusted.
	Protocol    string      `json:"protocol,omitempty"`
	TLS         *PlannedTLS `json:"tls,omitempty"`
	AllowRemote bool        `json:"allow_remote,omitempty"`
}

// PlannedTLS is how a check trusted its https:// target: the files as
// given (paths, not contents), or no check at all.
type PlannedTLS struct {
	CAFile     string `json:"ca_file,omitempty"`
	ClientCert string `json:"client_cert,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	Insecure   bool   `json:"insecure,omitempty"`
}

// PlannedScenario is one scenario of a [Plan].
type PlannedScenario struct {
	Name        string          `json:"name"`
	Expectation Expectation     `json:"expectation"`
	Seed        int64           `json:"seed"`
	Layout      string          `json:"layout,omitempty"`
	Faults      string          `json:"faults,omitempty"`
	Notes       []string        `json:"notes,omitempty"`
	Spec        json.RawMessage `json:"spec,omitempty"` // the compiled scenario, for --replay
}

// WritePlan writes run.json into dir atomically.
func WritePlan(dir string, p *Plan) error {
	return writeFileAtomic(filepath.Join(dir, PlanFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(p); err != nil {
			return fmt.Errorf("results: write plan: %w", err)
		}
		return nil
	})
}

// ReadPlan reads dir/run.json; the error wraps fs.ErrNotExist when there is
// none.
func ReadPlan(dir string) (*Plan, error) {
	path := filepath.Join(dir, PlanFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("results: %s: bad plan: %w", path, err)
	}
	for i, sc := range p.Scenarios {
		if sc.Name == "" {
			return nil, fmt.Errorf("results: %s: scenario %d has no name", path, i)
		}
	}
	if err := p.Shard.Validate(); err != nil {
		return nil, fmt.Errorf("results: %s: bad plan: %w", path, err)
	}
	return &p, nil
}
