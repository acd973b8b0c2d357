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
// at AccountPath, read here over a clean connection, or the caller reads
// them from the server's logs (Target.Accounts).

// accountPoll is how often an account not there yet (or not finished) is
// asked for again.
const accountPoll = 20 * time.Millisecond

func (r *external) account(ctx context.Context, id string, wait time.Duration) (*results.Account, results.Timeline) {
	if id == "" {
		return nil, nil
	}
	var fetch func() (*results.Account, bool, error)
	switch {
	case r.t.Accounts != nil:
		fetch = func() (*results.Account, bool, error) {
			acc, err := r.t.Accounts(ctx, id)
			return acc, acc != nil && acc.Finished, err
		}
	case r.t.AccountPath != "":
		path := strings.ReplaceAll(r.t.AccountPath, "{id}", url.PathEscape(id))
		fetch = func() (*results.Account, bool, error) {
			acc, finished := r.fetchAccount(ctx, path)
			return acc, finished, nil
		}
	default:
		return nil, nil
	}
	if r.t.AccountWait > 0 && wait > 0 {
		wait = r.t.AccountWait
	}
	deadline := time.Now().Add(wait)
	for {
		acc, finished, err := fetch()
		if err != nil {
			r.logf("%s: account of %s: %v", r.s.Name, id, err)
			return nil, nil
		}
		if (acc != nil && finished) || time.Now().After(deadline) || ctx.Err() != nil {
			return acc, nil
		}
		select {
		case <-ctx.Done():
			return acc, nil
		case <-time.After(accountPoll):
		}
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
