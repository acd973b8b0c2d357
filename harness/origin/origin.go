package origin

import (
	"context"
	"net"
	"net/http"

	"github.com/truncheck/truncheck/harness/account"
	"github.com/truncheck/truncheck/results"
)

// Origin is a service the harness runs at the end of an in-process
// topology. The harness serves Handler on its own sockets (with the
// scenario's faults and timeouts), and on a clean socket for references.
// The zero value of every optional field is documented; the harness does
// not Close an Origin it was given (its owner does), only the outer tiers
// it built.
type Origin struct {
	// Name says which origin ran, in reports ("bodies", "imagesvc").
	Name string
	// Handler serves the origin's requests.
	Handler http.Handler
	// Accounts, when set, gives the origin's own account of a request by its
	// X-Request-Id; nil means silence cannot be proven (shown as unknown).
	Accounts Accounts
	// ConnContext, when set, is the origin server's http.Server.ConnContext
	// (it must put the accepted conn where the origin's accounts find it);
	// nil => account.ConnContext.
	ConnContext func(context.Context, net.Conn) context.Context
	// Trusted says the origin's answers over a clean path are the right
	// bytes (a deterministic service we wrote): they are the reference
	// ("reference" evidence). Otherwise the harness makes the reference
	// from several clean fetches that must agree (consistency only).
	Trusted bool
	// Outer, for nested topologies, builds the outer tier: a service that
	// fetches its source from base through upstream and serves it (strictly:
	// a cut upstream body is an error answer, never a shorter body). nil =>
	// the origin cannot be nested.
	Outer func(upstream *http.Client, base string) (Origin, error)
	// Close releases what the origin holds; nil => nothing to release.
	Close func() error
}

// Accounts is the origin's account book; *account.Store is one.
type Accounts interface {
	// Wait returns the account of request id once its handler finished, or
	// as it stands when ctx ends; false for an id it does not know.
	Wait(ctx context.Context, id string) (results.Account, bool)
}

// Handler is the origin of any handler: h behind the account middleware
// (its accounts published at /accounts/ too), consistency references.
// This is how a Go team puts its own service under the harness.
func Handler(name string, h http.Handler) Origin {
	st := account.NewStore(0)
	mux := http.NewServeMux()
	mux.Handle("GET /accounts/", st.Handler())
	mux.Handle("/", st.Wrap(h))
	return Origin{Name: name, Handler: mux, Accounts: st, ConnContext: account.ConnContext}
}
