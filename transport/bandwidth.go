package transport

import (
	"strings"
	"sync"
	"time"
)

// bandwidth caps each direction at SIZE bytes per second, each with its own schedule:
// a call waits until the bytes moved so far are paid for, and moves at most a
// hundredth of a second's worth at once so the pace stays smooth.
var bandwidthKind = kindInfo{
	name:   "bandwidth",
	usage:  "bandwidth=SIZE[/s][@dir=read|write|both] (bytes per second), e.g. bandwidth=10MiB",
	rank:   31,
	dirs:   dirBoth,
	defDir: dirBoth,
	parse: func(v string, f *faultSpec) error {
		return sizeValue(1)(strings.TrimSuffix(v, "/s"), f)
	},
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) {
		return &bandwidthStage{rate: f.size, d: dirRead}, &bandwidthStage{rate: f.size, d: dirWrite}
	},
}

type bandwidthStage struct {
	rate int64 // bytes per second
	d    dir
	mu   sync.Mutex
	next time.Time // when the bytes moved so far are paid for
}

func (s *bandwidthStage) before(c *conn, n int) (int, error) {
	n = min(n, int(max(s.rate/100, 1)))
	s.mu.Lock()
	next := s.next
	s.mu.Unlock()
	if d := time.Until(next); d > 0 {
		if err := c.wait(s.d, d); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (s *bandwidthStage) after(_ *conn, n int) {
	if n <= 0 {
		return
	}
	cost := time.Duration(float64(n) / float64(s.rate) * float64(time.Second))
	s.mu.Lock()
	s.next = later(s.next, time.Now()).Add(cost)
	s.mu.Unlock()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
