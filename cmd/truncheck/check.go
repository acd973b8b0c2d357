package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/truncheck/truncheck/harness"
	"github.com/truncheck/truncheck/results"
	"github.com/truncheck/truncheck/scenarios"
)

func checkCommand(stdout, stderr io.Writer) command {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	var files stringList
	fs.Var(&files, "scenarios", "scenario file (YAML or JSON) with requests for the target's own API; repeatable")
	target := fs.String("target", "", "the server: http://127.0.0.1:PORT, https://127.0.0.1:PORT or unix:/path/to.sock\n(required; loopback unless --allow-remote; TLS and HTTP/2: the target flags below)")
	tf := addTargetFlags(fs)
	execCmd := fs.String("exec", "", "command that runs the server, e.g. 'bin/server --unix /tmp/s.sock'; split into words\n"+
		"like a shell would for quotes ('...', \"...\") and backslashes, nothing else (no variables, globs, pipes)")
	restartEvery := fs.Duration("restart-every", 0, "with --exec: restart the server this often (SIGTERM, wait, start) while requests are in flight")
	overlap := fs.Bool("overlap", false, "with --restart-every: start the new process first and SIGTERM the old one once the new one\n"+
		"holds the address and answers (a zero-downtime deploy; the server must take over its Unix path or use SO_REUSEPORT)")
	startTimeout := fs.Duration("start-timeout", 0, "how long the server may take to answer --ready-path (0: 20s with --exec, 2s for a server already running)")
	stopTimeout := fs.Duration("stop-timeout", 0, "with --exec: how long a SIGTERM'd server may take to exit before SIGKILL (0: the scenario's grace, else 10s)")
	readyPath := fs.String("ready-path", "/", "path polled until the server answers (any status)")
	accountPath := fs.String("account-path", "", "where the server publishes its account of a request, {id} = X-Request-Id,\n"+
		"e.g. '/accounts/{id}?wait=2s'; JSON with at least \"complete\" and \"bytes_written\".\n"+
		"Without it no failure is called silent (the server's view is unknown)")
	out := fs.String("out", "", "results directory; default out/check-<timestamp>")
	expectLength := sizeFlag(-1)
	fs.Var(&expectLength, "expect-length", "the exact body length every checked request must return, e.g. 3300000 or 3.3MB\n(what you know, not what the server says)")
	expectDigest := fs.String("expect-digest", "", "the RFC 9530 digest every checked request's body must have, e.g. 'sha-256=:BASE64:'")
	referenceURL := fs.String("reference-url", "", "a known-good server's URL of the same content (loopback); its bytes are the reference")
	referenceFile := fs.String("reference-file", "", "a file holding the body every checked request must return")
	referenceFetches := fs.Int("reference-fetches", 0, "without an expectation: how many clean fetches from the target make its reference (0: 3);\n"+
		"they never make a response complete on their own, they catch a strict prefix")
	requireE2E := fs.Bool("require-e2e", false, "a response whose only evidence is its hop's framing is unverified, not complete")
	gf := gateFlags(fs)
	verbose := fs.Bool("v", false, "harness events and the exec'd server's output to stderr")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: truncheck check --target URL [flags] [scenario...]")
		fmt.Fprintln(fs.Output(), "Runs the truncation-hunting scenarios against a server we did not write. Default: the quick,")
		fmt.Fprintln(fs.Output(), "direct scenarios expecting complete (they request imagesvc's API: /images/...; for another")
		fmt.Fprintln(fs.Output(), "server add --scenarios with its paths), restarting ones only with --exec. Target-only")
		fmt.Fprintln(fs.Output(), "scenarios (hyper-*) run when named. The target decides the socket, TLS and protocol of hop 0")
		fmt.Fprintln(fs.Output(), "(https:// with --ca-file or --insecure; --http2, --h2c, --http1), whatever a scenario's hop says.")
		fs.PrintDefaults()
	}
	return command{fs: fs, summary: "hunt truncations in a server we did not write (optionally exec'd and restarted)", fn: func(args []string) error {
		if *target == "" {
			return usagef("--target is required (http://127.0.0.1:PORT, https://127.0.0.1:PORT or unix:/path)")
		}
		t := &harness.Target{URL: *target}
		if err := tf.apply(t); err != nil {
			return err
		}
		var argv []string
		if *execCmd != "" {
			var err error
			if argv, err = splitWords(*execCmd); err != nil {
				return usagef("--exec: %v", err)
			}
			if len(argv) == 0 {
				return usagef("--exec: no command")
			}
		} else if *restartEvery > 0 {
			return usagef("--restart-every needs --exec (the harness can only restart what it started)")
		}
		if *overlap && *restartEvery <= 0 {
			return usagef("--overlap needs --exec and --restart-every")
		}
		gate, err := gf.gate(stderr)
		if err != nil {
			return err
		}
		cat, err := loadCatalog(files)
		if err != nil {
			return err
		}
		list, err := checkScenarios(cat, args, len(argv) > 0)
		if err != nil {
			return err
		}
		want, err := statedWant(int64(expectLength), *expectDigest, *referenceURL, *referenceFile)
		if err != nil {
			return err
		}
		if *referenceFetches < 0 || *referenceFetches > scenarios.MaxReferenceFetches {
			return usagef("--reference-fetches %d (accepted: 0 for 3, up to %d)", *referenceFetches, scenarios.MaxReferenceFetches)
		}
		for i := range list {
			sc := list[i].Scenario()
			if *requireE2E {
				sc.Verify.RequireEndToEnd = true
			}
			if *referenceFetches > 0 {
				sc.Verify.ReferenceFetches = *referenceFetches
			}
			if want != nil {
				if kinds := requestKinds(sc); kinds != 1 {
					return usagef("--expect-* and --reference-* state what one request returns; scenario %q sends %d kinds of request (give one scenario, or state it per request in a scenario file: workload[].want)", sc.Name, kinds)
				}
				for j := range sc.Workload.Requests {
					w := *want
					sc.Workload.Requests[j].Want = &w
				}
			}
			c, err := scenarios.Compile(sc)
			if err != nil {
				return usageError{err}
			}
			list[i] = c
		}
		t.Exec, t.RestartEvery, t.Overlap = argv, *restartEvery, *overlap
		t.StartTimeout, t.StopTimeout = *startTimeout, *stopTimeout
		t.ReadyPath, t.AccountPath = *readyPath, *accountPath
		if *verbose {
			t.Stdout, t.Stderr = stderr, stderr
		}
		sess, err := startSession("check", *out, list, stderr, *verbose)
		if err != nil {
			return err
		}
		if err := sess.setTarget(t); err != nil {
			sess.close()
			return err
		}
		err = sess.runAll(list, func(ctx context.Context, _ int, sc scenarios.Compiled) error {
			o := sess.options()
			o.Target = t
			_, err := sess.runOne(ctx, sc, o)
			return err // e.g. a target that never answered: exit 3
		})
		if err != nil {
			return envError{err}
		}
		rr := sess.result()
		if err := sess.finish(stdout, rr, gate); err != nil {
			return err
		}
		return verdictErr(rr)
	}}
}

// statedWant is what the --expect-* and --reference-* flags state, or nil.
func statedWant(length int64, dg, refURL, refFile string) (*scenarios.Want, error) {
	w := &scenarios.Want{ReferenceURL: refURL, ReferenceFile: refFile}
	if err := w.Digest.UnmarshalText([]byte(dg)); err != nil {
		return nil, usagef("--expect-digest: %v", err)
	}
	if length >= 0 {
		w.Length = &length
	}
	if refFile != "" {
		if _, err := os.Stat(refFile); err != nil {
			return nil, usagef("--reference-file: %v", err)
		}
	}
	if w.IsZero() {
		return nil, nil
	}
	return w, nil
}

// requestKinds counts the distinct requests a scenario sends.
func requestKinds(s scenarios.Scenario) int {
	seen := map[string]bool{}
	for _, r := range s.Workload.Requests {
		seen[r.Method+" "+r.Path] = true
	}
	return len(seen)
}

// checkScenarios is the named scenarios (direct ones only: the target is
// the one server), or the defaults: quick, direct, expecting complete,
// written for the image service's API (not for the bodies origin's or
// another target's), and restarting only when the harness runs the server.
func checkScenarios(cat catalog, names []string, exec bool) ([]scenarios.Compiled, error) {
	if len(names) == 0 && len(cat.fromFiles) > 0 {
		names = cat.fromFiles
	}
	if len(names) > 0 {
		list, err := pick(cat, names)
		if err != nil {
			return nil, err
		}
		for _, c := range list {
			if mode := c.Scenario().Topology.Mode; mode != scenarios.Direct {
				return nil, usagef("scenario %q has topology %s; a target runs direct scenarios only", c.Name(), mode)
			}
		}
		return list, nil
	}
	var list []scenarios.Compiled
	for _, c := range cat.Quick() {
		s := c.Scenario()
		if s.Topology.Mode == scenarios.Direct && s.Expect.Kind == results.ExpectComplete && !s.TargetOnly &&
			s.Origin == scenarios.DefaultOrigin && (exec || s.Restarts.Every == 0) {
			list = append(list, c)
		}
	}
	return list, nil
}

// splitWords splits a command line into words the way a POSIX shell does
// for quoting only: blanks separate words, '...' is literal, "..." allows
// \" \\ \$ \` escapes, a backslash outside quotes escapes the next
// character. No expansion of any kind happens.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("trailing backslash in %q", s)
			}
			i++
			cur.WriteByte(s[i])
			in = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated \" in %q", s)
			}
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
