package results

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The file names of a results directory, so every subcommand and runner
// writes and finds the same ones.
const (
	RecordsFile = "records.jsonl" // one Record per line, appended during the run
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

// Load reads one source of results:
//   - a directory: its summary.json if present (verdicts included), else
//     its records.jsonl (expectations unknown: a run killed before its
//     summary was written);
//   - a file ending in .jsonl: records, aggregated per scenario;
//   - a file ending in .json: a summary.
//
// Warnings (a torn last line) are returned, never fatal.
func Load(path string) (*RunResult, []Warning, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("results: %w", err)
	}
	if st.IsDir() {
		sum := filepath.Join(path, SummaryFile)
		if _, err := os.Stat(sum); err == nil {
			rr, err := ReadJSONFile(sum)
			return rr, nil, err
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("results: %w", err)
		}
		recs := filepath.Join(path, RecordsFile)
		if _, err := os.Stat(recs); err != nil {
			return nil, nil, fmt.Errorf("results: %s holds neither %s nor %s", path, SummaryFile, RecordsFile)
		}
		path = recs
	}
	switch {
	case strings.HasSuffix(path, ".jsonl"):
		a := NewAggregator(0)
		warns, err := ScanFile(path, func(r *Record) error { a.Add(r); return nil })
		if err != nil {
			return nil, warns, err
		}
		rr := a.Close(runOf(path))
		rr.Sources = []string{path}
		return rr, warns, nil
	case strings.HasSuffix(path, ".json"):
		rr, err := ReadJSONFile(path)
		return rr, nil, err
	}
	return nil, nil, fmt.Errorf("results: %s: unknown kind of file (accepted: a results directory, *.jsonl records, *.json summary)", path)
}

func runOf(path string) string {
	return filepath.Base(filepath.Dir(path))
}

// MergeFiles loads every path with [Load] and merges them with [Merge].
func MergeFiles(paths ...string) (*RunResult, []Warning, error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("results: nothing to merge (give at least one results directory or file)")
	}
	var runs []*RunResult
	var warns []Warning
	for _, p := range paths {
		rr, w, err := Load(p)
		warns = append(warns, w...)
		if err != nil {
			return nil, warns, err
		}
		if len(rr.Sources) == 0 {
			rr.Sources = []string{p}
		}
		runs = append(runs, rr)
	}
	return Merge(runs...), warns, nil
}
