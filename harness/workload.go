package harness

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"

	"github.com/truncheck/truncheck/scenarios"
)

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

// newRequest builds one request of the workload against base; id, when
// set, goes out as X-Request-Id (the key of the server's account).
func newRequest(ctx context.Context, base string, r scenarios.Request, id string) (*http.Request, error) {
	var body io.Reader
	if r.Upload > 0 {
		body = &patternReader{left: r.Upload}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		return nil, fmt.Errorf("request %s %s: %w", r.Method, r.Path, err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	if r.Upload > 0 {
		req.ContentLength = r.Upload
		n := r.Upload
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(&patternReader{left: n}), nil }
		if req.Header.Get("Content-Type") == "" {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		if r.Expect100 {
			req.Header.Set("Expect", "100-continue")
		}
	}
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	return req, nil
}

// requestKey names a request kind in records and references.
func requestKey(r scenarios.Request) string { return r.Method + " " + r.Path }

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
