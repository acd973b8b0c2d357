package harness

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/truncheck/truncheck/results"
)

// Accounts: the server's own account of a request, read right after its
// response. In-process origins answer through origin.Accounts; a Target
// publishes its accounts by the account protocol (package harness/account)
// at AccountPath, read here over a clean connection.

func (r *external) account(ctx context.Context, id string, wait time.Duration) (*results.Account, results.Timeline) {
	if r.t.AccountPath == "" || id == "" {
		return nil, nil
	}
	path := strings.ReplaceAll(r.t.AccountPath, "{id}", url.PathEscape(id))
	deadline := time.Now().Add(wait)
	for {
		acc, finished := r.fetchAccount(ctx, path)
		if (acc != nil && finished) || time.Now().After(deadline) || ctx.Err() != nil {
			return acc, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetchAccount reads one account in the account protocol's JSON (package
// harness/account); finished is false while the server says the response
// is still being written.
func (r *external) fetchAccount(ctx context.Context, path string) (*results.Account, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		return nil, false
	}
	resp, err := r.acctCl.Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false
	}
	var acc results.Account
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&acc); err != nil || acc.RequestID == "" {
		return nil, false
	}
	return &acc, acc.Finished
}
