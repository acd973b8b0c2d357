package scenarios

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/transport"
)

// Hunt describes a hunt for truncations on a server someone else wrote:
// their own requests, asked under each of the conditions in which servers
// are known to cut large responses, every response expected complete.
// `truncheck check --path` and the field survey build their scenarios
// from it.
type Hunt struct {
	// Requests are the user's requests (paths, method, headers, uploads,
	// what they must return); each condition sends all of them.
	Requests    []Request
	Count       int // requests per condition; 0 => 16
	Concurrency int // 0 => 4
	// Network is the target's socket kind (for the layout).
	Network Network
	// RestartEvery is the period of the restart and reload conditions;
	// 0 => 2s.
	RestartEvery time.Duration
	// CanRestart: the harness runs the server (it can restart it);
	// CanReload: the target has a way to reload (a signal or a command).
	CanRestart, CanReload bool
	Verify                Verify
	// Only, when set, names the conditions to run.
	Only []string
}

// HuntCondition is one way of stressing a server.
type HuntCondition struct {
	Name, About string
	apply       func(*Scenario, Hunt)
	skip        func(Hunt) string // a reason to leave it out, or ""
}

// HuntPrefix names a hunt's scenarios: "hunt-" + the condition's name.
const HuntPrefix = "hunt-"

// EarlyAnswerUpload is the body the early-answer condition sends when a
// request has none: more than a socket's buffers take, so a server that
// answers without reading it closes with bytes unread.
const EarlyAnswerUpload = 4 << 20

func clientFaults(f ...transport.Fault) func(*Scenario, Hunt) {
	faults := transport.MustFaults(f...)
	return func(s *Scenario, _ Hunt) { s.Topology.Hops[0].ClientFaults = faults }
}

// restartsDuring restarts (or reloads) the server while slow readers
// download: responses are in flight at every restart.
func restartsDuring(reload bool) func(*Scenario, Hunt) {
	slowDownload := clientFaults(transport.SlowRead(64<<10, 5*time.Millisecond))
	return func(s *Scenario, h Hunt) {
		slowDownload(s, h)
		s.Restarts = Restarts{Every: cmp.Or(h.RestartEvery, 2*time.Second), Reload: reload}
	}
}

// HuntConditions are the hunting set, mildest first. Every fault is on the
// client's side of the connection, so the server under test is exactly the
// one deployed: nothing is put in front of it.
func HuntConditions() []HuntCondition {
	return []HuntCondition{
		{Name: "baseline", About: "no fault: what every other condition is compared with", apply: func(*Scenario, Hunt) {}},
		{Name: "slow-reader-64k", About: "a client reading 64 KiB every 5 ms (about 13 MB/s)",
			apply: clientFaults(transport.SlowRead(64<<10, 5*time.Millisecond))},
		{Name: "slow-reader-16k", About: "a client reading 16 KiB every 10 ms (about 1.6 MB/s): send buffers fill",
			apply: clientFaults(transport.SlowRead(16<<10, 10*time.Millisecond))},
		{Name: "slow-reader-4k", About: "a client reading 4 KiB every 20 ms (about 200 KB/s): write timeouts fire",
			apply: clientFaults(transport.SlowRead(4<<10, 20*time.Millisecond))},
		{Name: "small-buffers", About: "a 16 KiB receive buffer on the client's socket (the kernel doubles it): a small window",
			apply: clientFaults(transport.RcvBuf(16 << 10))},
		{Name: "tiny-writes", About: "the request written and the response read 512 bytes at a time",
			apply: clientFaults(transport.WriteSlice(512), transport.ReadSlice(512))},
		{Name: "jitter", About: "1 ms +- 1 ms of latency on every write and read",
			apply: clientFaults(transport.Latency(time.Millisecond, time.Millisecond))},
		{Name: "early-answer", About: "an upload the server may answer before reading: unread bytes at its close reset the answer",
			apply: func(s *Scenario, _ Hunt) {
				for i := range s.Workload.Requests {
					r := &s.Workload.Requests[i]
					if r.Upload == 0 && r.UploadFile == "" {
						r.Upload = EarlyAnswerUpload
					}
				}
			},
			skip: func(h Hunt) string {
				for _, r := range h.Requests {
					if r.Method == "HEAD" {
						return "a HEAD request carries no upload"
					}
				}
				return ""
			}},
		{Name: "restart", About: "the server restarted (SIGTERM, start again) while slow readers download",
			apply: restartsDuring(false),
			skip: func(h Hunt) string {
				if !h.CanRestart {
					return "needs the server's command (the harness restarts only what it started)"
				}
				return ""
			}},
		{Name: "reload", About: "the server reloaded its configuration while slow readers download",
			apply: restartsDuring(true),
			skip: func(h Hunt) string {
				if !h.CanReload {
					return "needs a way to reload: a signal to the server the harness started, or a command"
				}
				return ""
			}},
	}
}

// Skipped is a condition a hunt left out, and why.
type Skipped struct{ Condition, Reason string }

func (s Skipped) String() string { return s.Condition + " (" + s.Reason + ")" }

// Scenarios builds the hunt's scenarios, one per condition that applies,
// and says which were left out. An unknown name in Only is a *FieldError.
func (h Hunt) Scenarios() ([]Compiled, []Skipped, error) {
	conds := HuntConditions()
	for _, n := range h.Only {
		if !slices.ContainsFunc(conds, func(c HuntCondition) bool { return c.Name == n }) {
			names := make([]string, len(conds))
			for i, c := range conds {
				names[i] = c.Name
			}
			return nil, nil, &FieldError{Path: "conditions", Problem: fmt.Sprintf("unknown condition %q", n), Accepted: strings.Join(names, ", ")}
		}
	}
	if len(h.Requests) == 0 {
		return nil, nil, &FieldError{Path: "workload", Problem: "no request to hunt with", Accepted: "at least one path"}
	}
	var list []Compiled
	var skipped []Skipped
	for i, c := range conds {
		if h.Only != nil && !slices.Contains(h.Only, c.Name) {
			continue
		}
		if c.skip != nil {
			if why := c.skip(h); why != "" {
				skipped = append(skipped, Skipped{c.Name, why})
				continue
			}
		}
		s := Scenario{
			Name:        HuntPrefix + c.Name,
			Description: c.About,
			TargetOnly:  true,
			Topology:    Topology{Mode: Direct, Hops: []Hop{{Network: h.Network}}},
			Concurrency: cmp.Or(h.Concurrency, DefaultConcurrency),
			Count:       cmp.Or(h.Count, 16),
			// A bound on time too: a slow reader on a large file must not
			// hold the hunt for ever.
			Duration: 30 * time.Second,
			Seed:     int64(i + 1),
			Verify:   h.Verify,
			Expect:   results.Expectation{Kind: results.ExpectComplete},
		}
		for _, r := range h.Requests {
			r.Headers = maps.Clone(r.Headers)
			if r.Want != nil {
				w := *r.Want
				r.Want = &w
			}
			s.Workload.Requests = append(s.Workload.Requests, r)
		}
		c.apply(&s, h)
		compiled, err := Compile(s)
		if err != nil {
			return nil, nil, err
		}
		list = append(list, compiled)
	}
	return list, skipped, nil
}
