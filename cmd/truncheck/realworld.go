package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
	"github.com/truncheck/truncheck/transport"
)

func realworldCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("realworld", flag.ContinueOnError)
	binDir := fs.String("bin-dir", filepath.Join("targets", "hyper", "bin"), "where hyper-stock and hyper-fixed are (built by bash targets/hyper/build.sh)")
	out := fs.String("out", "", "results directory; default out/realworld-<timestamp>")
	timeline := fs.Int("timeline", 16, "events of the flight recorder shown for each first silent truncation (the end of it: the FIN)")
	verbose := fs.Bool("v", false, "harness events and the servers' output to stderr")
	return command{fs: fs,
		summary:  "reproduce hyper #4022 on real hyper 0.14.19 and prove the fix (targets/hyper)",
		synopsis: "truncheck realworld [flags] [hyper-scenario...]",
		about: "Reproduces hyper #4022 on hyper 0.14.19 (targets/hyper): the hyper-* scenarios of the catalog\n" +
			"against hyper-stock (expect silent truncations) and, for the -fixed ones, hyper-fixed (expect none).",
		examples: []string{
			"bash targets/hyper/build.sh && truncheck realworld",
			"truncheck realworld hyper-early-answer hyper-early-answer-fixed",
		},
		fn: func(args []string) error {
			if *timeline < 0 {
				return usagef("--timeline must not be negative")
			}
			cat := catalog{Catalog: scenarios.Builtin()}
			var list []scenarios.Compiled
			if len(args) > 0 {
				var err error
				if list, err = pick(cat, args); err != nil {
					return err
				}
			} else {
				for _, c := range cat.All() {
					if isHyper(c) {
						list = append(list, c)
					}
				}
			}
			for _, c := range list {
				if !isHyper(c) {
					return usagef("scenario %q is not a hyper target scenario (accepted: the scenarios of truncheck list whose target is hyper-stock or hyper-fixed)", c.Name())
				}
				if _, err := os.Stat(hyperBinary(*binDir, c)); err != nil {
					return usagef("%v (build both with: bash targets/hyper/build.sh)", err)
				}
			}
			if note := queuedResetNote(list); note != "" {
				fmt.Fprintln(stderr, note)
			}
			sess, err := startSession("realworld", *out, list, stderr, *verbose)
			if err != nil {
				return err
			}
			err = sess.runAll(list, func(ctx context.Context, _ int, sc scenarios.Compiled) error {
				_, err := runHyper(ctx, sess, sc, *binDir, *verbose)
				return err
			})
			if err != nil {
				return envError{err}
			}
			rr := sess.result()
			if err := sess.finish(stdout, rr, nil); err != nil {
				return err
			}
			for _, r := range sess.reports {
				if r.Expectation.Kind == results.ExpectDetect {
					if _, err := fmt.Fprint(stdout, firstSilent(r, *timeline)); err != nil {
						return envError{err}
					}
				}
			}
			return sess.exit(rr)
		}}
}

// isHyper says whether a scenario's target recipe is one of the hyper
// builds (hyper-stock: Debian's 0.14.19 as shipped; hyper-fixed: patched).
func isHyper(c scenarios.Compiled) bool {
	s := c.Scenario()
	return s.TargetOnly && s.Target != nil && (s.Target.Server == "hyper-stock" || s.Target.Server == "hyper-fixed")
}

// hyperBinary is the build a scenario's recipe names.
func hyperBinary(binDir string, c scenarios.Compiled) string {
	return filepath.Join(binDir, c.Scenario().Target.Server)
}

// runHyper wires the hyper target the way harness/hyper_test.go does: a
// Unix socket in a short temporary directory (sun_path is 108 bytes), or,
// for the -tcp scenarios, a free loopback port taken with --reuse-port so
// a restarted process gets the same port; the accounts file shared across
// restarts; /healthz to wait for; /accounts/{id}?wait=2s for the server's
// view (silence is the server's word, not assumed).
func runHyper(ctx context.Context, sess *session, c scenarios.Compiled, binDir string, verbose bool) (harness.Report, error) {
	s := c.Scenario()
	bin, err := filepath.Abs(hyperBinary(binDir, c))
	if err != nil {
		return harness.Report{}, err
	}
	tmp, err := os.MkdirTemp("", "tc")
	if err != nil {
		return harness.Report{}, err
	}
	defer os.RemoveAll(tmp)
	// Overlap: a deploy starts the new process before the old one drains; the
	// hyper target can take over its Unix path or share its port (--reuse-port),
	// so no request meets a closed socket. On TCP, a connection still queued
	// on the old listener when it closes is reset unless the kernel migrates
	// it (queuedResetNote).
	t := &harness.Target{ReadyPath: "/healthz", AccountPath: "/accounts/{id}?wait=2s", Overlap: true}
	if s.Topology.Hops[0].Network == scenarios.TCP {
		port, err := freePort()
		if err != nil {
			return harness.Report{}, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		t.URL = "http://" + addr
		t.Exec = []string{bin, "--tcp", addr, "--reuse-port"}
	} else {
		sock := filepath.Join(tmp, "h.sock")
		t.URL = "unix:" + sock
		t.Exec = []string{bin, "--unix", sock}
	}
	t.Exec = append(t.Exec, "--accounts", filepath.Join(tmp, "accounts.jsonl"))
	if s.Service.DisableKeepAlives {
		t.Exec = append(t.Exec, "--no-keep-alive")
	}
	if verbose {
		t.Stdout, t.Stderr = sess.stderr, sess.stderr
	}
	o := sess.options()
	o.Target = t
	return sess.runOne(ctx, c, o)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// firstSilent renders the first silent truncation of a report: where the
// body stopped, what the server believed, and the end of the connection's
// flight-recorder timeline (the early FIN).
func firstSilent(r harness.Report, events int) string {
	if r.Summary == nil {
		return ""
	}
	for _, f := range r.Summary.Failures {
		if !f.Silent() || f.Outcome != results.Truncated {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n%s: first silent truncation: request #%d %s %s (id %s), status %d\n",
			r.Scenario, f.Seq, f.Method, f.URL, f.RequestID, f.Status)
		fmt.Fprintf(&b, "  body stopped at offset %d of %d (%s of %s) with a clean FIN; the client's read said: %s\n",
			f.Offset, f.Expected, results.Bytes(f.Offset), results.Bytes(f.Expected), orDash(f.Error))
		if wire, ok := wireBytes(f); ok {
			fmt.Fprintf(&b, "  on the wire: %d bytes read = %d-byte head + %d body bytes\n", wire, wire-f.Received, f.Received)
		}
		if a := f.ServerAccount; a != nil {
			fmt.Fprintf(&b, "  server's account: status %d, handed hyper %d of %d bytes, complete=%v%s\n",
				a.Status, a.BytesWritten, a.ContentLength, a.Complete, errSuffix(a.WriteError))
		}
		tl := f.Timeline
		if len(tl) > events {
			fmt.Fprintf(&b, "  client timeline (%s, last %d of %d events):\n", f.ConnID, events, len(tl))
			tl = tl[len(tl)-events:]
		} else {
			fmt.Fprintf(&b, "  client timeline (%s):\n", f.ConnID)
		}
		for _, e := range tl {
			fmt.Fprintf(&b, "    %s\n", e)
		}
		return b.String()
	}
	return fmt.Sprintf("\n%s: no silent truncation kept in the summary\n", r.Scenario)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// wireBytes sums what the client connection read, head included, when the
// timeline is whole (it starts with the dial): the number to compare with
// the original report's 219,264.
func wireBytes(f results.Record) (int64, bool) {
	if len(f.Timeline) == 0 || f.Timeline[0].Kind != transport.EventDial {
		return 0, false
	}
	var n int64
	for _, e := range f.Timeline {
		if e.Kind == transport.EventRead && (e.Conn == "" || e.Conn == f.ConnID) {
			n += e.N
		}
	}
	return n, n >= f.Received
}

// migrateReqPath is Linux's switch (>= 5.14) that moves connections queued
// on a closing SO_REUSEPORT listener to another listener of its group.
const migrateReqPath = "/proc/sys/net/ipv4/tcp_migrate_req"

// queuedResetNote warns, before TCP restart scenarios run, when the kernel
// will reset connections queued on the old process's listener as it
// closes: a restarted fixed build can then lose the odd request before any
// byte of its answer (a transport-error, not a cut). "" when the kernel
// migrates them, or when no TCP restart scenario is in the list.
func queuedResetNote(list []scenarios.Compiled) string {
	tcpRestart := slices.ContainsFunc(list, func(c scenarios.Compiled) bool {
		s := c.Scenario()
		return s.Topology.Hops[0].Network == scenarios.TCP && s.Restarts.Every > 0
	})
	if !tcpRestart {
		return ""
	}
	if b, err := os.ReadFile(migrateReqPath); err == nil && strings.TrimSpace(string(b)) != "0" {
		return ""
	}
	return "realworld: " + migrateReqPath + " is not 1: a connection queued on a restarting target's old listener is reset " +
		"(sysctl -w net.ipv4.tcp_migrate_req=1 moves it to the new one; .ci/run sets it)"
}
