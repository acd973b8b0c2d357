package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/truncheck/truncheck/scenarios"
)

// manifest is kubernetes/nightly.yaml decoded strictly, by kind.
type manifest struct {
	claims     map[string]*corev1.PersistentVolumeClaim
	configMaps map[string]*corev1.ConfigMap
	jobs       map[string]*batchv1.Job
}

// decodeManifest decodes every document of a manifest into the
// Kubernetes API types: an unknown or misspelt field, a duplicate key, a
// value of the wrong type or an unexpected kind is an error.
func decodeManifest(r io.Reader) (*manifest, error) {
	m := &manifest{claims: map[string]*corev1.PersistentVolumeClaim{}, configMaps: map[string]*corev1.ConfigMap{}, jobs: map[string]*batchv1.Job{}}
	docs := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, err
		}
		var name string
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 PersistentVolumeClaim":
			var o corev1.PersistentVolumeClaim
			err, name = yaml.UnmarshalStrict(doc, &o), o.Name
			m.claims[name] = &o
		case "v1 ConfigMap":
			var o corev1.ConfigMap
			err, name = yaml.UnmarshalStrict(doc, &o), o.Name
			m.configMaps[name] = &o
		case "batch/v1 Job":
			var o batchv1.Job
			err, name = yaml.UnmarshalStrict(doc, &o), o.Name
			m.jobs[name] = &o
		default:
			return nil, errors.New("unexpected kind " + tm.APIVersion + " " + tm.Kind + " (accepted: v1 PersistentVolumeClaim, v1 ConfigMap, batch/v1 Job)")
		}
		if err != nil {
			return nil, err
		}
		if name == "" {
			return nil, errors.New(tm.Kind + " without a name")
		}
	}
}

// TestDecodeIsStrict proves the decoder can fail: a misspelt field, a
// field of the wrong type and a duplicate key are errors.
func TestDecodeIsStrict(t *testing.T) {
	for _, bad := range []string{
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {completion: 4}\n",
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {completions: four}\n",
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {completions: 4, completions: 5}\n",
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
	} {
		_, err := decodeManifest(strings.NewReader(bad))
		assert.Error(t, err, bad)
	}
	m, err := decodeManifest(strings.NewReader("apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec: {completions: 4}\n"))
	require.NoError(t, err)
	assert.Equal(t, int32(4), *m.jobs["j"].Spec.Completions)
}

// args parses a truncheck container's arguments: the subcommand, its
// --name=value flags, and the positional arguments.
func args(c *corev1.Container) (cmd string, flags map[string]string, pos []string) {
	flags = map[string]string{}
	if len(c.Args) == 0 {
		return "", flags, nil
	}
	for _, a := range c.Args[1:] {
		if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
			flags[name] = value
			continue
		}
		pos = append(pos, a)
	}
	return c.Args[0], flags, pos
}

func container(spec *corev1.PodSpec, name string) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	return nil
}

func mountOf(c *corev1.Container, volume string) string {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m.MountPath
		}
	}
	return ""
}

// problems says where the manifest's parts disagree with each other or
// with truncheck: the Indexed Job's completions are the shard count
// truncheck is given, the shards and the merge name the same run (one
// ConfigMap key) and results path on one volume, the merge waits as long
// as the shards may run, the target is a sidecar on loopback, a verdict
// never fails the Job, and the scenarios are valid scenario files.
func problems(m *manifest) []string {
	var out []string
	bad := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	shards, merge, claim := m.jobs["truncheck-shards"], m.jobs["truncheck-merge"], m.claims["truncheck-results"]
	if shards == nil || merge == nil || claim == nil {
		return []string{"want the Jobs truncheck-shards and truncheck-merge and the claim truncheck-results"}
	}
	if !slices.Contains(claim.Spec.AccessModes, corev1.ReadWriteMany) {
		bad("the results volume is not ReadWriteMany: shards on several nodes write to it at once")
	}

	s := shards.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
		bad("the shards' Job is not Indexed")
	}
	if s.Completions == nil || s.Parallelism == nil || *s.Parallelism > *s.Completions || s.ActiveDeadlineSeconds == nil {
		bad("the shards' Job needs completions, parallelism (at most completions) and a deadline")
		return out
	}
	if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		bad("restartPolicy %q: a pod failure policy needs Never", s.Template.Spec.RestartPolicy)
	}
	tc := container(&s.Template.Spec, "truncheck")
	if tc == nil {
		return append(out, "no truncheck container in the shards' Job")
	}
	cmd, fl, pos := args(tc)
	if cmd != "check" || len(pos) > 0 {
		bad("the shards run %q %q, want check and flags", cmd, pos)
	}
	if fl["shards"] != strconv.Itoa(int(*s.Completions)) {
		bad("--shards=%s but completions %d", fl["shards"], *s.Completions)
	}
	if _, ok := fl["shard"]; ok {
		bad("--shard in a pod template gives every pod the same shard: the index comes from JOB_COMPLETION_INDEX")
	}
	if fl["run-id"] != "$(RUN_ID)" || fl["out"] != "/results/$(RUN_ID)" {
		bad("--run-id=%s --out=%s, want $(RUN_ID) and /results/$(RUN_ID)", fl["run-id"], fl["out"])
	}
	if len(s.Template.Spec.InitContainers) != 1 {
		bad("want one sidecar: the target")
	} else {
		side := s.Template.Spec.InitContainers[0]
		if side.RestartPolicy == nil || *side.RestartPolicy != corev1.ContainerRestartPolicyAlways || len(side.Ports) == 0 {
			bad("the target is not a sidecar (an init container with restartPolicy Always and a port)")
		} else if want := fmt.Sprintf("http://127.0.0.1:%d", side.Ports[0].ContainerPort); fl["target"] != want {
			bad("--target=%s, want the sidecar on loopback, %s (check talks to loopback only)", fl["target"], want)
		}
	}
	var failJobOn []int32
	if p := s.PodFailurePolicy; p != nil {
		for _, r := range p.Rules {
			if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil {
				failJobOn = append(failJobOn, r.OnExitCodes.Values...)
			}
		}
	}
	if !slices.Equal(failJobOn, []int32{2}) {
		bad("the Job fails at once on exit codes %v, want [2]: bad usage, which every shard would repeat", failJobOn)
	}
	if file, ok := strings.CutPrefix(fl["scenarios"], mountOf(tc, "scenarios")+"/"); !ok {
		bad("--scenarios=%s is not on the scenarios volume", fl["scenarios"])
	} else if cm := m.configMaps["truncheck-scenarios"]; cm == nil || cm.Data[file] == "" {
		bad("no ConfigMap truncheck-scenarios with %s", file)
	} else if list, err := scenarios.Parse(file, []byte(cm.Data[file])); err != nil {
		bad("the scenarios: %v", err)
	} else {
		for _, c := range list {
			if c.Scenario().Topology.Mode != scenarios.Direct {
				bad("scenario %s is not direct: check runs direct scenarios only", c.Name())
			}
		}
	}

	mc := container(&merge.Spec.Template.Spec, "truncheck")
	if mc == nil {
		return append(out, "no truncheck container in the merge's Job")
	}
	cmd, mfl, mpos := args(mc)
	if cmd != "report" || !slices.Equal(mpos, []string{fl["out"]}) {
		bad("the merge runs %q on %q, want report on the shards' %s", cmd, mpos, fl["out"])
	}
	if strings.HasPrefix(mfl["out"], fl["out"]+"/") {
		bad("the merge writes %s, inside the run's directory, which must hold shards only", mfl["out"])
	}
	wait, err := time.ParseDuration(mfl["wait"])
	shardsMax := time.Duration(*s.ActiveDeadlineSeconds) * time.Second
	switch {
	case err != nil:
		bad("--wait=%s: %v", mfl["wait"], err)
	case wait < shardsMax:
		bad("the merge waits %s, the shards may run %s", wait, shardsMax)
	case merge.Spec.ActiveDeadlineSeconds == nil || time.Duration(*merge.Spec.ActiveDeadlineSeconds)*time.Second <= wait:
		bad("the merge's deadline does not leave it its --wait=%s", wait)
	}
	if merge.Spec.BackoffLimit == nil || *merge.Spec.BackoffLimit != 0 {
		bad("the merge is retried: a FAIL verdict would run it again")
	}

	for _, c := range []*corev1.Container{tc, mc} {
		if len(c.Env) != 1 || c.Env[0].Name != "RUN_ID" || c.Env[0].ValueFrom == nil || c.Env[0].ValueFrom.ConfigMapKeyRef == nil ||
			c.Env[0].ValueFrom.ConfigMapKeyRef.Name != "truncheck-run" || c.Env[0].ValueFrom.ConfigMapKeyRef.Key != "run-id" {
			bad("%s: RUN_ID does not come from ConfigMap truncheck-run, key run-id", c.Args)
		}
		if mountOf(c, "results") != "/results" {
			bad("%s: the results volume is not at /results", c.Args)
		}
		if c.SecurityContext == nil || c.SecurityContext.RunAsUser == nil || *c.SecurityContext.RunAsUser != 65532 {
			bad("%s: not the image's user 65532", c.Args)
		}
		if c.Image != tc.Image {
			bad("the shards run %s, the merge %s", tc.Image, c.Image)
		}
	}
	for _, j := range []*batchv1.Job{shards, merge} {
		var claimName string
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.Name == "results" && v.PersistentVolumeClaim != nil {
				claimName = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claimName != claim.Name {
			bad("%s's results volume is claim %q, not %q", j.Name, claimName, claim.Name)
		}
	}
	return out
}

func readManifest(t *testing.T) *manifest {
	t.Helper()
	f, err := os.Open("kubernetes/nightly.yaml")
	require.NoError(t, err)
	defer f.Close()
	m, err := decodeManifest(f)
	require.NoError(t, err)
	return m
}

// TestNightlyManifest: the manifest decodes strictly, its parts agree,
// and truncheck takes its containers' arguments as they are: the shard
// starts (and finds no target here), the merge waits (briefly), then
// fails the run on the three shards that never came.
func TestNightlyManifest(t *testing.T) {
	m := readManifest(t)
	assert.Empty(t, problems(m))

	bin := cgoFreeBinary(t)
	root := t.TempDir()
	tc := *container(&m.jobs["truncheck-shards"].Spec.Template.Spec, "truncheck")
	_, fl, _ := args(&tc)
	file := strings.TrimPrefix(fl["scenarios"], mountOf(&tc, "scenarios")+"/")
	tc.Args = override(tc.Args, "target", "http://127.0.0.1:1") // nothing listens on port 1
	tc.Args = override(tc.Args, "start-timeout", "100ms")
	tc.Args = override(tc.Args, "scenarios", scenarioFile(t, m.configMaps["truncheck-scenarios"].Data[file]))
	runArgs(t, bin, tc, root, exitEnv)
	mc := *container(&m.jobs["truncheck-merge"].Spec.Template.Spec, "truncheck")
	mc.Args = override(mc.Args, "wait", "100ms")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "run-test"), 0o755))
	runArgs(t, bin, mc, root, exitFailed)
}

// TestManifestProblemsCanFail: each disagreement the manifest could grow
// is found.
func TestManifestProblemsCanFail(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *manifest)
		want   string
	}{
		{"completions and --shards", func(m *manifest) { *m.jobs["truncheck-shards"].Spec.Completions = 5 }, "--shards=4 but completions 5"},
		{"not indexed", func(m *manifest) { m.jobs["truncheck-shards"].Spec.CompletionMode = nil }, "not Indexed"},
		{"a fixed shard", func(m *manifest) { shardArgs(m, "--shard=0/4") }, "gives every pod the same shard"},
		{"target elsewhere", func(m *manifest) { shardArgs(m, "--target=http://target:8080") }, "want the sidecar on loopback"},
		{"a verdict fails the Job", func(m *manifest) {
			m.jobs["truncheck-shards"].Spec.PodFailurePolicy.Rules[0].OnExitCodes.Values = []int32{1, 2}
		}, "on exit codes [1 2]"},
		{"bad scenarios", func(m *manifest) {
			m.configMaps["truncheck-scenarios"].Data["scenarios.yaml"] = "name: x\ncount: many\n"
		}, "the scenarios:"},
		{"merge too impatient", func(m *manifest) { mergeArgs(m, "--wait=1h") }, "the merge waits 1h0m0s, the shards may run 9h0m0s"},
		{"merge reads elsewhere", func(m *manifest) {
			c := container(&m.jobs["truncheck-merge"].Spec.Template.Spec, "truncheck")
			c.Args[len(c.Args)-1] = "/results"
		}, "want report on the shards' /results/$(RUN_ID)"},
		{"merge writes among the shards", func(m *manifest) { mergeArgs(m, "--out=/results/$(RUN_ID)/merged") }, "inside the run's directory"},
		{"another run id", func(m *manifest) {
			container(&m.jobs["truncheck-merge"].Spec.Template.Spec, "truncheck").Env[0].ValueFrom.ConfigMapKeyRef.Key = "run"
		}, "RUN_ID does not come from ConfigMap truncheck-run, key run-id"},
		{"another volume", func(m *manifest) {
			m.jobs["truncheck-merge"].Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName = "other"
		}, `truncheck-merge's results volume is claim "other"`},
		{"a merge retried", func(m *manifest) { *m.jobs["truncheck-merge"].Spec.BackoffLimit = 2 }, "the merge is retried"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := readManifest(t)
			tt.change(m)
			assert.Contains(t, strings.Join(problems(m), "\n"), tt.want)
		})
	}
}

// shardArgs and mergeArgs set flags in the Jobs' truncheck containers.
func shardArgs(m *manifest, flags ...string) {
	c := container(&m.jobs["truncheck-shards"].Spec.Template.Spec, "truncheck")
	for _, f := range flags {
		name, value, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		c.Args = override(c.Args, name, value)
	}
}

func mergeArgs(m *manifest, flags ...string) {
	c := container(&m.jobs["truncheck-merge"].Spec.Template.Spec, "truncheck")
	for _, f := range flags {
		name, value, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		c.Args = override(c.Args, name, value)
	}
}

// runArgs runs the binary with a container's arguments ($(RUN_ID) made
// a test directory's name, JOB_COMPLETION_INDEX set as in a pod) for as
// long as it takes to parse them, and fails on a flag it does not have
// or a value it refuses: a manifest's typo would otherwise show only on
// the cluster.
func runArgs(t *testing.T, bin string, c corev1.Container, root string, want int) {
	t.Helper()
	argv := make([]string, len(c.Args))
	for i, a := range c.Args {
		a = strings.ReplaceAll(a, "$(RUN_ID)", "run-test")
		argv[i] = strings.ReplaceAll(a, "/results", root)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, argv...)
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX=0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%q:\n%s", argv, out)
	assert.Equal(t, want, ee.ExitCode(), "%q:\n%s", argv, out)
	for _, bad := range []string{"flag provided but not defined", "invalid value", "(see truncheck", "--"} {
		assert.NotContains(t, string(out), bad, "%q:\n%s", argv, out)
	}
}

// The exit codes the runs above end with: the shard finds no target (3),
// the merge finds 3 shards of 4 missing (1). Bad flags would be 2.
const (
	exitFailed = 1
	exitEnv    = 3
)

// override sets --name=value in args, in place of the manifest's value.
func override(args []string, name, value string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if strings.HasPrefix(a, "--"+name+"=") {
			out[i] = "--" + name + "=" + value
			return out
		}
	}
	return append(out, "--"+name+"="+value)
}

// scenarioFile writes a ConfigMap's scenario file where the binary reads it.
func scenarioFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenarios.yaml")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return path
}
