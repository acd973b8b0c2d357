package results

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// WriteJSON writes the run as indented JSON: the summary file. Histograms
// are embedded (HDR V2 base64), so the file can be merged and compared
// exactly later.
func WriteJSON(w io.Writer, rr *RunResult) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rr); err != nil {
		return fmt.Errorf("results: write summary JSON: %w", err)
	}
	return nil
}

// ReadJSON reads a summary written by [WriteJSON]. Unknown fields are
// ignored (files from newer versions stay readable); bad values (an
// unknown outcome or expectation, a broken histogram) are errors. The
// histograms are the source of truth: summaries are re-closed only when
// merged.
func ReadJSON(r io.Reader, name string) (*RunResult, error) {
	var rr RunResult
	if err := json.NewDecoder(r).Decode(&rr); err != nil {
		return nil, fmt.Errorf("%s: bad summary JSON: %w", name, err)
	}
	if rr.Scenarios == nil && rr.Total == nil {
		return nil, fmt.Errorf("%s: not a truncheck summary (no \"scenarios\" and no \"total\")", name)
	}
	for i := range rr.Scenarios {
		sr := &rr.Scenarios[i]
		if sr.Scenario == "" {
			return nil, fmt.Errorf("%s: scenario %d has no name", name, i)
		}
		if sr.Summary == nil {
			sr.Summary = NewSummary(sr.Scenario)
		}
		sr.Summary.init()
		if err := sr.Summary.Series.validate(); err != nil {
			return nil, fmt.Errorf("%s: scenario %q: %w", name, sr.Scenario, err)
		}
	}
	if rr.Total == nil {
		rr.Retotal()
	}
	rr.Total.init()
	if err := rr.Total.Series.validate(); err != nil {
		return nil, fmt.Errorf("%s: total: %w", name, err)
	}
	return &rr, nil
}

// ReadJSONFile is [ReadJSON] over a file.
func ReadJSONFile(path string) (*RunResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("results: %w", err)
	}
	defer f.Close()
	return ReadJSON(f, path)
}
