package transport

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/truncheck/truncheck/transport/internal/spec"
)

// latency delays every chunk: writes wait before they go to the socket, reads wait after
// the bytes arrived (and still deliver them if the wait is cut short). The delay is
// DURATION plus a uniform jitter in [-JITTER, +JITTER], never below zero.
var latencyKind = kindInfo{
	name:   "latency",
	usage:  "latency=DURATION[~JITTER][@dir=read|write|both], e.g. latency=5ms~2ms",
	rank:   30,
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
		return &latencyStage{f: f, d: dirRead, rng: rand.New(rand.NewPCG(seed, 1))},
			&latencyStage{f: f, d: dirWrite, rng: rand.New(rand.NewPCG(seed, 2))}
	},
}

// maxLatency bounds latency's duration and jitter.
const maxLatency = time.Hour

type latencyStage struct {
	f   faultSpec
	d   dir
	mu  sync.Mutex // net.Conn allows concurrent Reads (and Writes)
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

func (s *latencyStage) before(c *conn, n int) (int, error) {
	if s.d == dirWrite {
		if err := c.wait(dirWrite, s.delay()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (s *latencyStage) after(c *conn, n int) {
	if s.d == dirRead && n > 0 {
		c.pause(dirRead, s.delay())
	}
}
