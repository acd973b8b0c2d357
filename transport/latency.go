package transport

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/truncheck/truncheck/transport/internal/spec"
)

// latency delays every byte by DURATION (plus a uniform jitter in [-JITTER, +JITTER],
// never below zero) from the moment it arrived, like a long wire: chunks in flight
// overlap, so a response that arrives in two pieces is late once, not twice. On the write
// side a byte arrives when the app writes it; on the read side when it comes off the
// socket. The bytes wait in a [delayLine] between the two halves of the conn's chain.
var latencyKind = kindInfo{
	name:   "latency",
	usage:  "latency=DURATION[~JITTER][@dir=read|write|both], e.g. latency=5ms~2ms",
	rank:   latencyRank,
	dirs:   dirBoth,
	defDir: dirBoth,
	parse: func(v string, f *faultSpec) error {
		if v == "" {
			return fmt.Errorf("missing duration")
		}
		base, jit, hasJit := strings.Cut(v, "~")
		d, err := spec.ParseDuration(base)
		if err != nil {
			return err
		}
		f.dur = d
		if hasJit {
			if f.jitter, err = spec.ParseDuration(jit); err != nil {
				return err
			}
		}
		// A delay of hours is a stall (stall-after says so); the bound also
		// keeps the jitter arithmetic far from overflowing.
		if f.dur > maxLatency || f.jitter > maxLatency {
			return fmt.Errorf("latency and jitter must be at most %s (for a connection that stops, use stall-after)", maxLatency)
		}
		return nil
	},
	format: func(f faultSpec) string {
		if f.jitter > 0 {
			return f.dur.String() + "~" + f.jitter.String()
		}
		return f.dur.String()
	},
	stages: func(f faultSpec, seed uint64) (stage, stage) {
		return &latencyStage{f: f, rng: rand.New(rand.NewPCG(seed, 1))},
			&latencyStage{f: f, rng: rand.New(rand.NewPCG(seed, 2))}
	},
}

// latencyRank is latency's place in the chain: the conn splits its chain there.
const latencyRank = 30

// maxLatency bounds latency's duration and jitter.
const maxLatency = time.Hour

// latencyStage marks where the chain is split and draws each chunk's delay from the
// conn's seed. It never acts as a stage itself: newConn replaces it with a [delayLine].
type latencyStage struct {
	f   faultSpec
	mu  sync.Mutex
	rng *rand.Rand
}

func (s *latencyStage) delay() time.Duration {
	d := s.f.dur
	if s.f.jitter > 0 {
		s.mu.Lock()
		d += time.Duration(s.rng.Int64N(int64(2*s.f.jitter)+1)) - s.f.jitter
		s.mu.Unlock()
	}
	return max(d, 0)
}

func (s *latencyStage) before(_ *conn, n int) (int, error) { return n, nil }
func (s *latencyStage) after(*conn, int)                   {}
