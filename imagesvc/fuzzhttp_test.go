package imagesvc

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/imagesvc/internal/httpfuzz"
)

// TestFuzzHTTP runs the service under the grammar-aware HTTP fuzzer for
// TRUNCHECK_FUZZ_HTTP (a duration; `make fuzz-http` sets it from
// FUZZ_HTTP_TIME) and prints the status mix per input class. It fails on any
// violation: a 500, an error that is not JSON, a 200 whose length or digest
// is wrong, a truncated upload or cut framing accepted with 200, a valid
// request left without an answer, an answer after the budget; and when the
// service does not answer a plain request afterwards.
//
//	TRUNCHECK_FUZZ_HTTP_TARGET   tcp:127.0.0.1:PORT or unix:/path: fuzz a running
//	                             service instead of an in-process one
//	TRUNCHECK_FUZZ_HTTP_CONC     probes in flight (default 8)
//	TRUNCHECK_FUZZ_HTTP_MIX      fuzz (default), load or truncation
//	TRUNCHECK_FUZZ_HTTP_SEED     seed (default 1)
func TestFuzzHTTP(t *testing.T) {
	d := os.Getenv("TRUNCHECK_FUZZ_HTTP")
	if d == "" {
		t.Skip("set TRUNCHECK_FUZZ_HTTP=60s (make fuzz-http)")
	}
	dur, err := time.ParseDuration(d)
	require.NoError(t, err, "TRUNCHECK_FUZZ_HTTP: a duration such as 60s")
	conc, seed := 8, uint64(1)
	if v := os.Getenv("TRUNCHECK_FUZZ_HTTP_CONC"); v != "" {
		conc, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	if v := os.Getenv("TRUNCHECK_FUZZ_HTTP_SEED"); v != "" {
		seed, err = strconv.ParseUint(v, 10, 64)
		require.NoError(t, err)
	}
	mix := map[string]httpfuzz.Mix{"": httpfuzz.FuzzMix, "fuzz": httpfuzz.FuzzMix, "load": httpfuzz.LoadMix, "truncation": httpfuzz.TruncationMix}[os.Getenv("TRUNCHECK_FUZZ_HTTP_MIX")]
	require.NotNil(t, mix, "TRUNCHECK_FUZZ_HTTP_MIX: fuzz, load or truncation")

	var target httpfuzz.Target
	budget := DefaultRequestBudget
	var e *testEnv
	if v := os.Getenv("TRUNCHECK_FUZZ_HTTP_TARGET"); v != "" {
		target, err = httpfuzz.ParseTarget(v)
		require.NoError(t, err)
	} else {
		e = newEnv(t, Config{}, ServerConfig{})
		target = httpfuzz.Target{Network: "tcp", Addr: e.srv.TCPAddr()}
	}
	rep, err := httpfuzz.Run(t.Context(), httpfuzz.Options{
		Target: target, Duration: dur, Concurrency: conc, Mix: mix, Seed: seed, Budget: budget, Progress: os.Stdout,
	})
	require.NoError(t, err)
	fmt.Print(rep.Table())
	if e != nil {
		e.svc.flight.wait()
		s := e.svc.Stats()
		fmt.Printf("service: admitted %d, shed (queue full %d, expected wait %d, uploads %d), refused by cost %d, left queue %d, cancelled running %d, budget expired %d\n",
			s.Admitted, s.RejectedFull, s.RejectedWait, s.RejectedUploads, s.RejectedCost, s.LeftQueue, s.Cancelled, s.BudgetExpired)
	}
	assert.Zero(t, rep.Violated, "violations (the first are listed above)")

	// still serving
	if e != nil {
		resp, body := get(t, e.tcp, e.tcpBase+"/images/photo-small?ops=resize:w=64", nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the service answers after the fuzz: %s", body)
	}
}
