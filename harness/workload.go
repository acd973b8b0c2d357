package harness

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"

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
	getBody, size, err := uploadBody(r)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if getBody != nil {
		if body, err = getBody(); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+r.Path, body)
	if err != nil {
		if c, ok := body.(io.Closer); ok {
			c.Close()
		}
		return nil, fmt.Errorf("request %s %s: %w", r.Method, r.Path, err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	if getBody != nil {
		req.ContentLength = size
		req.GetBody = getBody
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

// uploadBody is how to make a request's upload again and again (a
// redirect or a retry asks for it twice): the deterministic pattern, or
// the file reopened each time. nil when the request uploads nothing.
func uploadBody(r scenarios.Request) (func() (io.ReadCloser, error), int64, error) {
	switch {
	case r.Upload > 0:
		n := r.Upload
		return func() (io.ReadCloser, error) { return io.NopCloser(&patternReader{left: n}), nil }, n, nil
	case r.UploadFile != "":
		st, err := os.Stat(r.UploadFile)
		if err != nil {
			return nil, 0, fmt.Errorf("upload: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, 0, fmt.Errorf("upload %s: not a regular file", r.UploadFile)
		}
		path := r.UploadFile
		return func() (io.ReadCloser, error) { return os.Open(path) }, st.Size(), nil
	}
	return nil, 0, nil
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
