package transport

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// selectedConns wraps n conns like a listener would and returns the numbers of the conns
// the (single) fault was chosen for.
func selectedConns(t *testing.T, spec string, seed int64, n int) []uint64 {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	o := Options{Faults: mustFaults(t, spec), Seed: seed}
	var picked []uint64
	for seq := uint64(1); seq <= uint64(n); seq++ {
		c := newConn(a, o, seq, EventAccept)
		if len(c.ws) > 0 || len(c.rs) > 0 || c.wline != nil || c.rline != nil {
			picked = append(picked, seq)
		}
	}
	return picked
}

func TestSelectionSeeded(t *testing.T) {
	first := selectedConns(t, "close-after=1KiB@p=0.3", 42, 1000)
	again := selectedConns(t, "close-after=1KiB@p=0.3", 42, 1000)
	other := selectedConns(t, "close-after=1KiB@p=0.3", 43, 1000)
	assert.Equal(t, first, again, "the same seed picks the same conns")
	assert.NotEqual(t, first, other, "another seed picks others")
	assert.InDelta(t, 300, len(first), 60, "about 30%% of 1000 conns")

	assert.Equal(t, []uint64{3, 6, 9, 12}, selectedConns(t, "latency=1ms@every=3", 1, 12))
	both := selectedConns(t, "latency=1ms@every=2@p=0.5", 7, 400)
	for _, seq := range both {
		assert.Zero(t, seq%2)
	}
	assert.InDelta(t, 100, len(both), 40)
}

// TestSelectionThroughListener: a listener numbers its conns in accept order, so the same
// seed applies the fault to the same conns run after run.
func TestSelectionThroughListener(t *testing.T) {
	run := func() []string {
		l := listen(t, "tcp")
		wl := WrapListener(l, Options{Faults: mustFaults(t, "close-after=0@p=0.5"), Seed: 99, Record: 8, Name: "s"})
		var hit []string
		for range 20 {
			c, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			s, err := wl.Accept()
			require.NoError(t, err)
			if _, err := s.Write([]byte("x")); err != nil {
				hit = append(hit, ConnID(s))
			}
			s.Close()
			c.Close()
		}
		return hit
	}
	first := run()
	assert.Equal(t, first, run())
	assert.NotEmpty(t, first)
	assert.Less(t, len(first), 20)
}

func TestJitterSeeded(t *testing.T) {
	delays := func(seed int64, seq uint64) []int64 {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := newConn(a, Options{Faults: mustFaults(t, "latency=5ms~2ms"), Seed: seed}, seq, EventAccept)
		require.NotNil(t, c.wline)
		var d []int64
		for range 20 {
			d = append(d, int64(c.wline.draw()))
		}
		return d
	}
	assert.Equal(t, delays(5, 1), delays(5, 1))
	assert.NotEqual(t, delays(5, 1), delays(5, 2), "each conn has its own sub-seed")
	for _, d := range delays(5, 1) {
		assert.GreaterOrEqual(t, d, int64(3e6))
		assert.LessOrEqual(t, d, int64(7e6))
	}
}
