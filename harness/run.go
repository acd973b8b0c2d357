package harness

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// RecordWriter receives one record per request as the run goes;
// *results.Writer is one.
type RecordWriter interface {
	Write(r *results.Record) error
}

// Options tune a run. The zero value runs the scenario in-process, as
// written, with nothing written out.
type Options struct {
	// Target runs the scenario against an external server instead of the
	// in-process topology (see [Target]).
	Target *Target
	// Writer, when set, gets every record as soon as its request is done.
	Writer RecordWriter
	// Run is the run id written into every record; "" => a random one.
	Run string
	// Count and Duration, when set, replace the scenario's (a soak runs a
	// catalog scenario for hours).
	Count    int
	Duration time.Duration
	// Seed, when non-nil, replaces the scenario's seed (replays, sweeps).
	Seed *int64
	// Record is the flight recorder's capacity in events per connection;
	// 0 => 512. Timelines are attached to failed requests only.
	Record int
	// KeepFailures is how many failing records the report keeps; 0 => 10.
	KeepFailures int
	// OnRecord, when set, sees every record (progress bars, soak status);
	// it is called from the request goroutines, concurrently.
	OnRecord func(*results.Record)
	// Logf, when set, gets a line per notable event (references, restarts).
	Logf func(format string, args ...any)
}

// Report is one scenario run: the verdict and summary in results' terms,
// plus what only the harness knows.
type Report struct {
	results.ScenarioResult
	Hops     string
	Aborted  int // requests cut short by the caller's context; not counted
	Restarts int
	// Unexplained counts outcomes a detect scenario neither expects nor
	// tolerates (and any failure of a complete scenario).
	Unexplained map[results.Outcome]int64
	Notes       []string // e.g. a reference that could not be fetched
	Wall        time.Duration
}

// RunScenario builds the scenario's topology (or connects to opts.Target),
// fires its requests with bounded concurrency, verifies every body while
// it streams, classifies every request, and judges the expectation. The
// error is for a run that could not happen (bad scenario, a server that
// would not start, a reference that could not be fetched, ctx ended);
// an expectation not met is reported in Report.Met, not as an error.
func RunScenario(ctx context.Context, s scenarios.Scenario, opts Options) (Report, error) {
	start := time.Now()
	if opts.Seed != nil {
		s.Seed = *opts.Seed
	}
	if opts.Count > 0 || opts.Duration > 0 {
		s.Count, s.Duration = opts.Count, opts.Duration
	}
	if err := s.Validate(); err != nil {
		return Report{}, err
	}
	s = s.WithDefaults()
	if opts.Record <= 0 {
		opts.Record = 512
	}
	if opts.KeepFailures == 0 {
		opts.KeepFailures = 10
	}
	if opts.Run == "" {
		opts.Run = newRunID()
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep := Report{Hops: s.HopLayout(), Unexplained: map[results.Outcome]int64{}}
	rep.Scenario, rep.Seed, rep.Faults = s.Name, s.Seed, faultsText(s)
	rep.Expect = results.Expect(s.Expect.Kind)
	if len(s.Expect.Outcomes) == 1 {
		rep.ExpectOutcome = results.Outcome(s.Expect.Outcomes[0])
	}
	switch s.Expect.Silent {
	case scenarios.SilentRequired:
		rep.ExpectSilent = ptr(true)
	case scenarios.SilentForbidden:
		rep.ExpectSilent = ptr(false)
	}

	var e env
	var err error
	if opts.Target == nil && s.TargetOnly {
		return rep, fmt.Errorf("scenario %q runs against an external target only (accepted: harness.Options.Target, `truncheck check`)", s.Name)
	}
	if opts.Target != nil {
		rep.Hops = opts.Target.hops(s)
		e, err = startTarget(ctx, opts.Target, s, opts.Record, logf)
	} else {
		e, err = buildStack(s, opts.Record)
	}
	if err != nil {
		return rep, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	defer func() {
		if cerr := e.close(); cerr != nil {
			logf("%s: teardown: %v", s.Name, cerr)
		}
	}()

	// References first, over the clean path, one per request kind.
	refs := make([]*Reference, len(s.Workload.Requests))
	rv := NewVerifier(s.StallTimeout, DefaultWantDigest)
	cleanCl, cleanDial, cleanBase := e.clean()
	for i, r := range s.Workload.Requests {
		rt := cleanCl.Do
		if r.Expect100 {
			rt = ExpectContinue(cleanDial)
		}
		ref, err := fetchReference(ctx, rv, rt, cleanBase, func(base string) (*http.Request, error) {
			return newRequest(ctx, base, r, "")
		})
		if err != nil {
			if opts.Target == nil {
				return rep, fmt.Errorf("scenario %q: %s %s: %w", s.Name, r.Method, r.Path, err)
			}
			// A target that cannot serve a clean copy: check against its own
			// Content-Length and digest only.
			rep.Notes = append(rep.Notes, fmt.Sprintf("no reference for %s %s (%v): checked against Content-Length and digest only", r.Method, r.Path, err))
			continue
		}
		refs[i] = &ref
		logf("%s: reference %s %s: %d bytes, crc32c %08x", s.Name, r.Method, r.Path, ref.Length, ref.CRC32C)
	}

	sum := results.NewSummary(s.Name)
	sum.KeepFailures = opts.KeepFailures
	var (
		mu             sync.Mutex
		hits, hitsSil  int64
		writeErr       error
		aborted        int
		expected       = setOf(s.Expect.Outcomes)
		tolerated      = setOf(s.Expect.Tolerate)
		runCtx, cancel = context.WithCancel(ctx)
	)
	defer cancel()

	// Restarts, like a deploy, while requests are in flight.
	restartsDone := make(chan struct{})
	every := s.Restarts.Every
	if opts.Target != nil && opts.Target.RestartEvery > 0 {
		every = opts.Target.RestartEvery
	}
	go func() {
		defer close(restartsDone)
		if every <= 0 {
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			if err := e.restart(runCtx, s.Restarts.Grace); err != nil {
				logf("%s: restart: %v", s.Name, err)
				continue
			}
			mu.Lock()
			rep.Restarts++
			mu.Unlock()
		}
	}()

	verifiers := make(chan *Verifier, s.Concurrency)
	for range s.Concurrency {
		verifiers <- NewVerifier(s.StallTimeout, DefaultWantDigest)
	}
	pick := picker(s)
	nonce := newRunID()[:6]
	var g errgroup.Group
	g.SetLimit(s.Concurrency)
	var stopAt time.Time
	if s.Duration > 0 {
		stopAt = time.Now().Add(s.Duration)
	}
	for seq := int64(0); s.Count == 0 || seq < int64(s.Count); seq++ {
		if runCtx.Err() != nil || (!stopAt.IsZero() && time.Now().After(stopAt)) {
			break
		}
		ri := pick(seq)
		g.Go(func() error {
			if runCtx.Err() != nil || (!stopAt.IsZero() && time.Now().After(stopAt)) {
				return nil
			}
			v := <-verifiers
			defer func() { verifiers <- v }()
			r := s.Workload.Requests[ri]
			id := fmt.Sprintf("%s-%s-%d", s.Name, nonce, seq)
			req, err := newRequest(runCtx, e.baseURL(), r, id)
			if err != nil {
				return err
			}
			reqStart := time.Now()
			rt := e.client().Do
			if r.Expect100 {
				rt = ExpectContinue(e.dial())
			}
			vd := v.DoWith(runCtx, rt, req, refs[ri], false)
			if vd.Aborted {
				mu.Lock()
				aborted++
				mu.Unlock()
				return nil
			}
			rec := &results.Record{
				Run: opts.Run, Scenario: s.Name, Seed: s.Seed, Seq: seq,
				Key: r.Method + " " + r.Path, Hops: rep.Hops, Method: r.Method, URL: r.Path,
				RequestID: vd.RequestID, Status: vd.Status, Expected: vd.Expected, Received: vd.Received,
				Outcome: vd.Outcome, Offset: vd.Offset, DigestWant: vd.DigestWant, DigestGot: vd.DigestGot,
				Start: reqStart, Latency: vd.Latency, TTFB: vd.TTFB,
			}
			if vd.Conn != nil {
				rec.ConnID = transport.ConnID(vd.Conn)
			}
			if vd.Err != nil {
				rec.Error = vd.Err.Error()
			}
			if vd.Outcome.Failed() {
				// The server's view: did it believe it sent everything?
				// A stalled handler is still stuck: take its account as it is.
				wait := accountWait
				if vd.Outcome == results.Stalled {
					wait = 0
				}
				acc, serverTL := e.account(runCtx, id, wait)
				rec.ServerAccount = acc
				rec.Silent = acc != nil && acc.Complete && cleanEnd(vd.Outcome)
				if vd.Conn != nil {
					if tl, ok := transport.TimelineOf(vd.Conn); ok {
						rec.Timeline = append(rec.Timeline, convertTimeline(rec.ConnID, tl)...)
					}
				}
				rec.Timeline = append(rec.Timeline, serverTL...)
			}
			if opts.Writer != nil {
				if err := opts.Writer.Write(rec); err != nil {
					mu.Lock()
					if writeErr == nil {
						writeErr = err
					}
					mu.Unlock()
					cancel()
				}
			}
			if opts.OnRecord != nil {
				opts.OnRecord(rec)
			}
			mu.Lock()
			defer mu.Unlock()
			sum.Add(rec)
			switch o := vd.Outcome; {
			case o == results.Complete:
			case s.Expect.Kind == scenarios.ExpectDetect && expected[string(o)]:
				hits++
				if rec.Silent {
					hitsSil++
				}
			case s.Expect.Kind == scenarios.ExpectDetect && tolerated[string(o)]:
			default:
				rep.Unexplained[o]++
			}
			return nil
		})
	}
	gerr := g.Wait()
	cancel()
	<-restartsDone
	sum.Close()
	rep.Summary = sum
	rep.Aborted = aborted
	rep.Wall = time.Since(start)
	rep.Met, rep.Reason = judge(s, sum, hits, hitsSil, rep.Unexplained)
	switch {
	case gerr != nil:
		return rep, fmt.Errorf("scenario %q: %w", s.Name, gerr)
	case writeErr != nil:
		return rep, fmt.Errorf("scenario %q: writing records: %w", s.Name, writeErr)
	case ctx.Err() != nil:
		return rep, fmt.Errorf("scenario %q: stopped after %d requests: %w", s.Name, sum.Requests, ctx.Err())
	}
	return rep, nil
}

// cleanEnd says whether an outcome is one the client saw end cleanly (a
// well-formed end, the wrong bytes): with the server's account complete,
// nobody noticed: silent. Resets and stalls are visible to the client.
func cleanEnd(o results.Outcome) bool {
	return o == results.Truncated || o == results.Corrupt || o == results.Overlong
}

// judge decides the expectation; see [scenarios.Expectation].
func judge(s scenarios.Scenario, sum *results.Summary, hits, hitsSilent int64, unexplained map[results.Outcome]int64) (bool, string) {
	if sum.Requests == 0 {
		return false, "no requests were made"
	}
	outcomes := outcomeCounts(sum)
	if s.Expect.Kind == scenarios.ExpectComplete {
		if f := sum.Failed(); f > 0 {
			return false, fmt.Sprintf("%d of %d responses failed to verify (%s), %d silent", f, sum.Requests, outcomes, sum.Silent)
		}
		return true, fmt.Sprintf("all %d responses verified", sum.Requests)
	}
	want := strings.Join(s.Expect.Outcomes, "|")
	switch {
	case hits == 0:
		return false, fmt.Sprintf("defect not detected: no %s response in %d (%s)", want, sum.Requests, outcomes)
	case len(unexplained) > 0:
		return false, fmt.Sprintf("unexplained outcomes (%s) besides %d %s: expected only complete, %s%s",
			countList(unexplained), hits, want, want, tolerateText(s))
	case s.Expect.Silent == scenarios.SilentRequired && hitsSilent == 0:
		return false, fmt.Sprintf("defect detected (%d %s) but none was silent: the server knew", hits, want)
	case s.Expect.Silent == scenarios.SilentForbidden && hitsSilent > 0:
		return false, fmt.Sprintf("defect detected (%d %s) but %d were silent: the server believed it sent everything", hits, want, hitsSilent)
	}
	return true, fmt.Sprintf("defect detected: %d of %d %s, %d silent (%s)", hits, sum.Requests, want, hitsSilent, outcomes)
}

func tolerateText(s scenarios.Scenario) string {
	if len(s.Expect.Tolerate) == 0 {
		return ""
	}
	return " or " + strings.Join(s.Expect.Tolerate, ", ")
}

func outcomeCounts(sum *results.Summary) string {
	var parts []string
	for _, o := range results.Outcomes() {
		if n := sum.Outcomes[o]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, o))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func countList(m map[results.Outcome]int64) string {
	keys := make([]string, 0, len(m))
	for o := range m {
		keys = append(keys, string(o))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", m[results.Outcome(k)], k)
	}
	return strings.Join(parts, ", ")
}

// picker returns the request index for each sequence number, drawn by
// weight from the scenario's seed: the same seed gives the same sequence.
func picker(s scenarios.Scenario) func(seq int64) int {
	total := 0
	for _, r := range s.Workload.Requests {
		total += r.Weight
	}
	return func(seq int64) int {
		rng := rand.New(rand.NewPCG(uint64(s.Seed), uint64(seq)))
		x := rng.IntN(total)
		for i, r := range s.Workload.Requests {
			if x < r.Weight {
				return i
			}
			x -= r.Weight
		}
		return len(s.Workload.Requests) - 1
	}
}

// newRequest builds one request of the workload against base.
func newRequest(ctx context.Context, base string, r scenarios.Request, id string) (*http.Request, error) {
	var body io.Reader
	if r.Upload > 0 {
		body = &patternReader{left: r.Upload}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", r.Method, r.Path, err)
	}
	if r.Upload > 0 {
		req.ContentLength = r.Upload
		n := r.Upload
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(&patternReader{left: n}), nil }
		req.Header.Set("Content-Type", "application/octet-stream")
		if r.Expect100 {
			req.Header.Set("Expect", "100-continue")
		}
	}
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	return req, nil
}

// patternReader yields a deterministic upload body without holding it.
type patternReader struct{ left, off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		x := uint64(p.off + int64(i))
		b[i] = byte(x*0x9e3779b1>>24) ^ byte(x)
	}
	p.off += int64(len(b))
	p.left -= int64(len(b))
	return len(b), nil
}

func faultsText(s scenarios.Scenario) string {
	var parts []string
	for i, h := range s.Topology.Hops {
		if h.ServerFaults != "" {
			parts = append(parts, fmt.Sprintf("hop%d server: %s", i, h.ServerFaults))
		}
		if h.ClientFaults != "" {
			parts = append(parts, fmt.Sprintf("hop%d client: %s", i, h.ClientFaults))
		}
	}
	return strings.Join(parts, "; ")
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, x := range list {
		m[x] = true
	}
	return m
}

func ptr[T any](v T) *T { return &v }

func newRunID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Line is the report as one table row: scenario, requests, outcomes,
// silent count, offset range, wall time, verdict.
func (r Report) Line() string {
	sum := r.Summary
	if sum == nil {
		sum = results.NewSummary(r.Scenario)
	}
	offsets := "-"
	if sum.Offsets.Count > 0 {
		offsets = fmt.Sprintf("%d..%d", sum.Offsets.Min, sum.Offsets.Max)
	}
	verdict := "ok"
	if !r.Met {
		verdict = "NOT MET"
	}
	return fmt.Sprintf("%-32s %5d  %-44s silent=%-3d offsets=%-19s %7.2fs  %s: %s",
		r.Scenario, sum.Requests, outcomeCounts(sum), sum.Silent, offsets, r.Wall.Seconds(), verdict, r.Reason)
}

// TableHeader is the header matching [Report.Line].
func TableHeader() string {
	return fmt.Sprintf("%-32s %5s  %-44s %-10s %-27s %8s  %s", "scenario", "reqs", "outcomes", "silent", "offsets", "wall", "verdict")
}

// Details renders the line, the notes and the first failing requests with
// their offsets, server accounts and timelines: what a failing test
// prints.
func (r Report) Details() string {
	var b strings.Builder
	b.WriteString(r.Line())
	b.WriteByte('\n')
	fmt.Fprintf(&b, "  hops %s; faults: %s; seed %d; restarts %d; aborted %d\n", r.Hops, orNone(r.Faults), r.Seed, r.Restarts, r.Aborted)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if r.Summary == nil {
		return b.String()
	}
	for i, f := range r.Summary.Failures {
		if i == 3 {
			fmt.Fprintf(&b, "  ... %d more failing requests kept in the summary\n", len(r.Summary.Failures)-i)
			break
		}
		fmt.Fprintf(&b, "  #%d %s %s id=%s status=%d: %s at offset %d of %d (received %d)", f.Seq, f.Method, f.URL, f.RequestID, f.Status, f.Outcome, f.Offset, f.Expected, f.Received)
		if f.Silent {
			b.WriteString(" SILENT")
		}
		b.WriteByte('\n')
		if f.Error != "" {
			fmt.Fprintf(&b, "     error: %s\n", f.Error)
		}
		if a := f.ServerAccount; a != nil {
			fmt.Fprintf(&b, "     server account: status %d, wrote %d of %d, complete=%v %s\n", a.Status, a.BytesWritten, a.ContentLength, a.Complete, a.WriteError)
		}
		tl := f.Timeline
		if len(tl) > 24 {
			fmt.Fprintf(&b, "     timeline (last 24 of %d events):\n", len(tl))
			tl = tl[len(tl)-24:]
		} else if len(tl) > 0 {
			b.WriteString("     timeline:\n")
		}
		for _, e := range tl {
			fmt.Fprintf(&b, "       %s\n", e.String())
		}
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Table renders reports as the run table: [TableHeader] and one
// [Report.Line] each.
func Table(reports []Report) string {
	var b strings.Builder
	b.WriteString(TableHeader())
	b.WriteByte('\n')
	for _, r := range reports {
		b.WriteString(r.Line())
		b.WriteByte('\n')
	}
	return b.String()
}
