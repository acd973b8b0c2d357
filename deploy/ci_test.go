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

// TestCIMatrix: the CI example's parts agree: the matrix lists shards 0
// to N-1 and each shard is told it is one of N; every shard runs to the
// end and uploads its results whatever happened (fail-fast off), and the
// merge runs after all of them, even when one failed, over what they
// uploaded.
func TestCIMatrix(t *testing.T) {
	b, err := os.ReadFile("ci/nightly-soak.yml")
	require.NoError(t, err)
	var w workflow
	require.NoError(t, yaml.Unmarshal(b, &w))
	shard, merge := w.Jobs["shard"], w.Jobs["merge"]

	n := len(shard.Strategy.Matrix.Shard)
	require.Positive(t, n)
	for i, k := range shard.Strategy.Matrix.Shard {
		assert.Equal(t, i, k, "the matrix lists shards 0 to N-1")
	}
	require.NotNil(t, shard.Strategy.FailFast)
	assert.False(t, *shard.Strategy.FailFast, "one shard failing must not cancel the others")

	var soak, uploadName, uploadPath string
	for _, s := range shard.Steps {
		if strings.Contains(s.Run, "truncheck soak") {
			soak = s.Run
		}
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") {
			assert.Equal(t, "always()", s.If, "a shard's results are uploaded whatever happened")
			uploadName, uploadPath = s.With["name"], s.With["path"]
		}
	}
	require.NotEmpty(t, soak)
	assert.Contains(t, soak, fmt.Sprintf("--shard ${{ matrix.shard }}/%d", n))
	assert.Regexp(t, `--run-id \S*\$\{\{ github\.run_id \}\}\S*`, soak, "one run id for every shard")
	assert.NotContains(t, soak, "run_attempt", "a shard run again keeps its run's id")
	out := regexp.MustCompile(`--out (\S+)`).FindStringSubmatch(soak)
	require.Len(t, out, 2)
	assert.Equal(t, out[1]+"/", uploadPath, "the upload is the run's directory")
	assert.Equal(t, "shard-${{ matrix.shard }}", uploadName)

	assert.Equal(t, "shard", merge.Needs)
	assert.Equal(t, "always()", merge.If, "the merge runs when a shard failed too: it reports the missing one")
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
	require.NotNil(t, download)
	assert.Equal(t, "shard-*", download["pattern"])
	assert.Equal(t, "true", download["merge-multiple"])
	require.NotEmpty(t, report)
	assert.True(t, strings.HasSuffix(strings.TrimSpace(report), " "+download["path"]), "report merges the downloaded run's directory: %s", report)
}
