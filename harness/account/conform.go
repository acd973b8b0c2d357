package account

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/truncheck/truncheck/results"
)

// Conform checks that a running server follows the account protocol: it
// fetches probe (a path and query of the server's, answered 2xx) with an
// X-Request-Id, then that request's account, and checks every field the
// protocol defines against what the client received; then that an unknown
// id is 404, a bad wait 400, and a bad X-Request-Id 400. base is
// "http://host:port" (the client decides how to reach it); accountPath has
// "{id}" where the id goes, as harness.Target.AccountPath. It returns every
// violation found, joined, or nil: a checker, like testing/iotest's, that
// any test (or any language's server behind a test) can call.
func Conform(ctx context.Context, c *http.Client, base, probe, accountPath string) error {
	if !strings.Contains(accountPath, "{id}") {
		return fmt.Errorf("account path %q has no {id}", accountPath)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "conform-" + hex.EncodeToString(b[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+probe, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", probe, err)
	}
	req.Header.Set("X-Request-Id", id)
	// Connection: close lets a server that settles its accounts when the
	// connection ends (as hyper's target does) settle this one.
	req.Close = true
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", probe, err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("probe %s: body: %w", probe, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s answered %d (accepted: a 2xx path of the server)", probe, resp.StatusCode)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if got := resp.Header.Get("X-Request-Id"); got != id {
		bad("the response echoes X-Request-Id %q, sent %q", got, id)
	}

	path := func(id, query string) string {
		p := strings.ReplaceAll(accountPath, "{id}", url.PathEscape(id))
		if query == "" {
			return p
		}
		if strings.Contains(p, "?") {
			// a configured wait gives way to the one under test
			p = p[:strings.IndexByte(p, '?')]
		}
		return p + "?" + query
	}
	var a results.Account
	status, body, err := get(ctx, c, base+path(id, "wait=5s"))
	switch {
	case err != nil:
		return errors.Join(append(errs, fmt.Errorf("account of %s: %w", id, err))...)
	case status != http.StatusOK:
		return errors.Join(append(errs, fmt.Errorf("account of %s: status %d (%s), want 200", id, status, body))...)
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return errors.Join(append(errs, fmt.Errorf("account of %s: not the protocol's JSON: %w: %s", id, err, body))...)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(body, &raw)
	for _, field := range []string{"request_id", "status", "content_length", "bytes_written", "complete", "finished"} {
		if _, ok := raw[field]; !ok {
			bad("account of %s: no %q field", id, field)
		}
	}
	if a.RequestID != id {
		bad("account request_id %q, want %q", a.RequestID, id)
	}
	if a.Status != resp.StatusCode {
		bad("account status %d, the client got %d", a.Status, resp.StatusCode)
	}
	if !a.Finished {
		bad("account not finished 5s after the response ended")
	}
	if !a.Complete {
		bad("account not complete for a response the client got whole (%d bytes): write_error %q", n, a.WriteError)
	}
	if a.BytesWritten != n {
		bad("account bytes_written %d, the client got %d", a.BytesWritten, n)
	}
	if a.ContentLength != -1 && a.ContentLength != resp.ContentLength {
		bad("account content_length %d, the head said %d (accepted: the promise, or -1 for none)", a.ContentLength, resp.ContentLength)
	}
	if a.WriteError != "" {
		bad("account write_error %q for a whole response", a.WriteError)
	}

	if status, body, err := get(ctx, c, base+path("conform-unknown-"+hex.EncodeToString(b[:]), "")); err != nil || status != http.StatusNotFound {
		bad("an unknown id answered %d (%s, %v), want 404", status, body, err)
	}
	if status, body, err := get(ctx, c, base+path(id, "wait=forever")); err != nil || status != http.StatusBadRequest {
		bad("wait=forever answered %d (%s, %v), want 400", status, body, err)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, base+probe, nil)
	req.Header.Set("X-Request-Id", "not a valid id!")
	if resp, err := c.Do(req); err != nil {
		bad("a bad X-Request-Id: %v", err)
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			bad("a bad X-Request-Id answered %d, want 400", resp.StatusCode)
		}
	}
	return errors.Join(errs...)
}

func get(ctx context.Context, c *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
