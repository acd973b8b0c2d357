package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/truncheck/truncheck/results"
)

// meter shows a run while it goes, on stderr so that stdout keeps only the
// table: a line per scenario as it ends, and between those a progress bar
// on a terminal or, in a log, a status line now and then. Its counters
// tell an expected detection (a detect scenario finding its defect) from
// a failure, so a soak that works shows "0 unexpected", not "120 failed".
type meter struct {
	w   io.Writer
	tty bool

	requests, unexpected, detected       atomic.Int64
	silentUnexpected, silentDetected     atomic.Int64
	current                              atomic.Pointer[meterScenario]
	scenariosDone, scenariosTotal, width int

	mu      sync.Mutex // serialises writes to w
	bar     *progressbar.ProgressBar
	stop    chan struct{}
	stopped chan struct{}
}

// meterScenario is the scenario the records arriving now belong to.
type meterScenario struct {
	name   string
	expect results.Expectation
}

// newMeter makes a meter for total scenarios (0 for a soak, which counts
// time instead); width aligns the scenario names of the finish lines.
func newMeter(w io.Writer, total, width int) *meter {
	return &meter{w: w, tty: isTerminal(w), scenariosTotal: total, width: width}
}

// begin says which scenario the next records belong to.
func (m *meter) begin(name string, e results.Expectation) {
	m.current.Store(&meterScenario{name: name, expect: e})
}

// add counts a record; the harness calls it from its request goroutines.
func (m *meter) add(r *results.Record) {
	m.requests.Add(1)
	if !r.Outcome.Failed() {
		return
	}
	expected := false
	if cur := m.current.Load(); cur != nil {
		expected = cur.expect.Explains(r.Outcome)
	}
	if expected {
		m.detected.Add(1)
		if r.Silent() {
			m.silentDetected.Add(1)
		}
		return
	}
	m.unexpected.Add(1)
	if r.Silent() {
		m.silentUnexpected.Add(1)
	}
}

// status is the counters in words: "1200 requests: 0 unexpected, 120
// detected as expected (120 silent)".
func (m *meter) status() string {
	s := fmt.Sprintf("%d requests: %d unexpected", m.requests.Load(), m.unexpected.Load())
	if n := m.silentUnexpected.Load(); n > 0 {
		s += fmt.Sprintf(" (%d silent)", n)
	}
	if n := m.detected.Load(); n > 0 {
		s += fmt.Sprintf(", %d detected as expected", n)
		if k := m.silentDetected.Load(); k > 0 {
			s += fmt.Sprintf(" (%d silent)", k)
		}
	}
	if cur := m.current.Load(); cur != nil {
		s += "; " + cur.name
	}
	return s
}

// finished prints a scenario's line as it ends:
// "[ 7/16] PASS buffered-shutdown  detect: 12 of 12 truncated ... (46ms)".
func (m *meter) finished(sr *results.ScenarioResult, wall time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.scenariosDone++
	verdict := "PASS"
	if !sr.Met {
		verdict = "FAIL"
	}
	if m.bar != nil {
		_ = m.bar.Clear()
	}
	fmt.Fprintf(m.w, "[%*d/%d] %s %-*s %s (%s)\n", len(fmt.Sprint(m.scenariosTotal)), m.scenariosDone, m.scenariosTotal,
		verdict, m.width, sr.Scenario, sr.Reason, wall.Round(time.Millisecond))
}

// start shows progress until stop: a bar over the total duration (a soak)
// or over the scenarios (run, check) on a terminal, else a status line
// every `every`.
func (m *meter) start(total time.Duration, every time.Duration) {
	m.stop, m.stopped = make(chan struct{}), make(chan struct{})
	begun := time.Now()
	if m.tty {
		every = time.Second
		max := int64(m.scenariosTotal)
		if total > 0 {
			max = int64(total / time.Second)
		}
		m.bar = progressbar.NewOptions64(max,
			progressbar.OptionSetWriter(m.w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionShowDescriptionAtLineEnd(),
			progressbar.OptionSetRenderBlankState(true))
	}
	go func() {
		defer close(m.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
			m.mu.Lock()
			elapsed := time.Since(begun)
			switch {
			case m.bar != nil && total > 0:
				m.bar.Describe(m.status())
				_ = m.bar.Set64(min(int64(elapsed/time.Second), int64(total/time.Second)-1))
			case m.bar != nil:
				m.bar.Describe(m.status())
				_ = m.bar.Set(m.scenariosDone)
			default:
				fmt.Fprintf(m.w, "%s %s: %s\n", time.Now().UTC().Format(time.TimeOnly), elapsed.Round(time.Second), m.status())
			}
			m.mu.Unlock()
		}
	}()
}

// end stops the display and leaves the last status on its own line. It
// is called from the goroutine that called start.
func (m *meter) end() {
	if m.stop == nil {
		return
	}
	close(m.stop)
	<-m.stopped
	m.stop = nil // end may be called twice (an interrupt, then the deferred end)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bar != nil {
		_ = m.bar.Clear()
		fmt.Fprintln(m.w, m.status())
	}
}
