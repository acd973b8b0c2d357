package transport

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/truncheck/truncheck/transport/internal/spec"
)

// slow-read makes the wrapped conn a slow reader: it reads at most SIZE bytes, then
// pauses DURATION before the next read. The kernel buffers fill behind it, so the writer
// on the other end meets real backpressure (would-blocks, blocked writes).
var slowReadKind = kindInfo{
	name:   "slow-read",
	usage:  "slow-read=SIZE/DURATION, e.g. slow-read=16KiB/5ms",
	rank:   22,
	defDir: dirRead,
	parse: func(v string, f *faultSpec) error {
		size, pause, ok := strings.Cut(v, "/")
		if !ok {
			return fmt.Errorf("want SIZE/DURATION, got %q", v)
		}
		if err := sizeValue(1)(size, f); err != nil {
			return err
		}
		d, err := spec.ParseDuration(pause)
		f.dur = d
		return err
	},
	format: func(f faultSpec) string { return spec.FormatSize(f.size) + "/" + f.dur.String() },
	stages: func(f faultSpec, _ uint64) (stage, stage) {
		return &slowReadStage{size: int(f.size), pause: f.dur, left: int(f.size)}, nil
	},
}

type slowReadStage struct {
	size  int
	pause time.Duration
	mu    sync.Mutex
	left  int // bytes before the next pause
}

func (s *slowReadStage) before(_ *conn, n int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(n, s.left), nil
}

func (s *slowReadStage) after(c *conn, n int) {
	s.mu.Lock()
	s.left -= n
	due := s.left <= 0
	if due {
		s.left = s.size
	}
	s.mu.Unlock()
	if due {
		c.pause(dirRead, s.pause)
	}
}
