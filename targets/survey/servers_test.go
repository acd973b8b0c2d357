package survey

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireEnv lists servers whose absence fails the tests instead of
// skipping them ("all" for every one), so CI can insist on its subset.
const requireEnv = "TRUNCHECK_SURVEY_REQUIRE"

func required(name string) bool {
	list := strings.FieldsFunc(os.Getenv(requireEnv), func(r rune) bool { return r == ',' || r == ' ' })
	return slices.Contains(list, name) || slices.Contains(list, "all")
}

// surveyDir is a fresh directory that servers dropping to their own user
// can still read (t.TempDir's parents are 0700).
func surveyDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "survey-test-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept %s for a look", dir)
			return
		}
		os.RemoveAll(dir)
	})
	return dir
}

// bodyServer is an in-process upstream serving Body(n) at BodyPath(n) with a
// Content-Length.
func bodyServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > MaxFileSize {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = io.Copy(w, Body(n))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin\n") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// testClient is the instance's client without keep-alive: a connection
// left idle would hold a graceful stop (node's server.close() waits for
// it, an old haproxy worker too), and CloseIdleConnections races with the
// transport putting a finished connection back.
func testClient(t *testing.T, in *Instance, timeout time.Duration) *http.Client {
	t.Helper()
	c, err := in.Client(timeout)
	require.NoError(t, err)
	tr, ok := c.Transport.(*http.Transport)
	require.True(t, ok)
	tr.DisableKeepAlives = true
	return c
}

// fetch GETs path and returns the body's length and sha-256, reading
// slowly when pause > 0 (chunk bytes, then pause); onStart runs once the
// first bytes arrived.
func fetch(ctx context.Context, c *http.Client, url, id string, pause time.Duration, onStart func()) (int, int64, [32]byte, error) {
	var sum [32]byte
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, sum, err
	}
	req.Header.Set("X-Request-Id", id)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, sum, err
	}
	defer resp.Body.Close()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := io.ReadFull(resp.Body, buf)
		h.Write(buf[:k])
		n += int64(k)
		if n > 0 && onStart != nil {
			onStart()
			onStart = nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if resp.ContentLength >= 0 && n < resp.ContentLength {
				err = io.ErrUnexpectedEOF
			} else {
				err = nil
			}
			h.Sum(sum[:0])
			return resp.StatusCode, n, sum, err
		}
		if err != nil {
			return resp.StatusCode, n, sum, err
		}
		if pause > 0 {
			time.Sleep(pause)
		}
	}
}

// TestServers runs every server of the catalog that is installed: it
// starts on loopback, serves the 16 MiB file byte for byte, is reloaded
// (or restarted) while a slow download is in flight, serves again, stops,
// and leaves nothing running.
func TestServers(t *testing.T) {
	for _, s := range Servers() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel() // each on its own port and directory; most of the time is waiting
			if !s.Installed() {
				msg := fmt.Sprintf("%s: %s absent (packages: %s; make survey-setup SURVEY_SERVERS=%s)", s.Name, s.Binary, strings.Join(s.Packages, " "), s.Name)
				if required(s.Name) {
					t.Fatalf("%s, and %s requires it", msg, requireEnv)
				}
				t.Skip(msg)
			}
			exercise(t, s)
		})
	}
}

func exercise(t *testing.T, s Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const size = Size16MiB
	want := BodySHA256(size)
	cfg := Config{Dir: surveyDir(t), Files: []int64{size}, StopTimeout: 5 * time.Second}
	if s.Proxy {
		cfg.Upstream = bodyServer(t).URL
	}
	in, err := Start(ctx, s, cfg)
	require.NoError(t, err)
	pgid := in.Pid()
	assert.Empty(t, openListeners(pgid), "every socket the server listens on is on loopback or a Unix socket")
	defer func() {
		if in.Pid() != 0 {
			_ = in.Stop(context.Background())
		}
	}()
	v, verr := s.Version(ctx)
	t.Logf("%s %s (%v) at %s", s.Name, v, verr, in.URL())

	path := BodyPath(size)
	if s.Proxy {
		path = in.UpstreamPath(path)
	}
	c := testClient(t, in, time.Minute)

	status, n, sum, err := fetch(ctx, c, in.URLFor(path), "full-1", 0, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, size, n)
	assert.Equal(t, want, sum, "every byte of the file")

	// A slow download in flight while the server reloads (or restarts).
	type result struct {
		status int
		n      int64
		sum    [32]byte
		err    error
	}
	started := make(chan struct{})
	done := make(chan result, 1)
	slow := testClient(t, in, time.Minute)
	go func() {
		var r result
		r.status, r.n, r.sum, r.err = fetch(ctx, slow, in.URLFor(path), "slow-1", 15*time.Millisecond, func() { close(started) })
		done <- r
	}()
	select {
	case <-started:
	case r := <-done:
		t.Fatalf("slow download ended before it started: status %d, %d bytes, %v", r.status, r.n, r.err)
	}
	how := "reload"
	rerr := in.Reload(ctx)
	if errors.Is(rerr, ErrNoReload) {
		how = "restart"
		rerr = in.Restart(ctx)
	}
	require.NoError(t, rerr, how)
	r := <-done
	switch {
	case r.err == nil && r.n == size && r.sum == want:
		t.Logf("%s during a slow download: complete (%d bytes)", how, r.n)
	default:
		t.Logf("%s during a slow download: status %d, %d of %d bytes, sha-256 ok %v, error %v", how, r.status, r.n, size, r.sum == want, r.err)
	}
	if how == "reload" {
		assert.Equal(t, pgid, in.Pid(), "a reload keeps the main process")
	}

	if in.Early() {
		// An upload the server answers without reading: what the client
		// sees is recorded, not judged.
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URLFor(EarlyPath), io.LimitReader(Body(4<<20), 4<<20))
		require.NoError(t, err)
		req.ContentLength = 4 << 20
		req.Header.Set("X-Request-Id", "early-1")
		resp, err := c.Do(req)
		if err != nil {
			t.Logf("early answer to a 4 MiB upload: %v", err)
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			t.Logf("early answer to a 4 MiB upload: %s, %d body bytes", resp.Status, len(b))
		}
	}

	status, n, sum, err = fetch(ctx, c, in.URLFor(path), "full-2", 0, nil)
	require.NoError(t, err, "after the %s", how)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, want, sum, "every byte after the %s", how)

	pid := in.Pid()
	require.NoError(t, in.Stop(ctx))
	assert.Zero(t, in.Pid())
	assert.Empty(t, groupMembers(pid), "nothing of the server's process group is left")
	if in.Network() == "tcp" {
		conn, err := net.DialTimeout("tcp", in.Addr(), time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "nothing listens on %s after Stop", in.Addr())
	}

	ev, err := in.Evidence()
	require.NoError(t, err)
	full, ok := ev.Request("full-2")
	if s.parse != nil {
		if assert.True(t, ok, "the access log has the request with X-Request-Id full-2: %v", ev.Requests) {
			assert.Equal(t, http.StatusOK, full.Status)
			if full.BodyBytes >= 0 {
				assert.Equal(t, size, full.BodyBytes, "body bytes in the access log: %s", full.Line)
			}
			if full.WireBytes >= 0 {
				assert.Greater(t, full.WireBytes, size, "bytes sent, head included, in the access log: %s", full.Line)
			}
			assert.NotEqual(t, EndCut, full.End, full.Line)
		}
	}
	if sr, ok := ev.Request("slow-1"); ok {
		t.Logf("access log for the slow download: status %d, body %d, state %q (%s)", sr.Status, sr.BodyBytes, sr.End, sr.State)
	} else {
		t.Logf("the access log has no line for the slow download")
	}
	for _, l := range ev.Errors {
		t.Logf("error log: %s", l.Line)
	}
}

func TestBody(t *testing.T) {
	// The hyper target's formula, one block at a time.
	n := int64(1000003)
	var ref bytes.Buffer
	base := uint64(n) * 0x9E3779B97F4A7C15
	for k := uint64(0); int64(ref.Len()) < n; k++ {
		z := base + k
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		for i := 0; i < 8; i++ {
			ref.WriteByte(byte(z >> (8 * i)))
		}
	}
	// Odd read sizes cross block boundaries.
	var got bytes.Buffer
	r := Body(n)
	buf := make([]byte, 13)
	for {
		k, err := r.Read(buf)
		got.Write(buf[:k])
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	assert.Equal(t, ref.Bytes()[:n], got.Bytes())
	assert.Equal(t, sha256.Sum256(got.Bytes()), BodySHA256(n))
}

// TestModes starts every installed server in each mode it offers besides
// plain HTTP/1.1 over TCP (a Unix socket, h2c, h2) and checks a 1 MiB file
// byte for byte and the protocol spoken. -short skips it.
func TestModes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: modes other than HTTP/1.1 over TCP are not started")
	}
	const size = 1 << 20
	want := BodySHA256(size)
	for _, s := range Servers() {
		type mode struct {
			network  string
			protocol Protocol
		}
		var modes []mode
		if s.Unix {
			modes = append(modes, mode{"unix", HTTP1})
		}
		for _, p := range s.HTTP2 {
			modes = append(modes, mode{"tcp", p})
		}
		for _, m := range modes {
			t.Run(s.Name+"/"+m.network+"/"+m.protocol.String(), func(t *testing.T) {
				t.Parallel()
				if !s.Installed() {
					if required(s.Name) {
						t.Fatalf("%s: %s absent, and %s requires it", s.Name, s.Binary, requireEnv)
					}
					t.Skipf("%s: %s absent (packages: %s)", s.Name, s.Binary, strings.Join(s.Packages, " "))
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				cfg := Config{Dir: surveyDir(t), Network: m.network, Protocol: m.protocol, Files: []int64{size}, StopTimeout: 5 * time.Second}
				if s.Proxy {
					cfg.Upstream = bodyServer(t).URL
				}
				in, err := Start(ctx, s, cfg)
				require.NoError(t, err)
				defer func() { assert.NoError(t, in.Stop(context.Background())) }()
				assert.Empty(t, openListeners(in.Pid()), "every socket the server listens on is on loopback or a Unix socket")
				c := testClient(t, in, 30*time.Second)
				path := BodyPath(size)
				if s.Proxy {
					path = in.UpstreamPath(path)
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URLFor(path), nil)
				require.NoError(t, err)
				resp, err := c.Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, want, sha256.Sum256(body))
				wantMajor := 1
				if m.protocol != HTTP1 {
					wantMajor = 2
				}
				assert.Equal(t, wantMajor, resp.ProtoMajor, "protocol spoken: %s", resp.Proto)
			})
		}
	}
}
