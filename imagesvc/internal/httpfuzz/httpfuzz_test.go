package httpfuzz

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestParseTargetOnlyLoopbackOrUnix(t *testing.T) {
	for _, good := range []string{"tcp:127.0.0.1:8080", "tcp:[::1]:80", "tcp:localhost:1", "unix:/tmp/s.sock"} {
		_, err := ParseTarget(good)
		assert.NoError(t, err, good)
	}
	for _, bad := range []string{"tcp:10.0.0.1:80", "tcp:example.com:80", "tcp:0.0.0.0:80", "udp:127.0.0.1:53", "unix:", "127.0.0.1:80", "tcp:127.0.0.1"} {
		_, err := ParseTarget(bad)
		assert.Error(t, err, bad)
	}
}

// fakeService is a stand-in on a real loopback socket that answers well or
// badly on purpose, so that every check of the fuzzer is seen to fire.
func fakeService(t *testing.T) *httptest.Server {
	img := []byte("not really an image, but bytes with a digest")
	digest := func(b []byte) string {
		s := sha256.Sum256(b)
		return "sha-256=:" + base64.StdEncoding.EncodeToString(s[:]) + ":"
	}
	jsonErr := func(w http.ResponseWriter, status int) {
		body := `{"error":"nope","accepted":"yes"}`
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/images":
			fmt.Fprint(w, `[{"name":"p","width":64,"height":48,"kind":"photo"},{"name":"logo","width":8,"height":4,"kind":"overlay"}]`)
		case "/bad-digest":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Digest", digest([]byte("other bytes")))
			w.Write(img)
		case "/no-digest":
			w.Header().Set("Content-Type", "image/jpeg")
			w.Write(img)
		case "/plain-error":
			http.Error(w, "bad", http.StatusBadRequest)
		case "/crash":
			jsonErr(w, http.StatusInternalServerError)
		case "/busy":
			jsonErr(w, http.StatusServiceUnavailable)
		case "/refuse":
			jsonErr(w, http.StatusUnprocessableEntity)
		default: // every image and every transform
			w.Header().Set("Content-Type", "image/jpeg")
			w.Header().Set("Content-Digest", digest(img))
			w.Write(img)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func targetOf(srv *httptest.Server) Target {
	return Target{Network: "tcp", Addr: strings.TrimPrefix(srv.URL, "http://")}
}

func get(path string, e expect) *probe {
	return &probe{class: ValidChain, what: "GET " + path, head: []byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), expect: e}
}

// TestChecksFire: each promise the fuzzer checks is broken once on purpose
// and reported; its twin passes.
func TestChecksFire(t *testing.T) {
	tgt := targetOf(fakeService(t))
	tests := []struct {
		name        string
		give        *probe
		wantResult  string
		wantProblem string // substring; "" for no violation
	}{
		{"good 200", get("/images/p", expectOK), "200", ""},
		{"digest mismatch", get("/bad-digest", expectOK), "200", "Content-Digest sha-256 mismatch"},
		{"image without digest", get("/no-digest", expectOK), "200", "200 without Content-Digest"},
		{"plain-text error", get("/plain-error", expectAny), "400", "error not JSON"},
		{"500", get("/crash", expectAny), "500", "server error"},
		{"503 is no violation of a valid request", get("/busy", expectOK), "503", ""},
		{"refusal of a valid request", get("/refuse", expectOK), "422", "valid request refused"},
		{"refusal expected, got it", get("/refuse", expectRefusal), "422", ""},
		{"refusal expected, got 200", get("/images/p", expectRefusal), "200", "accepted with 200"},
		{"hang-up", &probe{class: Abandon, head: get("/images/p", expectHangUp).head, hangUpAfter: time.Millisecond, expect: expectHangUp}, resultHungUp, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := execute(t.Context(), tgt, tt.give, 10*time.Second, 0)
			assert.Equal(t, tt.wantResult, o.result)
			if tt.wantProblem == "" {
				assert.Empty(t, o.problem)
			} else {
				assert.Contains(t, o.problem, tt.wantProblem)
			}
		})
	}
}

// TestGeneratorDrawsEveryClass: every class of FuzzMix comes out of the
// generator well-formed (a head ending in an empty line, except the ones
// meant to be broken), and the same seed draws the same probes.
func TestGeneratorDrawsEveryClass(t *testing.T) {
	cat := &catalog{
		photos:  []image{{"photo-small", 640, 480, "photo"}, {"photo-24mp", 6000, 4000, "photo"}},
		overlay: image{"logo", 240, 96, "overlay"},
		uploads: map[string][]upload{},
	}
	for _, f := range formats {
		cat.uploads[f] = []upload{{body: bytes.Repeat([]byte{1}, 500), size: dims{64, 48}}}
	}
	draw := func(seed uint64) []*probe {
		g := &generator{rng: rand.New(rand.NewPCG(seed, 0)), cat: cat}
		var ps []*probe
		for range 3000 {
			ps = append(ps, g.next(FuzzMix))
		}
		return ps
	}
	ps := draw(42)
	seen := map[Class]int{}
	for _, p := range ps {
		seen[p.class]++
		if p.class != SlowlorisStall && p.class != Malformed {
			assert.True(t, bytes.HasSuffix(p.head, []byte("\r\n\r\n")), "%s: %q", p.class, p.what)
		}
	}
	for c := range FuzzMix {
		assert.Positive(t, seen[c], "class %s drawn", c)
	}
	again := draw(42)
	for i := range ps {
		require.Equal(t, ps[i].what, again[i].what, "probe %d with the same seed", i)
	}
}

// TestRunStopsByItself: a run ends at its probe count (and at its
// duration), reporting every probe.
func TestRunStopsByItself(t *testing.T) {
	tgt := targetOf(fakeService(t))
	rep, err := Run(t.Context(), Options{Target: tgt, Duration: time.Minute, MaxProbes: 25, Concurrency: 4, Mix: Mix{ValidChain: 1}})
	require.NoError(t, err)
	assert.Equal(t, 25, rep.Probes)
	assert.Equal(t, 25, rep.Classes[ValidChain].Outcomes["200"])
	assert.Zero(t, rep.Violated, rep.Table())
	assert.Contains(t, rep.Table(), "valid-chain")

	// no count: the duration alone ends it (the test's own timeout is the judge)
	rep, err = Run(t.Context(), Options{Target: tgt, Duration: 300 * time.Millisecond, Concurrency: 2, Mix: Mix{ValidChain: 1}})
	require.NoError(t, err)
	assert.Positive(t, rep.Probes)

	_, err = Run(t.Context(), Options{Target: Target{Network: "tcp", Addr: "192.0.2.1:80"}, Duration: time.Second})
	assert.ErrorContains(t, err, "only loopback")
}

func TestSlope(t *testing.T) {
	t0 := time.Now()
	flat := []Sample{{At: t0, RSS: 100 << 20}, {At: t0.Add(time.Minute), RSS: 100 << 20}, {At: t0.Add(2 * time.Minute), RSS: 100 << 20}}
	assert.Zero(t, Slope(flat))
	var rising []Sample
	for i := range 10 {
		rising = append(rising, Sample{At: t0.Add(time.Duration(i) * 30 * time.Second), RSS: int64(100+i) << 20})
	}
	assert.InDelta(t, 2<<20, Slope(rising), 1, "1 MB every 30s")
}

func TestReadSampleOfThisProcess(t *testing.T) {
	s, err := ReadSample(os.Getpid())
	require.NoError(t, err)
	assert.Positive(t, s.RSS)
	assert.GreaterOrEqual(t, s.HWM, s.RSS)
	assert.GreaterOrEqual(t, s.CPU, time.Duration(0))
}
