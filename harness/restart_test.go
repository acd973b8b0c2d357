package harness

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/scenarios"
)

// restartStack builds a direct in-process stack on network with one
// connection per request (Connection: close), so every request dials and
// a restart that leaves the socket unserved for a moment shows up as
// transport errors.
func restartStack(t *testing.T, network scenarios.Network) *inProcess {
	s := scenarios.Scenario{
		Name:        "restart-" + string(network),
		Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{Network: network}}},
		Concurrency: 8,
		Client:      scenarios.Client{ConnectionClose: true},
	}
	st, err := buildInProcess(compile(t, minimal(s)).Scenario(), origin.Bodies(), 16)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.close()) })
	return st
}

// TestInProcessRestartNoTransportErrors restarts the in-process origin
// every 20ms under concurrent requests: a graceful restart must not fail a
// single request before its response head (the listening socket outlives
// each server generation, as in a zero-downtime deploy).
func TestInProcessRestartNoTransportErrors(t *testing.T) {
	for _, network := range []scenarios.Network{scenarios.TCP, scenarios.Unix} {
		t.Run(string(network), func(t *testing.T) {
			st := restartStack(t, network)
			ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
			defer cancel()

			var reqs, failed atomic.Int64
			var mu sync.Mutex
			var firstErr error
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for ctx.Err() == nil && reqs.Load() < 20_000 {
						req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.baseURL()+"/bytes/64KiB", nil)
						if err != nil {
							panic(err)
						}
						resp, err := st.client().Do(req)
						if err == nil {
							_, err = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
						if ctx.Err() != nil {
							return // the run's end, not a restart
						}
						reqs.Add(1)
						if err != nil {
							if failed.Add(1) == 1 {
								mu.Lock()
								firstErr = err
								mu.Unlock()
							}
						}
					}
				})
			}
			restarts := 0
			for ; restarts < 100 && ctx.Err() == nil; restarts++ {
				time.Sleep(20 * time.Millisecond)
				require.NoError(t, st.restart(ctx, 5*time.Second))
			}
			cancel()
			wg.Wait()
			t.Logf("%d requests over %d restarts, %d failed", reqs.Load(), restarts, failed.Load())
			require.Positive(t, reqs.Load())
			mu.Lock()
			defer mu.Unlock()
			assert.Zero(t, failed.Load(), "transport errors during restarts; first: %v", firstErr)
		})
	}
}

// TestInProcessRestartListenersBounded checks that restarts do not pile
// up wrapped listeners (each holds up to thousands of flight recorders):
// what the stack retains after many restarts is what it held after one.
func TestInProcessRestartListenersBounded(t *testing.T) {
	st := restartStack(t, scenarios.TCP)
	retained := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		return len(st.listeners)
	}
	require.NoError(t, st.restart(t.Context(), time.Second))
	after1 := retained()
	for range 50 {
		require.NoError(t, st.restart(t.Context(), time.Second))
	}
	assert.Equal(t, after1, retained(), "wrapped listeners retained after 51 restarts vs after 1")
}
