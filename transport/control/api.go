package control

import "fmt"

// The JSON shapes of the API, shared by the server and the [Client]. Toxiproxy's fields
// come first with its names; ours follow, and a Toxiproxy client ignores them.

// Proxy is one proxy (or serve's listener) as the API shows it.
type Proxy struct {
	Name     string  `json:"name"`
	Listen   string  `json:"listen"`   // "127.0.0.1:26379" (port 0 resolved) or "unix:/PATH"
	Upstream string  `json:"upstream"` // as given; "" for serve's listener (its server is the upstream)
	Enabled  bool    `json:"enabled"`
	Toxics   []Toxic `json:"toxics"` // in the order they were added

	// Faults are the ones set in the native shape (or by the command's flags).
	Faults Faults `json:"faults"`
	// ActiveFaults is what a conn accepted now gets: Faults and every toxic's faults
	// together, per direction, in chain order.
	ActiveFaults Faults `json:"active_faults"`
	Seed         int64  `json:"seed"`
	Stats        Stats  `json:"stats"`
}

// Faults is the native shape: a fault spec per direction of data, in the canonical text
// of transport.ParseFaults. "" is none. In a request an absent field keeps its value.
type Faults struct {
	ToClient   string `json:"to_client"`   // the data toward the client (responses)
	ToUpstream string `json:"to_upstream"` // the data toward the upstream (requests)
}

// Toxic is a Toxiproxy toxic and the native faults it stands for.
type Toxic struct {
	Name       string           `json:"name"`     // default "<type>_<stream>"
	Type       string           `json:"type"`     // latency, bandwidth, timeout, slicer, limit_data, reset_peer
	Stream     string           `json:"stream"`   // downstream (to the client; the default) or upstream
	Toxicity   float64          `json:"toxicity"` // the fraction of conns it applies to, 0..1 (default 1)
	Attributes map[string]int64 `json:"attributes"`
	// Fault is ours: the native faults the toxic adds to its direction ("" when it adds
	// none: toxicity 0, a latency of 0, a rate of 0).
	Fault string `json:"fault"`
}

// Stats is what a proxy carried, counted since it was created (across disable and enable).
type Stats struct {
	Connections       uint64            `json:"connections"`        // accepted
	ActiveConnections int64             `json:"active_connections"` // open now
	StaleConnections  int64             `json:"stale_connections"`  // open, accepted before the last change of faults
	BytesToClient     int64             `json:"bytes_to_client"`
	BytesToUpstream   int64             `json:"bytes_to_upstream"`
	FaultsFired       map[string]uint64 `json:"faults_fired,omitempty"` // by fault name
}

// Version is the body of GET /version.
type Version struct {
	Version string `json:"version"`
}

// APIError is the body of every 4xx and 5xx answer, Toxiproxy's shape: the message
// names what was wrong and what is accepted.
type APIError struct {
	Message string `json:"error"`
	Status  int    `json:"status"`
}

func (e *APIError) Error() string { return fmt.Sprintf("control API: %d: %s", e.Status, e.Message) }

// populateResult is the body of POST /populate (with the error's fields when it failed
// part-way).
type populateResult struct {
	*APIError `json:",omitempty"`
	Proxies   []Proxy `json:"proxies"`
}
