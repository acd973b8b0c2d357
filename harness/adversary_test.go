package harness

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/harness/digest"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/targets/adversary"
)

// The adversarial targets: servers we did not write the verdicts for, each
// cutting or mislabelling responses in a known way, and the verdict each
// must give. They run on loopback as external targets (`truncheck check`).

const adversarySize = 700_000

// adversaryOrigin serves the adversary origin behind the account
// middleware; it returns its base URL and the body.
func adversaryOrigin(t *testing.T) (string, []byte) {
	t.Helper()
	body := adversary.Body(adversarySize)
	store := account.NewStore(0)
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/", store.Handler())
	mux.Handle("/", store.Wrap(adversary.NewOrigin(body).Handler()))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnContext = account.ConnContext
	srv.Listener = account.Listener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL, body
}

func launderingGateway(t *testing.T, upstream string, oneIn int, seed uint64) (*adversary.Gateway, string) {
	t.Helper()
	gw := &adversary.Gateway{Upstream: upstream, CutOneIn: oneIn, Seed: seed}
	srv := httptest.NewServer(gw)
	t.Cleanup(func() {
		srv.Close()
		if gw.Client != nil {
			gw.Client.CloseIdleConnections()
		}
	})
	return gw, srv.URL
}

func adversaryScenario(name string, reqs ...scenarios.Request) scenarios.Scenario {
	return scenarios.Scenario{
		Name:        name,
		Workload:    scenarios.Workload{Requests: reqs},
		Concurrency: 4, Count: 24, Seed: 1,
		Expect: results.Expectation{Kind: results.ExpectComplete},
	}
}

func runAgainst(t *testing.T, s scenarios.Scenario, url string, accounts bool) (Report, []results.Record) {
	t.Helper()
	var w Records
	tg := &Target{URL: url}
	if accounts {
		tg.AccountPath = "/accounts/{id}"
	}
	rep, err := RunScenario(t.Context(), compile(t, s), Options{Target: tg, Writer: &w})
	require.NoError(t, err, rep.Text())
	return rep, w.All()
}

// TestPoisonedReferenceNeverInverts: a gateway cuts one response in three
// and re-frames it as a clean chunked 200 with no digest. A single
// reference fetch would be cut one time in three and invert every verdict
// (cut bodies "complete", whole ones "overlong"). Over many seeds, every
// response must be judged by what it really is: a body shorter than the
// origin's is truncated, a whole one complete (by framing and agreeing
// fetches only, and flagged so), never overlong.
func TestPoisonedReferenceNeverInverts(t *testing.T) {
	origin, body := adversaryOrigin(t)
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	var cutRefs int
	for seed := range seeds {
		t.Run(fmt.Sprint("seed-", seed), func(t *testing.T) {
			_, gw := launderingGateway(t, origin, 3, uint64(seed))
			s := adversaryScenario("launder-one-in-three", scenarios.Request{Path: "/file"})
			s.Seed = int64(seed)
			s.Expect = results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}}
			rep, recs := runAgainst(t, s, gw, false)
			require.Len(t, recs, s.Count)
			for _, r := range recs {
				switch {
				case r.Received < int64(len(body)):
					assert.Equal(t, results.Truncated, r.Outcome, "a cut body (%d of %d bytes) is truncated: %s", r.Received, len(body), r.Error)
					assert.Equal(t, results.SilenceUnknown, r.Silence, "the gateway keeps no account")
				default:
					assert.Equal(t, results.Complete, r.Outcome, "a whole body is complete: %s", r.Error)
					assert.Contains(t, r.CheckedBy, results.EvidenceChunked)
				}
				assert.NotEqual(t, results.Overlong, r.Outcome)
			}
			assert.Equal(t, rep.Summary.Outcomes[results.Complete], rep.Summary.FramingOnly, "whole bodies rest on framing and consistency, flagged")
			for _, f := range rep.Findings {
				assert.Equal(t, results.CheckReference, f.Check)
				cutRefs++
			}
		})
	}
	t.Logf("%d clean reference fetches were cut by the gateway and reported as findings", cutRefs)
}

// TestGatewayCuttingEveryResponse: with an expectation every response is
// truncated; without one, the clean fetches disagree by prefix (reported:
// the target cut them) and nothing is called complete on framing alone
// without the flag; with end-to-end evidence required, nothing is complete.
func TestGatewayCuttingEveryResponse(t *testing.T) {
	origin, body := adversaryOrigin(t)
	_, gw := launderingGateway(t, origin, 1, 7)

	n := int64(len(body))
	withLength := adversaryScenario("cut-every-expect-length", scenarios.Request{Path: "/file", Want: &scenarios.Want{Length: &n}})
	withLength.Expect = results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}}
	rep, recs := runAgainst(t, withLength, gw, false)
	assert.True(t, rep.Met, rep.Text())
	for _, r := range recs {
		assert.Equal(t, results.Truncated, r.Outcome)
		assert.Equal(t, results.EvidenceExpectation, r.CheckedBy[0])
	}

	refFile := filepath.Join(t.TempDir(), "file.bin")
	require.NoError(t, os.WriteFile(refFile, body, 0o644))
	withFile := adversaryScenario("cut-every-reference-file", scenarios.Request{Path: "/file", Want: &scenarios.Want{ReferenceFile: refFile}})
	withFile.Expect = results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}}
	rep, recs = runAgainst(t, withFile, gw, false)
	assert.True(t, rep.Met, rep.Text())
	for _, r := range recs {
		assert.Equal(t, results.Truncated, r.Outcome, "the reference file's length and blocks catch every cut")
	}
	rep, recs = runAgainst(t, withFile, origin, false)
	assert.False(t, rep.Met, "the origin cuts nothing: nothing to detect")
	for _, r := range recs {
		assert.Equal(t, results.Complete, r.Outcome)
		assert.Contains(t, r.CheckedBy, results.EvidenceExpectation)
	}

	sum := digest.Sum(digest.SHA256, body)
	withDigest := adversaryScenario("cut-every-expect-digest", scenarios.Request{Path: "/file",
		Want: &scenarios.Want{Digest: digest.Field{{Algorithm: digest.SHA256, Value: sum}}}})
	rep, recs = runAgainst(t, withDigest, gw, false)
	assert.False(t, rep.Met)
	for _, r := range recs {
		assert.Equal(t, results.Corrupt, r.Outcome, "a stated digest catches every cut body")
	}

	bare := adversaryScenario("cut-every", scenarios.Request{Path: "/file"})
	rep, recs = runAgainst(t, bare, gw, false)
	assert.False(t, rep.Met, "a gateway that cuts everything never passes as complete")
	assert.NotEmpty(t, rep.Findings, "clean fetches cut by the target are findings")
	for _, r := range recs {
		if r.Outcome == results.Complete {
			assert.NotEqual(t, results.EndToEnd, results.Strongest(r.CheckedBy).Class())
		}
	}
	assert.Equal(t, rep.Summary.Outcomes[results.Complete], rep.Summary.FramingOnly)

	e2e := adversaryScenario("cut-every-e2e", scenarios.Request{Path: "/file"})
	e2e.Verify.RequireEndToEnd = true
	rep, recs = runAgainst(t, e2e, gw, false)
	assert.False(t, rep.Met)
	for _, r := range recs {
		assert.NotEqual(t, results.Complete, r.Outcome, "nothing end to end vouches for any of them")
	}
}

// TestAdversaryVerdicts: one request kind each, the verdict it must give.
func TestAdversaryVerdicts(t *testing.T) {
	origin, body := adversaryOrigin(t)
	tests := []struct {
		name     string
		req      scenarios.Request
		e2e      bool
		want     results.Outcome
		evidence results.Evidence // the strongest
		digest   string           // the digest error wanted, "" none
	}{
		{name: "close-delimited body without digest", req: scenarios.Request{Path: "/close-delimited"},
			want: results.Unverified, evidence: results.AgreeingFetches(3)},
		{name: "sha-384 digest: not computable", req: scenarios.Request{Path: "/digest/sha-384"},
			want: results.Complete, evidence: results.AgreeingFetches(3), digest: "no algorithm that can be computed"},
		{name: "md5 digest: not computable", req: scenarios.Request{Path: "/digest/md5"},
			want: results.Complete, evidence: results.AgreeingFetches(3), digest: "no algorithm that can be computed"},
		{name: "malformed digest", req: scenarios.Request{Path: "/digest/malformed"},
			want: results.Complete, evidence: results.AgreeingFetches(3), digest: "malformed digest field"},
		{name: "unknown digest, end to end required", req: scenarios.Request{Path: "/digest/sha-384"}, e2e: true,
			want: results.Unverified, evidence: results.AgreeingFetches(3), digest: "no algorithm"},
		{name: "corrupt body, sha-512 trailer", req: scenarios.Request{Path: "/trailer/sha-512"},
			want: results.Corrupt, evidence: results.DigestEvidence(digest.SHA512)},
		{name: "HEAD", req: scenarios.Request{Method: http.MethodHead, Path: "/file"},
			want: results.Complete, evidence: results.EvidenceNoBody},
		{name: "204 claiming a length", req: scenarios.Request{Path: "/no-content"},
			want: results.Complete, evidence: results.EvidenceNoBody},
		{name: "304 claiming a length", req: scenarios.Request{Path: "/not-modified"},
			want: results.Complete, evidence: results.EvidenceNoBody},
		{name: "206 against its Content-Range", req: scenarios.Request{Path: "/file", Headers: map[string]string{"Range": "bytes=1000-200999"}},
			want: results.Complete, evidence: results.EvidenceContentLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := adversaryScenario("adversary", tt.req)
			s.Count = 6
			s.Verify.RequireEndToEnd = tt.e2e
			s.Expect.AllowUnverified = true
			_, recs := runAgainst(t, s, origin, true)
			require.Len(t, recs, s.Count)
			for _, r := range recs {
				assert.Equal(t, tt.want, r.Outcome, "error: %s", r.Error)
				assert.Equal(t, tt.evidence, results.Strongest(r.CheckedBy), r.CheckedBy)
				if tt.digest != "" {
					assert.Contains(t, r.DigestError, tt.digest)
				} else {
					assert.Empty(t, r.DigestError)
				}
				if tt.req.Headers["Range"] != "" {
					assert.Equal(t, int64(200_000), r.Received)
				}
			}
		})
	}
	_ = body
}

// TestProxyCutInFrontOfAccountingTarget: server faults in a proxy put in
// front of a target that publishes accounts. The proxy's cut is caught,
// attributed to the proxy, and never called the target's silence.
func TestProxyCutInFrontOfAccountingTarget(t *testing.T) {
	origin, _ := adversaryOrigin(t)
	s := adversaryScenario("proxy-close-after", scenarios.Request{Path: "/file"})
	s.Topology.Hops = []scenarios.Hop{{ServerFaults: mustFaults("close-after=200KiB@every=2")}}
	s.Client.ConnectionClose = true
	s.Expect = results.Expectation{Kind: results.ExpectDetect, Outcomes: []results.Outcome{results.Truncated}, Silent: results.SilentForbidden}
	rep, recs := runAgainst(t, s, origin, true)
	assert.True(t, rep.Met, rep.Text())
	assert.Zero(t, rep.Summary.Silent)
	var cut int
	for _, r := range recs {
		if r.Outcome == results.Truncated {
			cut++
			assert.Equal(t, "injected:close-after=200KiB at proxy", r.Cause)
			assert.Equal(t, results.SilenceInjected, r.Silence)
		}
	}
	assert.Positive(t, cut)
	assert.Equal(t, int64(cut), rep.Summary.Injected)
	require.NotEmpty(t, rep.Notes)
	assert.Contains(t, rep.Notes[0], "kernel socket buffers")
}

// TestRemoteAccountLookup: the account the harness reads back over HTTP is
// the middleware's, field for field.
func TestRemoteAccountLookup(t *testing.T) {
	origin, body := adversaryOrigin(t)
	u := origin[len("http://"):]
	r := &external{t: &Target{URL: origin, AccountPath: "/accounts/{id}?wait=2s"}, network: "tcp", addr: u, base: origin}
	r.acctCl = &http.Client{Transport: newTransport(func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", u)
	}, 2, false)}
	defer r.acctCl.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, origin+"/file", nil)
	req.Header.Set("X-Request-Id", "lookup-1")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	acc, _ := r.account(t.Context(), "lookup-1", accountWait)
	require.NotNil(t, acc)
	assert.Equal(t, "lookup-1", acc.RequestID)
	assert.Equal(t, int64(len(body)), acc.ContentLength)
	assert.True(t, acc.Finished)
}
