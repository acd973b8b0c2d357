package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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
func args(t *testing.T, c corev1.Container) (cmd string, flags map[string]string, pos []string) {
	t.Helper()
	require.NotEmpty(t, c.Args)
	flags = map[string]string{}
	for _, a := range c.Args[1:] {
		if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
			flags[name] = value
			continue
		}
		pos = append(pos, a)
	}
	return c.Args[0], flags, pos
}

func container(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	for _, c := range spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

// TestNightlyManifest: the Kubernetes manifest decodes strictly into the
// API types and its parts agree: the Indexed Job's completions are the
// shard count truncheck is given, the shards and the merge name the same
// run (one ConfigMap key) and results path on one volume, the merge waits
// as long as the shards may run, the target is a sidecar on loopback, the
// scenarios are valid scenario files, and the flags are truncheck's.
func TestNightlyManifest(t *testing.T) {
	f, err := os.Open("kubernetes/nightly.yaml")
	require.NoError(t, err)
	defer f.Close()
	m, err := decodeManifest(f)
	require.NoError(t, err)

	shards, merge := m.jobs["truncheck-shards"], m.jobs["truncheck-merge"]
	require.NotNil(t, shards)
	require.NotNil(t, merge)
	claim := m.claims["truncheck-results"]
	require.NotNil(t, claim)
	assert.Contains(t, claim.Spec.AccessModes, corev1.ReadWriteMany, "shards on several nodes write to it at once")

	// The shards.
	s := shards.Spec
	require.NotNil(t, s.CompletionMode)
	assert.Equal(t, batchv1.IndexedCompletion, *s.CompletionMode)
	require.NotNil(t, s.Completions)
	require.NotNil(t, s.Parallelism)
	assert.LessOrEqual(t, *s.Parallelism, *s.Completions)
	assert.Equal(t, corev1.RestartPolicyNever, s.Template.Spec.RestartPolicy)
	tc := container(t, s.Template.Spec, "truncheck")
	cmd, fl, pos := args(t, tc)
	assert.Equal(t, "check", cmd)
	assert.Empty(t, pos)
	assert.Equal(t, itoa(*s.Completions), fl["shards"], "--shards is the Job's completions")
	assert.NotContains(t, fl, "shard", "the index comes from JOB_COMPLETION_INDEX")
	assert.Equal(t, "$(RUN_ID)", fl["run-id"])
	assert.Equal(t, "/results/$(RUN_ID)", fl["out"])
	assert.True(t, strings.HasPrefix(fl["target"], "http://127.0.0.1:"), "check talks to loopback: the target is the pod's own sidecar")

	// The target: a sidecar that keeps running beside the shard.
	require.Len(t, s.Template.Spec.InitContainers, 1)
	side := s.Template.Spec.InitContainers[0]
	require.NotNil(t, side.RestartPolicy)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *side.RestartPolicy)
	require.NotEmpty(t, side.Ports)
	assert.Equal(t, "http://127.0.0.1:"+itoa(side.Ports[0].ContainerPort), fl["target"])

	// What a shard's exit codes mean to the Job.
	require.NotNil(t, s.PodFailurePolicy)
	var failJobOn []int32
	for _, r := range s.PodFailurePolicy.Rules {
		if r.Action == batchv1.PodFailurePolicyActionFailJob && r.OnExitCodes != nil {
			assert.Equal(t, "truncheck", *r.OnExitCodes.ContainerName)
			failJobOn = append(failJobOn, r.OnExitCodes.Values...)
		}
	}
	assert.Equal(t, []int32{2}, failJobOn, "bad usage fails the Job; a verdict never does (a shard exits 0 once its part is done)")

	// The scenarios the shards run are valid scenario files.
	cm := m.configMaps["truncheck-scenarios"]
	require.NotNil(t, cm)
	mount := mountOf(t, tc, "scenarios")
	require.True(t, strings.HasPrefix(fl["scenarios"], mount.MountPath+"/"))
	file := strings.TrimPrefix(fl["scenarios"], mount.MountPath+"/")
	require.Contains(t, cm.Data, file)
	list, err := scenarios.Parse(file, []byte(cm.Data[file]))
	require.NoError(t, err)
	assert.NotEmpty(t, list)
	for _, c := range list {
		assert.Equal(t, scenarios.Direct, c.Scenario().Topology.Mode, "%s: check runs direct scenarios only", c.Name())
	}

	// The merge.
	mc := container(t, merge.Spec.Template.Spec, "truncheck")
	cmd, mfl, mpos := args(t, mc)
	assert.Equal(t, "report", cmd)
	assert.Equal(t, []string{fl["out"]}, mpos, "the merge reads the run's directory the shards write")
	assert.False(t, strings.HasPrefix(mfl["out"], fl["out"]+"/"), "the merge writes outside the run's directory, which holds shards only")
	wait, err := time.ParseDuration(mfl["wait"])
	require.NoError(t, err)
	require.NotNil(t, s.ActiveDeadlineSeconds)
	shardsMax := time.Duration(*s.ActiveDeadlineSeconds) * time.Second
	assert.GreaterOrEqual(t, wait, shardsMax, "the merge waits as long as the shards may run")
	require.NotNil(t, merge.Spec.ActiveDeadlineSeconds)
	assert.Greater(t, time.Duration(*merge.Spec.ActiveDeadlineSeconds)*time.Second, wait, "and is not stopped while it waits")
	require.NotNil(t, merge.Spec.BackoffLimit)
	assert.Zero(t, *merge.Spec.BackoffLimit, "a FAIL verdict is not retried")

	// One run id and one volume for both.
	for _, c := range []corev1.Container{tc, mc} {
		require.Len(t, c.Env, 1)
		e := c.Env[0]
		assert.Equal(t, "RUN_ID", e.Name)
		require.NotNil(t, e.ValueFrom)
		require.NotNil(t, e.ValueFrom.ConfigMapKeyRef)
		assert.Equal(t, "truncheck-run", e.ValueFrom.ConfigMapKeyRef.Name)
		assert.Equal(t, "run-id", e.ValueFrom.ConfigMapKeyRef.Key)
		assert.Equal(t, "/results", mountOf(t, c, "results").MountPath)
		require.NotNil(t, c.SecurityContext)
		assert.Equal(t, int64(65532), *c.SecurityContext.RunAsUser, "the image's user")
		assert.Equal(t, c.Image, tc.Image)
	}
	// truncheck takes the arguments as they are: the shard starts (and
	// finds no target here), the merge waits (briefly), then fails the run
	// on the three shards that never came.
	bin := cgoFreeBinary(t)
	root := t.TempDir()
	tc.Args = override(tc.Args, "target", "http://127.0.0.1:1") // nothing listens on port 1
	tc.Args = override(tc.Args, "start-timeout", "100ms")
	tc.Args = override(tc.Args, "scenarios", scenarioFile(t, cm.Data[file]))
	runArgs(t, bin, tc, root, exitEnv)
	mc.Args = override(mc.Args, "wait", "100ms")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "run-test"), 0o755))
	runArgs(t, bin, mc, root, exitFailed)

	for _, j := range []*batchv1.Job{shards, merge} {
		var claimName string
		for _, v := range j.Spec.Template.Spec.Volumes {
			if v.Name == "results" && v.PersistentVolumeClaim != nil {
				claimName = v.PersistentVolumeClaim.ClaimName
			}
		}
		assert.Equal(t, claim.Name, claimName, j.Name)
	}
}

func mountOf(t *testing.T, c corev1.Container, volume string) corev1.VolumeMount {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return m
		}
	}
	t.Fatalf("container %s does not mount %s", c.Name, volume)
	return corev1.VolumeMount{}
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

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// scenarioFile writes a ConfigMap's scenario file where the binary reads it.
func scenarioFile(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenarios.yaml")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return path
}
