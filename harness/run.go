package harness

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/truncheck/truncheck/harness/origin"
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
	// Origin is the service at the end of the in-process topology:
	// origin.Bodies(), your own handler through origin.Handler, the image
	// service (imagesvc.NewOrigin). Required unless Target is set; the
	// harness does not close it.
	Origin *origin.Origin
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
	// Shard, when not zero, sends only the request sequence numbers this
	// shard owns (results.Shard.Owns); records keep their sequence numbers.
	// The request a sequence number sends is drawn from the seed and the
	// number alone, so N processes each given one shard of N and the same
	// seed send the requests one run sends, each once. What is chosen per
	// connection (a fault's @p or @every, which conn a request reuses) and
	// timing may differ from one run's. Zero: every sequence number.
	Shard results.Shard
	// TimelineEvents is the flight recorder's capacity in events per
	// connection; 0 => 512. Timelines are attached to failed requests only.
	TimelineEvents int
	// KeepFailures is how many failing records the report keeps; 0 => 10.
	KeepFailures int
	// OnRecord, when set, sees every record (progress bars, soak status);
	// it is called from the request goroutines, concurrently.
	OnRecord func(*results.Record)
	// Logf, when set, gets a line per notable event (references, restarts).
	Logf func(format string, args ...any)
}

// Report is one scenario run: its verdict and summary in results' terms
// (results judges it), plus what only the harness knows.
type Report struct {
	results.ScenarioResult
	// Unexplained counts outcomes a detect scenario neither expects nor
	// tolerates (and any failure of a complete scenario).
	Unexplained map[results.Outcome]int64
	Wall        time.Duration
}

// RunScenario builds the scenario's topology (or connects to opts.Target),
// prepares a reference for every request kind, fires the requests with
// bounded concurrency, verifies every body while it streams, classifies
// every request with the evidence it rests on, attributes each failure
// (our fault, or the system under test; silent only when the server's own
// account says complete), and judges the expectation with results' one
// judge. The error is for a run that could not happen (bad scenario, a
// server that would not start, a reference that could not be had, ctx
// ended); an expectation not met is reported in Report.Met, not as an
// error.
func RunScenario(ctx context.Context, c scenarios.Compiled, opts Options) (Report, error) {
	start := time.Now()
	if c.IsZero() {
		return Report{}, errors.New("a zero scenario (accepted: one from scenarios.Compile, Load or a Catalog)")
	}
	s := c.Scenario()
	if opts.Seed != nil {
		s.Seed = *opts.Seed
	}
	if opts.Count < 0 || opts.Duration < 0 {
		return Report{}, fmt.Errorf("scenario %q: Options.Count %d, Duration %s (accepted: >= 0; 0 keeps the scenario's)", s.Name, opts.Count, opts.Duration)
	}
	if opts.Count > 0 || opts.Duration > 0 {
		s.Count, s.Duration = opts.Count, opts.Duration
	}
	if err := opts.Shard.Validate(); err != nil {
		return Report{}, fmt.Errorf("scenario %q: Options.Shard: %w", s.Name, err)
	}
	if opts.TimelineEvents <= 0 {
		opts.TimelineEvents = 512
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
	rep := Report{Unexplained: map[results.Outcome]int64{}}
	rep.Scenario, rep.Seed, rep.Faults, rep.Layout = s.Name, s.Seed, faultsText(s), c.Layout()
	rep.Expectation = s.Expect.Clone()

	if opts.Target == nil && s.TargetOnly {
		return rep, fmt.Errorf("scenario %q runs against an external target only (accepted: harness.Options.Target, `truncheck check`)", s.Name)
	}
	var sut systemUnderTest
	var err error
	switch {
	case opts.Target != nil:
		sut, err = startTarget(ctx, opts.Target, s, opts.TimelineEvents, logf)
	case opts.Origin == nil:
		return rep, fmt.Errorf("scenario %q: no origin to run in-process (accepted: harness.Options.Origin, e.g. origin.Bodies() or origin.Handler(name, yourHandler); or Options.Target for a running server)", s.Name)
	default:
		sut, err = buildInProcess(s, *opts.Origin, opts.TimelineEvents)
	}
	if err != nil {
		return rep, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	defer func() {
		if cerr := sut.close(); cerr != nil {
			logf("%s: teardown: %v", s.Name, cerr)
		}
	}()
	rep.Layout = sut.layout(c.Layout())
	rep.Notes = append(rep.Notes, sut.notes()...)

	refs, err := prepareReferences(ctx, s, sut, logf)
	if err != nil {
		return rep, fmt.Errorf("scenario %q: %w", s.Name, err)
	}
	rep.Notes = append(rep.Notes, refs.notes...)
	rep.Findings = append(rep.Findings, refs.findings...)

	sum := results.NewSummary(s.Name)
	sum.KeepFailures = opts.KeepFailures
	var (
		mu             sync.Mutex
		writeErr       error
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
			if err := sut.restart(runCtx, s.Restarts.Grace); err != nil {
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
	over := func() bool { return runCtx.Err() != nil || (!stopAt.IsZero() && time.Now().After(stopAt)) }
	for seq := int64(0); s.Count == 0 || seq < int64(s.Count); seq++ {
		if !opts.Shard.Owns(s.Name, seq) {
			continue
		}
		if over() {
			break
		}
		ri := pick(seq)
		g.Go(func() error {
			if over() {
				return nil
			}
			v := <-verifiers
			defer func() { verifiers <- v }()
			rec, err := fire(runCtx, sut, s, ri, seq, fmt.Sprintf("%s-%s-%d", s.Name, nonce, seq), v, refs.want[ri])
			if err != nil || rec == nil {
				if rec == nil && err == nil {
					mu.Lock()
					rep.Aborted++
					mu.Unlock()
				}
				return err
			}
			rec.Run, rec.Layout = opts.Run, rep.Layout
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
			sum.Add(rec)
			mu.Unlock()
			return nil
		})
	}
	gerr := g.Wait()
	cancel()
	<-restartsDone
	sum.Close()
	rep.Summary = sum
	rep.Wall = time.Since(start)
	rep.Unexplained = rep.Judge().Unexplained
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

// fire sends request ri of the workload as sequence number seq, verifies
// it against want, and returns its record with the server's account, the
// cause and silence of a failure, and the timelines of its connections.
// A nil record (and nil error) is a request the caller's context cut short.
func fire(ctx context.Context, sut systemUnderTest, s scenarios.Scenario, ri int, seq int64, id string, v *Verifier, want *Expected) (*results.Record, error) {
	r := s.Workload.Requests[ri]
	req, err := newRequest(ctx, sut.baseURL(), r, id)
	if err != nil {
		return nil, err
	}
	reqStart := time.Now()
	rt := sut.client().Do
	if r.Expect100 {
		rt = ExpectContinue(sut.dial())
	}
	vd := v.Verify(ctx, rt, req, Check{Want: want, RequireEndToEnd: s.Verify.RequireEndToEnd})
	if vd.Aborted {
		return nil, nil
	}
	rec := &results.Record{
		Scenario: s.Name, Seed: s.Seed, Seq: seq,
		Key: requestKey(r), Method: r.Method, URL: r.Path,
		RequestID: vd.RequestID, Status: vd.Status, Expected: vd.Expected, Received: vd.Received,
		Outcome: vd.Outcome, CheckedBy: vd.CheckedBy, Framing: vd.Framing, Offset: vd.Offset,
		DigestWant: vd.DigestWant, DigestGot: vd.DigestGot, DigestError: vd.DigestError,
		Start: reqStart, Latency: vd.Latency, TTFB: vd.TTFB,
		Proto: vd.Proto, TLS: vd.TLS, Retries: max(vd.Attempts-1, 0),
		RSTStream: vd.H2.RSTStream, GoAway: vd.H2.GoAway, GoAwayLastStream: vd.H2.GoAwayLastStream, GoAwayCode: vd.H2.GoAwayCode,
	}
	if vd.Conn != nil {
		rec.ConnID = transport.ConnID(vd.Conn)
	}
	if vd.Err != nil {
		rec.Error = vd.Err.Error()
	}
	// The verifier reports a cut the body's own framing showed as the
	// client's unexpected EOF; a truncation found only against end-to-end
	// evidence ended as its framing promised (a laundered cut).
	rec.FramingWhole = vd.Outcome == results.Truncated && !errors.Is(vd.Err, io.ErrUnexpectedEOF)
	if !vd.Outcome.Failed() {
		return rec, nil
	}
	// The server's view: did it believe it sent everything? A stalled
	// handler is still stuck: take its account as it is.
	wait := accountWait
	if vd.Outcome == results.Stalled {
		wait = 0
	}
	acc, serverTL := sut.account(ctx, id, wait)
	rec.ServerAccount = acc
	fault, where, inside := sut.cutBy(vd.Conn, id, acc)
	attribute(rec, acc, fault, where, inside)
	if vd.Conn != nil {
		if tl, ok := transport.TimelineOf(vd.Conn); ok {
			rec.Timeline = append(rec.Timeline, tl...)
		}
	}
	rec.Timeline = append(rec.Timeline, serverTL...)
	return rec, nil
}

// attribute says who cut a failed response and, for one the client saw
// end cleanly, whether the server knew:
//
//   - one of our faults outside the server (client side, a gateway, a
//     proxy in front of a target) cut it: cause injected, silence
//     "injected": the server could not have known, that is not its silence;
//   - otherwise the server's account decides: complete means silent, not
//     complete means noticed; no account means unknown, never silent.
//
// A fault inside the server's own socket (in-process faults on its
// listener, such as buffered-shutdown, the defect of an HTTP library below
// the handler) is named as the cause, and the account still decides
// silence: the handler either saw its writes fail or it did not.
func attribute(rec *results.Record, acc *results.Account, fault, where string, inside bool) {
	if rec.Outcome == results.Unverified {
		return // nothing was cut: nothing could check it
	}
	if fault != "" {
		rec.Cause = results.InjectedCause(fault, where)
	} else {
		rec.Cause = results.CauseSystemUnderTest
	}
	if !rec.Outcome.CleanEnd() {
		return
	}
	switch {
	case fault != "" && !inside:
		rec.Silence = results.SilenceInjected
	case acc == nil:
		rec.Silence = results.SilenceUnknown
	case acc.Complete:
		rec.Silence = results.SilenceSilent
	default:
		rec.Silence = results.SilenceNoticed
	}
}

// faultsText lists the scenario's faults per hop side, canonical.
func faultsText(s scenarios.Scenario) string {
	var parts []string
	for i, h := range s.Topology.Hops {
		for _, side := range []struct {
			name string
			spec transport.Faults
		}{{"server", h.ServerFaults}, {"client", h.ClientFaults}} {
			if side.spec.IsZero() {
				continue
			}
			parts = append(parts, fmt.Sprintf("hop%d %s: %s", i, side.name, side.spec))
		}
		if !h.StreamFaults.IsZero() {
			parts = append(parts, fmt.Sprintf("hop%d streams: %s", i, h.StreamFaults))
		}
	}
	return strings.Join(parts, "; ")
}

func newRunID() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Text renders the report the way every subcommand renders a run
// (results.WriteText): its row, its notes, and when it is not met its
// first failing requests with offsets, accounts and timelines.
func (r Report) Text() string {
	rr := results.NewRunResult("", []results.ScenarioResult{r.ScenarioResult})
	var b strings.Builder
	_ = results.WriteText(&b, rr)
	_ = results.WriteDetails(&b, rr, 3)
	return b.String()
}
