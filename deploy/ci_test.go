package deploy

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// workflow is the part of a CI workflow file this test reads.
type workflow struct {
	Jobs map[string]struct {
		Needs    any    `json:"needs"`
		If       string `json:"if"`
		Strategy struct {
			FailFast *bool `json:"fail-fast"`
			Matrix   struct {
				Shard []int `json:"shard"`
			} `json:"matrix"`
		} `json:"strategy"`
		Steps []struct {
			Uses string            `json:"uses"`
			Run  string            `json:"run"`
			If   string            `json:"if"`
			With map[string]string `json:"with"`
		} `json:"steps"`
	} `json:"jobs"`
}

// ciProblems says where the CI example's parts disagree: the matrix lists
// shards 0 to N-1 and each shard is told it is one of N, under one run id;
// every shard runs to its end and uploads its results whatever happened
// (fail-fast off), and the merge runs after all of them, even when one
// failed, over the directory their uploads make.
func ciProblems(w *workflow) []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	shard, merge := w.Jobs["shard"], w.Jobs["merge"]
	n := len(shard.Strategy.Matrix.Shard)
	for i, k := range shard.Strategy.Matrix.Shard {
		if i != k {
			bad("the matrix lists shards %v, want 0 to %d", shard.Strategy.Matrix.Shard, n-1)
			break
		}
	}
	if shard.Strategy.FailFast == nil || *shard.Strategy.FailFast {
		bad("fail-fast is on: one shard failing would cancel the others")
	}
	var soak, uploadName, uploadPath, uploadIf string
	for _, s := range shard.Steps {
		if strings.Contains(s.Run, "truncheck soak") {
			soak = s.Run
		}
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
			uploadName, uploadPath, uploadIf = s.With["name"], s.With["path"], s.If
		}
	}
	if want := fmt.Sprintf("--shard ${{ matrix.shard }}/%d", n); !strings.Contains(soak, want) {
		bad("the soak step does not say %q: %s", want, soak)
	}
	if !regexp.MustCompile(`--run-id \S*\$\{\{ github\.run_id \}\}`).MatchString(soak) || strings.Contains(soak, "run_attempt") {
		bad("the run id is not the workflow run's alone (the same for every shard and a shard run again): %s", soak)
	}
	out1 := regexp.MustCompile(`--out (\S+)`).FindStringSubmatch(soak)
	if len(out1) != 2 || uploadPath != out1[1]+"/" {
		bad("the upload %q is not the run's directory %q", uploadPath, out1)
	}
	if uploadName != "shard-${{ matrix.shard }}" || uploadIf != "always()" {
		bad("each shard uploads as shard-K whatever happened: name %q, if %q", uploadName, uploadIf)
	}
	if merge.Needs != "shard" || merge.If != "always()" {
		bad("the merge needs the shards and runs when one failed too (it reports the missing one): needs %v, if %q", merge.Needs, merge.If)
	}
	var download map[string]string
	var report string
	for _, s := range merge.Steps {
		if strings.HasPrefix(s.Uses, "actions/download-artifact@") {
			download = s.With
		}
		if strings.Contains(s.Run, "truncheck report") {
			report = s.Run
		}
	}
	if download["pattern"] != "shard-*" || download["merge-multiple"] != "true" {
		bad("the merge does not gather every shard-* upload into one directory: %v", download)
	}
	if !strings.HasSuffix(strings.TrimSpace(report), " "+download["path"]) {
		bad("report does not merge the downloaded run's directory %q: %s", download["path"], report)
	}
	return out
}

func readWorkflow(t *testing.T) *workflow {
	t.Helper()
	b, err := os.ReadFile("ci/nightly-soak.yml")
	require.NoError(t, err)
	var w workflow
	require.NoError(t, yaml.Unmarshal(b, &w))
	return &w
}

func TestCIMatrix(t *testing.T) {
	assert.Empty(t, ciProblems(readWorkflow(t)))
}

// TestCIProblemsCanFail: each disagreement the example could grow is found.
func TestCIProblemsCanFail(t *testing.T) {
	tests := []struct {
		name   string
		change func(w *workflow)
		want   string
	}{
		{"a shard left out", func(w *workflow) { j := w.Jobs["shard"]; j.Strategy.Matrix.Shard = []int{0, 1, 3}; w.Jobs["shard"] = j }, "the matrix lists shards [0 1 3]"},
		{"a count that disagrees", func(w *workflow) {
			j := w.Jobs["shard"]
			j.Strategy.Matrix.Shard = append(j.Strategy.Matrix.Shard, 4)
			w.Jobs["shard"] = j
		}, `does not say "--shard ${{ matrix.shard }}/5"`},
		{"fail-fast", func(w *workflow) { j := w.Jobs["shard"]; j.Strategy.FailFast = nil; w.Jobs["shard"] = j }, "fail-fast is on"},
		{"a run id per attempt", func(w *workflow) {
			j := w.Jobs["shard"]
			for i := range j.Steps {
				j.Steps[i].Run = strings.ReplaceAll(j.Steps[i].Run, "github.run_id }}", "github.run_id }}-${{ github.run_attempt }}")
			}
			w.Jobs["shard"] = j
		}, "the run id is not the workflow run's alone"},
		{"a merge only when all passed", func(w *workflow) { j := w.Jobs["merge"]; j.If = ""; w.Jobs["merge"] = j }, "runs when one failed too"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := readWorkflow(t)
			tt.change(w)
			assert.Contains(t, strings.Join(ciProblems(w), "\n"), tt.want)
		})
	}
}
