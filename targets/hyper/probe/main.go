// Command probe is a hand tool for truncheck's hyper target (targets/hyper): it fires requests
// at the server over a Unix socket or TCP, reads each response slowly with a raw socket (a
// slow-ish reader keeps the socket buffer full, which is what the buffered-shutdown defect needs),
// checks every body byte against the server's deterministic generator, and sets each
// response next to the server's own account of it. A response that is short while the server
// believes it sent everything is a SILENT truncation.
//
//	probe ──raw HTTP/1.1──> hyper-target (unix or tcp)
//	  │  head, then body read in -read sized pieces with -pause between them
//	  │  bytes compared with generate(n) (same formula as targets/hyper/src/body.rs)
//	  └─ GET /accounts/{id}?wait=2s (or -accounts-file JSONL) ──> verdict per request
//
// It is a manual proof tool, not part of the harness: the harness drives the same server
// through `truncheck check --exec`.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/truncheck/truncheck/harness/origin"
	"github.com/truncheck/truncheck/transport"
)

// config holds the command line.
type config struct {
	network, addr string
	n, c          int
	size          int64
	mode          string
	upload        int64
	readSize      int
	pause         time.Duration
	startDelay    time.Duration
	termPID       int
	hold          time.Duration
	accountsFile  string
	idPrefix      string
	bare          bool
	connClose     bool
	timeout       time.Duration
}

// result is what the probe saw for one request, plus the server's account of it.
type result struct {
	id       string
	status   int
	head     int64
	body     int64
	expected int64
	outcome  string // complete, truncated, reset, corrupt, stalled, error
	end      string // how the read ended: fin, rst, timeout, "" when complete
	errText  string
	account  *account
}

// account mirrors the JSON the server answers at GET /accounts/{id} (the
// account protocol's fields, plus the server's own conn_state).
type account struct {
	RequestID     string `json:"request_id"`
	Status        int    `json:"status"`
	ContentLength int64  `json:"content_length"`
	BytesWritten  int64  `json:"bytes_written"`
	WriteError    string `json:"write_error"`
	Complete      bool   `json:"complete"`
	ConnState     string `json:"conn_state"`
	ConnID        string `json:"conn_id"`
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(2)
	}
	results := run(cfg)
	os.Exit(report(cfg, results))
}

func parseFlags(args []string) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	unix := fs.String("unix", "", "Unix socket path of the server")
	tcp := fs.String("tcp", "", "TCP address of the server, e.g. 127.0.0.1:8080")
	size := fs.String("size", "3300000", "response body size (bytes, or with KiB/MiB)")
	upload := fs.String("upload", "1MiB", "request body size for -mode early|upload")
	fs.IntVar(&cfg.n, "n", 25, "number of requests")
	fs.IntVar(&cfg.c, "c", 1, "concurrent requests")
	fs.StringVar(&cfg.mode, "mode", "get", "get | early (POST with Expect: 100-continue, ?early=1) | upload (POST, server reads the body)")
	fs.IntVar(&cfg.readSize, "read", 64<<10, "bytes per read of the response body")
	fs.DurationVar(&cfg.pause, "pause", time.Millisecond, "pause after each read (the slow reader)")
	fs.DurationVar(&cfg.startDelay, "start-delay", 0, "wait this long after sending the request before reading anything (a reader slow to start)")
	fs.IntVar(&cfg.termPID, "term", 0, "send SIGTERM to this pid once the first wave of responses has its heads")
	fs.DurationVar(&cfg.hold, "hold", 100*time.Millisecond, "with -term: first-wave requests read no body until SIGTERM was sent and this long after (negative: do not wait)")
	fs.StringVar(&cfg.accountsFile, "accounts-file", "", "read accounts from the server's --accounts JSONL instead of over HTTP")
	fs.StringVar(&cfg.idPrefix, "id", "", "request id prefix (default: probe-<unix time>)")
	fs.BoolVar(&cfg.connClose, "close", false, "send Connection: close (the response is then the connection's last)")
	fs.BoolVar(&cfg.bare, "bare", false, "ask for the minimal head (?bare=1: no digest, no request id echo)")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "give up on a response making no progress for this long")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case *unix != "" && *tcp == "":
		cfg.network, cfg.addr = "unix", *unix
	case *tcp != "" && *unix == "":
		cfg.network, cfg.addr = "tcp", *tcp
	default:
		return cfg, errors.New("give exactly one of -unix PATH or -tcp ADDR")
	}
	var err error
	if cfg.size, err = transport.ParseSize(*size); err != nil {
		return cfg, fmt.Errorf("-size: %w", err)
	}
	if cfg.upload, err = transport.ParseSize(*upload); err != nil {
		return cfg, fmt.Errorf("-upload: %w", err)
	}
	if cfg.mode != "get" && cfg.mode != "early" && cfg.mode != "upload" {
		return cfg, fmt.Errorf("-mode %q: accepted: get, early, upload", cfg.mode)
	}
	if cfg.n < 1 || cfg.c < 1 || cfg.n > 100000 || cfg.c > 1000 {
		return cfg, errors.New("-n must be 1..100000 and -c 1..1000")
	}
	if cfg.readSize < 1 {
		return cfg, errors.New("-read must be at least 1")
	}
	if cfg.idPrefix == "" {
		cfg.idPrefix = fmt.Sprintf("probe-%d", time.Now().Unix())
	}
	return cfg, nil
}

// generate is the server's body formula: 8-byte little-endian blocks of SplitMix64's
// finaliser over n*golden+k, cut to n bytes.
func generate(n int64) []byte {
	b, _ := io.ReadAll(origin.Body(n)) // the same formula as the target's, shared with the harness
	return b
}

// counter counts bytes read from the wire (head and body together).
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func run(cfg config) []result {
	want := generate(cfg.size)
	sum := sha256.Sum256(want)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"

	results := make([]result, cfg.n)
	jobs := make(chan int)
	var heads sync.WaitGroup
	firstWave := min(cfg.c, cfg.n)
	heads.Add(firstWave)
	termSent := make(chan struct{})
	if cfg.termPID > 0 {
		go func() {
			defer close(termSent)
			heads.Wait()
			fmt.Fprintf(os.Stderr, "probe: %d response heads in, sending SIGTERM to %d\n", firstWave, cfg.termPID)
			if err := syscall.Kill(cfg.termPID, syscall.SIGTERM); err != nil {
				fmt.Fprintln(os.Stderr, "probe: SIGTERM:", err)
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < cfg.c; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			first := w < firstWave
			for i := range jobs {
				var once sync.Once
				onHead := func() {}
				if first {
					onHead = func() { once.Do(heads.Done) }
				}
				var afterHead func()
				if first && cfg.termPID > 0 && cfg.hold >= 0 {
					// A reader stalled at the moment of the deploy: the socket buffers are
					// full when the server shuts the connection down.
					afterHead = func() {
						onHead()
						<-termSent
						time.Sleep(cfg.hold)
					}
				} else {
					afterHead = onHead
				}
				results[i] = one(cfg, i, want, digest, afterHead)
				onHead()
				first = false
			}
		}(w)
	}
	for i := 0; i < cfg.n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i := range results {
		results[i].account = fetchAccount(cfg, results[i].id)
	}
	return results
}

// one sends request i on a fresh connection and reads the answer slowly.
func one(cfg config, i int, want []byte, digest string, onHead func()) result {
	r := result{id: fmt.Sprintf("%s-%03d", cfg.idPrefix, i), expected: -1}
	conn, err := net.DialTimeout(cfg.network, cfg.addr, 5*time.Second)
	if err != nil {
		r.outcome, r.errText = "error", err.Error()
		return r
	}
	defer func() { _ = conn.Close() }()

	path := fmt.Sprintf("/bytes/%d", cfg.size)
	var q []string
	if cfg.mode == "early" {
		q = append(q, "early=1")
	}
	if cfg.bare {
		q = append(q, "bare=1")
	}
	if len(q) > 0 {
		path += "?" + strings.Join(q, "&")
	}
	method := "GET"
	var extra string
	if cfg.mode != "get" {
		method = "POST"
		extra = fmt.Sprintf("Content-Length: %d\r\nExpect: 100-continue\r\n", cfg.upload)
	}
	if cfg.connClose {
		extra += "Connection: close\r\n"
	}
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: hyper-target\r\nX-Request-Id: %s\r\n%s\r\n", method, path, r.id, extra)
	_ = conn.SetDeadline(time.Now().Add(cfg.timeout))
	if _, err := io.WriteString(conn, req); err != nil {
		r.outcome, r.errText = "error", err.Error()
		return r
	}
	if cfg.startDelay > 0 {
		time.Sleep(cfg.startDelay)
	}
	wire := &counter{r: conn}
	br := bufio.NewReaderSize(wire, cfg.readSize)
	var headers map[string]string
	for {
		status, hdr, n, err := readHead(br)
		r.head += n
		if err != nil {
			r.outcome, r.errText = "error", "reading the head: "+err.Error()
			return r
		}
		if status == 100 {
			// The server wants the upload: send it, then read the final answer.
			if _, err := conn.Write(make([]byte, cfg.upload)); err != nil {
				r.outcome, r.errText = "error", "sending the upload: "+err.Error()
				return r
			}
			continue
		}
		r.status, headers = status, hdr
		break
	}
	onHead()
	if r.status != 200 {
		r.outcome = "error"
		r.errText = fmt.Sprintf("status %d", r.status)
		return r
	}
	cl, err := strconv.ParseInt(headers["content-length"], 10, 64)
	if err != nil || cl != cfg.size {
		r.outcome, r.errText = "error", fmt.Sprintf("content-length %q, want %d", headers["content-length"], cfg.size)
		return r
	}
	r.expected = cl
	if d, ok := headers["content-digest"]; ok && d != digest {
		r.outcome, r.errText = "error", fmt.Sprintf("content-digest %s, the generator gives %s", d, digest)
		return r
	}
	buf := make([]byte, cfg.readSize)
	for r.body < cl {
		_ = conn.SetReadDeadline(time.Now().Add(cfg.timeout))
		n, err := br.Read(buf[:min(int64(len(buf)), cl-r.body)])
		if n > 0 && !bytes.Equal(buf[:n], want[r.body:r.body+int64(n)]) {
			r.outcome = "corrupt"
			r.body += int64(n)
			return r
		}
		r.body += int64(n)
		if err != nil {
			var ne net.Error
			switch {
			case errors.Is(err, io.EOF):
				r.outcome, r.end = "truncated", "fin"
			case errors.Is(err, syscall.ECONNRESET):
				r.outcome, r.end = "reset", "rst"
			case errors.As(err, &ne) && ne.Timeout():
				r.outcome, r.end = "stalled", "timeout"
			default:
				r.outcome, r.end = "error", "error"
			}
			r.errText = err.Error()
			return r
		}
		if cfg.pause > 0 {
			time.Sleep(cfg.pause)
		}
	}
	r.outcome = "complete"
	return r
}

// readHead reads one response head; it returns the status, lower-cased headers and the
// number of bytes the head took on the wire.
func readHead(br *bufio.Reader) (int, map[string]string, int64, error) {
	var n int64
	line, err := br.ReadString('\n')
	n += int64(len(line))
	if err != nil {
		return 0, nil, n, err
	}
	parts := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		return 0, nil, n, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, nil, n, fmt.Errorf("bad status line %q", line)
	}
	h := map[string]string{}
	for {
		line, err := br.ReadString('\n')
		n += int64(len(line))
		if err != nil {
			return 0, nil, n, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return status, h, n, nil
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			h[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
}

// fetchAccount asks the server (or its JSONL file) what it believes it sent for id.
func fetchAccount(cfg config, id string) *account {
	if cfg.accountsFile != "" {
		data, err := os.ReadFile(cfg.accountsFile)
		if err != nil {
			return nil
		}
		var found *account
		for _, line := range strings.Split(string(data), "\n") {
			var a account
			if json.Unmarshal([]byte(line), &a) == nil && a.RequestID == id {
				found = &a
			}
		}
		return found
	}
	conn, err := net.DialTimeout(cfg.network, cfg.addr, 2*time.Second)
	if err != nil {
		return nil
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /accounts/%s?wait=2s HTTP/1.1\r\nHost: hyper-target\r\nConnection: close\r\n\r\n", id)
	br := bufio.NewReader(conn)
	status, _, _, err := readHead(br)
	if err != nil || status != 200 {
		return nil
	}
	var a account
	if json.NewDecoder(br).Decode(&a) != nil {
		return nil
	}
	return &a
}

// report prints one line per request and a summary; exit status 1 if any response was not
// complete, so scripts can tell stock from fixed.
func report(cfg config, results []result) int {
	counts := map[string]int{}
	offsets := map[int64]int{}
	silent := 0
	for _, r := range results {
		counts[r.outcome]++
		line := fmt.Sprintf("%s status=%d head=%d body=%d/%d wire=%d %s", r.id, r.status, r.head, r.body, r.expected, r.head+r.body, r.outcome)
		if r.end != "" {
			line += "(" + r.end + ")"
		}
		if r.outcome != "complete" {
			offsets[r.head+r.body]++
		}
		if a := r.account; a != nil {
			line += fmt.Sprintf(" | server: handed %d/%d conn=%s complete=%v", a.BytesWritten, a.ContentLength, a.ConnState, a.Complete)
			if a.WriteError != "" {
				line += fmt.Sprintf(" error=%q", a.WriteError)
			}
			if r.outcome == "truncated" && a.Complete {
				line += " => SILENT"
				silent++
			}
		} else {
			line += " | server: no account"
		}
		if r.errText != "" && r.outcome != "truncated" {
			line += " err=" + r.errText
		}
		fmt.Println(line)
	}
	var keys []string
	for k := range counts {
		keys = append(keys, fmt.Sprintf("%s=%d", k, counts[k]))
	}
	sort.Strings(keys)
	fmt.Printf("summary: %d requests over %s, %s, silent truncations=%d\n", len(results), cfg.network, strings.Join(keys, " "), silent)
	if len(offsets) > 0 {
		var offs []int64
		for o := range offsets {
			offs = append(offs, o)
		}
		sort.Slice(offs, func(i, j int) bool {
			return offsets[offs[i]] > offsets[offs[j]] || (offsets[offs[i]] == offsets[offs[j]] && offs[i] < offs[j])
		})
		var parts []string
		for _, o := range offs {
			parts = append(parts, fmt.Sprintf("%d x%d", o, offsets[o]))
		}
		fmt.Printf("wire offsets where incomplete responses ended (head+body bytes): %s\n", strings.Join(parts, ", "))
	}
	if counts["complete"] != len(results) {
		return 1
	}
	return 0
}
