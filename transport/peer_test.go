package transport

// The processes of transport/bench.sh's side-by-side run, each started from this test
// binary: an upstream (a byte sink and a 10 KB HTTP server), our proxy, and the load
// clients. Every process runs on loopback only and for a bounded time. Nothing here runs
// unless its environment variable is set, so `go test ./transport` skips it; nothing
// asserts a timing: the script prints the numbers and their ratios.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// peerEnv reads a gating variable; the test skips when it is unset.
func peerEnv(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("set %s to run this part of transport/bench.sh", name)
	}
	return v
}

// peerFor is how long a serving process lives at most (TRUNCHECK_PEER_FOR, default 30m).
func peerFor(t *testing.T) time.Duration {
	d := 30 * time.Minute
	if v := os.Getenv("TRUNCHECK_PEER_FOR"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(t, err, "TRUNCHECK_PEER_FOR: a Go duration")
	}
	return d
}

// writeAddrs publishes a serving process's addresses, one "name=addr" a line, to the file
// the script waits for (written whole, then renamed into place).
func writeAddrs(t *testing.T, path string, kv ...string) {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s=%s\n", kv[i], kv[i+1])
	}
	require.NoError(t, os.WriteFile(path+".tmp", []byte(b.String()), 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

// peerBodySize is the body of the HTTP upstream: a small API response.
const peerBodySize = 10_000

// TestPeerUpstream serves, until TRUNCHECK_PEER_FOR ends or the script stops it: a byte
// sink (each conn sends an 8-byte big-endian length, then that many bytes; the sink
// answers with the 8-byte count it read, so the sender knows everything arrived even
// through a proxy that does not carry a half-close) and an HTTP server answering every
// request with 10,000 bytes. Addresses go to the file named by TRUNCHECK_PEER_UPSTREAM.
func TestPeerUpstream(t *testing.T) {
	out := peerEnv(t, "TRUNCHECK_PEER_UPSTREAM")
	sink, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	web, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conns sync.WaitGroup
		defer conns.Wait()
		for {
			c, err := sink.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				serveSink(c)
			}()
		}
	}()
	payload := body(peerBodySize)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		_, _ = w.Write(payload)
	})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.Serve(web)
	}()
	writeAddrs(t, out, "sink", sink.Addr().String(), "http", "http://"+web.Addr().String()+"/")
	time.Sleep(peerFor(t))
	sink.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	wg.Wait()
}

// serveSink reads streams from one conn: length, bytes, answer the count; until EOF.
func serveSink(c net.Conn) {
	buf := make([]byte, 64<<10)
	var head [8]byte
	for {
		if _, err := io.ReadFull(c, head[:]); err != nil {
			return
		}
		want := int64(binary.BigEndian.Uint64(head[:]))
		var got int64
		for got < want {
			n, err := c.Read(buf[:min(int64(len(buf)), want-got)])
			got += int64(n)
			if err != nil {
				return
			}
		}
		binary.BigEndian.PutUint64(head[:], uint64(got))
		if _, err := c.Write(head[:]); err != nil {
			return
		}
	}
}

// TestPeerProxy runs our proxy in its own process, like Toxiproxy's server runs in its
// own: from 127.0.0.1:0 to TRUNCHECK_PEER_PROXY_TO with TRUNCHECK_PEER_FAULTS toward the
// client, its address written to the file named by TRUNCHECK_PEER_PROXY.
func TestPeerProxy(t *testing.T) {
	out := peerEnv(t, "TRUNCHECK_PEER_PROXY")
	faults, err := ParseFaults(os.Getenv("TRUNCHECK_PEER_FAULTS"))
	require.NoError(t, err)
	p, err := NewProxy(ProxyConfig{ListenNetwork: "tcp", ListenAddr: "127.0.0.1:0",
		UpstreamNetwork: "tcp", UpstreamAddr: os.Getenv("TRUNCHECK_PEER_PROXY_TO"), ToClient: faults, Seed: 1})
	require.NoError(t, err)
	require.NoError(t, p.Start())
	writeAddrs(t, out, "proxy", p.Addr().String())
	time.Sleep(peerFor(t))
	require.NoError(t, p.Close())
}

// BenchmarkPeerStream sends one stream of b.N 64 KiB chunks to the byte sink at
// TRUNCHECK_PEER_ADDR (directly or through a proxy) and waits for the sink's count: MB/s
// from the first byte to the last one received.
func BenchmarkPeerStream(b *testing.B) {
	addr := os.Getenv("TRUNCHECK_PEER_ADDR")
	if addr == "" {
		b.Skip("set TRUNCHECK_PEER_ADDR to a byte sink (transport/bench.sh)")
	}
	c, err := net.Dial("tcp", addr)
	require.NoError(b, err)
	defer c.Close()
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(b.N*len(chunk)))
	b.ResetTimer()
	_, err = c.Write(head[:])
	require.NoError(b, err)
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	_, err = io.ReadFull(c, head[:])
	require.NoError(b, err)
	b.StopTimer()
	require.Equal(b, uint64(b.N*len(chunk)), binary.BigEndian.Uint64(head[:]), "the sink got every byte")
}

// TestPeerHTTPLoad requests TRUNCHECK_PEER_LOAD (the 10 KB upstream, directly or through
// a proxy) with 8 keep-alive clients for TRUNCHECK_PEER_LOAD_FOR (default 3s, at most
// 200,000 requests) and prints requests per second and latency percentiles:
//
//	PEER http requests=N seconds=S rps=R p50_ms=A p99_ms=B errors=E
func TestPeerHTTPLoad(t *testing.T) {
	url := peerEnv(t, "TRUNCHECK_PEER_LOAD")
	dur := 3 * time.Second
	if v := os.Getenv("TRUNCHECK_PEER_LOAD_FOR"); v != "" {
		var err error
		dur, err = time.ParseDuration(v)
		require.NoError(t, err)
	}
	const concurrency, maxRequests = 8, 200_000
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		issued    int
	)
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for {
				mu.Lock()
				if issued >= maxRequests || !time.Now().Before(deadline) {
					mu.Unlock()
					return
				}
				issued++
				mu.Unlock()
				t0 := time.Now()
				n, err := getAll(client, url, buf)
				el := time.Since(t0)
				mu.Lock()
				if err != nil || n != peerBodySize {
					errs++
				} else {
					latencies = append(latencies, el)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Seconds() * 1000
	}
	fmt.Printf("PEER http requests=%d seconds=%.2f rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
		len(latencies), secs, float64(len(latencies))/secs, pct(0.50), pct(0.99), errs)
}

// getAll fetches url and reads the whole body with buf; it returns the body's length.
func getAll(c *http.Client, url string, buf []byte) (int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0
	for {
		m, err := resp.Body.Read(buf)
		n += m
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
