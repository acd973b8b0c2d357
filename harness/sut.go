package harness

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/truncheck/truncheck/results"
)

// systemUnderTest is what a run needs from the servers it tests, whether
// the harness built them in-process ([inProcess]) or they run on their own
// ([external], a [Target]): a faulty path for the scenario's requests, a
// clean path for references, the server's own account of a request, who
// cut a failed response, restarts and teardown.
type systemUnderTest interface {
	// client is the path the scenario's requests take, with its faults;
	// dial is its dial, for [ExpectContinue]; requests go to baseURL.
	client() *http.Client
	dial() dialFunc
	baseURL() string
	// clean is a path without faults to the same content, for references.
	clean() cleanPath
	// account returns the server's account of a request id, waiting up to
	// wait for the handler to finish, with the server-side timeline of its
	// connection when one was recorded; nil when the server keeps none.
	account(ctx context.Context, id string, wait time.Duration) (*results.Account, results.Timeline)
	// cutBy says which of our injected faults cut the response that came
	// over conn (the client's conn) for request id, with acc (the server's
	// account, may be nil): the fault's spec, where it acted, and whether
	// that place is inside the server whose account is read (its own socket
	// or its own HTTP/2 server: the account still tells whether the handler
	// knew). "" when none of our faults fired on the conns of that request
	// that the harness can see.
	cutBy(conn net.Conn, id string, acc *results.Account) (fault, where string, inside bool)
	restart(ctx context.Context, grace time.Duration) error
	// layout renders the chain of tiers, e.g. "client-tcp>proxy-tcp>target";
	// scenario is the scenario's own layout.
	layout(scenario string) string
	// notes are what a reader must know about the topology (a proxy the
	// harness put in front of a target adds socket buffers).
	notes() []string
	close() error
}

// cleanPath is a path without faults to the content under test.
type cleanPath struct {
	client *http.Client // with keep-alives off: every fetch a fresh connection
	dial   dialFunc
	base   string
	// trusted: the answers are our own origin's (evidence "reference");
	// otherwise they come from the server under test, and several fetches
	// that agree are consistency only.
	trusted bool
}

// accountWait bounds how long the harness waits for a handler to finish
// its account after the client saw the response end.
const accountWait = 2 * time.Second
