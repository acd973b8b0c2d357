package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

// hunt is what check's flags say about the user's own requests: the
// paths to hunt on and how to ask for them. From it check builds the
// hunting set, one scenario per condition under which servers are known
// to cut large responses, every one expecting each response complete.
type hunt struct {
	paths       []string
	method      string
	headers     map[string]string
	upload      int64  // bytes of a generated body; 0: none
	uploadFile  string // or a file's bytes
	want        *scenarios.Want
	count       int
	concurrency int
	network     scenarios.Network // the target's socket kind, for the layout
	// restartEvery is the period of the restart and reload conditions.
	restartEvery time.Duration
	canRestart   bool // --exec: the harness runs the server
	canReload    bool // --reload-signal or --reload-cmd
	verify       scenarios.Verify
	only         []string // --conditions; nil: all
}

// earlyAnswerUpload is the body the early-answer condition sends when the
// user gave none: more than a socket's buffers take, so a server that
// answers without reading it closes with bytes unread.
const earlyAnswerUpload = 4 << 20

// condition is one way of stressing a server.
type condition struct {
	name, about string
	apply       func(*scenarios.Scenario)
	// skip, when it returns a reason, leaves the condition out and says why.
	skip func(hunt) string
}

func clientFaults(f ...transport.Fault) func(*scenarios.Scenario) {
	faults := transport.MustFaults(f...)
	return func(s *scenarios.Scenario) { s.Topology.Hops[0].ClientFaults = faults }
}

// conditions are the hunting set, mildest first. Every fault is on the
// client's side of the connection, so the server under test is exactly
// the one deployed: nothing is put in front of it.
var conditions = []condition{
	{name: "baseline", about: "no fault: what every other condition is compared with", apply: func(*scenarios.Scenario) {}},
	{name: "slow-reader-64k", about: "a client reading 64 KiB every 5 ms (about 13 MB/s)",
		apply: clientFaults(transport.SlowRead(64<<10, 5*time.Millisecond))},
	{name: "slow-reader-16k", about: "a client reading 16 KiB every 10 ms (about 1.6 MB/s): send buffers fill",
		apply: clientFaults(transport.SlowRead(16<<10, 10*time.Millisecond))},
	{name: "slow-reader-4k", about: "a client reading 4 KiB every 20 ms (about 200 KB/s): write timeouts fire",
		apply: clientFaults(transport.SlowRead(4<<10, 20*time.Millisecond))},
	{name: "small-buffers", about: "a 4 KiB receive buffer on the client's socket",
		apply: clientFaults(transport.RcvBuf(4 << 10))},
	{name: "tiny-writes", about: "the request written and the response read 512 bytes at a time",
		apply: clientFaults(transport.WriteSlice(512), transport.ReadSlice(512))},
	{name: "jitter", about: "1 ms +- 1 ms of latency on every write and read",
		apply: clientFaults(transport.Latency(time.Millisecond, time.Millisecond))},
	{name: "early-answer", about: "an upload the server may answer before reading: unread bytes at its close reset the answer",
		apply: func(s *scenarios.Scenario) {
			for i := range s.Workload.Requests {
				r := &s.Workload.Requests[i]
				if r.Upload == 0 && r.UploadFile == "" {
					r.Upload = earlyAnswerUpload
				}
			}
		},
		skip: func(h hunt) string {
			if h.method == "HEAD" {
				return "a HEAD request carries no upload"
			}
			return ""
		}},
	{name: "restart", about: "the server restarted (SIGTERM, start again) while slow readers download",
		apply: func(s *scenarios.Scenario) {
			clientFaults(transport.SlowRead(64<<10, 5*time.Millisecond))(s)
		},
		skip: func(h hunt) string {
			if !h.canRestart {
				return "needs the server's command after -- (the harness restarts only what it started)"
			}
			return ""
		}},
	{name: "reload", about: "the server reloaded its configuration while slow readers download",
		apply: func(s *scenarios.Scenario) {
			clientFaults(transport.SlowRead(64<<10, 5*time.Millisecond))(s)
			s.Restarts.Reload = true
		},
		skip: func(h hunt) string {
			if !h.canReload {
				return "needs --reload-signal (with the command after --) or --reload-cmd"
			}
			return ""
		}},
}

// huntPrefix names the hunting set's scenarios in tables and results.
const huntPrefix = "hunt-"

// scenarios builds the hunting set. skipped says which conditions were
// left out and why.
func (h hunt) scenarios() (list []scenarios.Compiled, skipped []string, err error) {
	for i, c := range conditions {
		if h.only != nil && !slices.Contains(h.only, c.name) {
			continue
		}
		if c.skip != nil {
			if why := c.skip(h); why != "" {
				skipped = append(skipped, c.name+" ("+why+")")
				continue
			}
		}
		s := scenarios.Scenario{
			Name:        huntPrefix + c.name,
			Description: c.about,
			TargetOnly:  true,
			Topology:    scenarios.Topology{Mode: scenarios.Direct, Hops: []scenarios.Hop{{Network: h.network}}},
			Concurrency: h.concurrency,
			Count:       h.count,
			// A bound on time too: a slow reader on a large file must not
			// hold the hunt for ever.
			Duration: 30 * time.Second,
			Seed:     int64(i + 1),
			Verify:   h.verify,
			Expect:   results.Expectation{Kind: results.ExpectComplete},
		}
		for _, p := range h.paths {
			r := scenarios.Request{Method: h.method, Path: p, Headers: h.headers, Upload: h.upload, UploadFile: h.uploadFile}
			if h.want != nil {
				w := *h.want
				r.Want = &w
			}
			s.Workload.Requests = append(s.Workload.Requests, r)
		}
		c.apply(&s)
		if c.name == "restart" || c.name == "reload" {
			s.Restarts.Every = h.restartEvery
		}
		compiled, err := scenarios.Compile(s)
		if err != nil {
			return nil, nil, usageError{err}
		}
		list = append(list, compiled)
	}
	return list, skipped, nil
}

// pickConditions reads --conditions.
func pickConditions(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var names []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if !slices.ContainsFunc(conditions, func(c condition) bool { return c.name == n }) {
			all := make([]string, len(conditions))
			for i, c := range conditions {
				all[i] = c.name
			}
			return nil, usagef("--conditions: unknown condition %q (accepted: %s)", n, strings.Join(all, ", "))
		}
		names = append(names, n)
	}
	return names, nil
}

// conditionList is the hunting set for check's help.
func conditionList() string {
	var b strings.Builder
	b.WriteString("The hunting conditions:")
	for _, c := range conditions {
		fmt.Fprintf(&b, "\n  %-16s %s", c.name, c.about)
	}
	return b.String()
}

// printHuntSummary says, under the table, which conditions found
// something, which found nothing and which did not run.
func printHuntSummary(w io.Writer, rr *results.RunResult, skipped []string) error {
	var found, clean []string
	for _, sr := range rr.Scenarios {
		name, ok := strings.CutPrefix(sr.Scenario, huntPrefix)
		if !ok {
			continue
		}
		if sr.Met {
			clean = append(clean, name)
		} else {
			found = append(found, fmt.Sprintf("  %-16s %s", name, sr.Reason))
		}
	}
	ew := &errorWriter{w: w}
	fmt.Fprintln(ew)
	switch {
	case len(found) == 0:
		fmt.Fprintf(ew, "hunt: nothing found under %d conditions (%s)\n", len(clean), strings.Join(clean, ", "))
	default:
		fmt.Fprintf(ew, "hunt: %d of %d conditions found something:\n%s\n", len(found), len(found)+len(clean), strings.Join(found, "\n"))
		if len(clean) > 0 {
			fmt.Fprintf(ew, "  nothing under: %s\n", strings.Join(clean, ", "))
		}
	}
	if len(skipped) > 0 {
		fmt.Fprintf(ew, "  not run: %s\n", strings.Join(skipped, "; "))
	}
	if ew.err != nil {
		return envError{fmt.Errorf("writing the table: %w", ew.err)}
	}
	return nil
}

// errorWriter keeps the first write error.
type errorWriter struct {
	w   io.Writer
	err error
}

func (e *errorWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

// parseHeader reads --header "Name: value".
func parseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return "", "", usagef("--header %q (accepted: \"Name: value\", e.g. \"Accept-Encoding: identity\")", s)
	}
	return name, value, nil
}
