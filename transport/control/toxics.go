package control

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/truncheck/truncheck/transport"
)

// toxicKind is one Toxiproxy toxic type that maps onto our faults.
type toxicKind struct {
	name  string
	attrs []string // accepted attributes, all defaulting to 0 as in Toxiproxy
	// items turns the attributes into native fault items (without selection modifiers),
	// or an error naming the attribute value that has no counterpart.
	items func(a map[string]int64) ([]string, error)
}

// toxicKinds is the closed catalog of toxic types, in Toxiproxy's documentation order.
var toxicKinds = []toxicKind{
	{name: "latency", attrs: []string{"latency", "jitter"}, items: func(a map[string]int64) ([]string, error) {
		// Each chunk arrives latency +- jitter ms after it was sent, as in Toxiproxy.
		switch {
		case a["latency"] == 0 && a["jitter"] == 0:
			return nil, nil
		case a["jitter"] == 0:
			return []string{fmt.Sprintf("latency=%dms", a["latency"])}, nil
		}
		return []string{fmt.Sprintf("latency=%dms~%dms", a["latency"], a["jitter"])}, nil
	}},
	{name: "bandwidth", attrs: []string{"rate"}, items: func(a map[string]int64) ([]string, error) {
		if a["rate"] == 0 { // Toxiproxy: no limit
			return nil, nil
		}
		return []string{fmt.Sprintf("bandwidth=%dkB", a["rate"])}, nil // KB/s there is 1000 bytes/s
	}},
	{name: "timeout", attrs: []string{"timeout"}, items: func(a map[string]int64) ([]string, error) {
		if a["timeout"] > 0 {
			return nil, fmt.Errorf("timeout %d: closing the connection after a time has no counterpart here "+
				"(accepted: timeout 0, data stops and the connection stays open: stall-after=0; "+
				"for a cut after a byte count use limit_data or the native close-after)", a["timeout"])
		}
		return []string{"stall-after=0"}, nil
	}},
	{name: "slicer", attrs: []string{"average_size", "size_variation", "delay"}, items: func(a map[string]int64) ([]string, error) {
		if a["average_size"] < 1 {
			return nil, fmt.Errorf("average_size %d: accepted: a size of at least 1 byte", a["average_size"])
		}
		if a["size_variation"] != 0 {
			return nil, fmt.Errorf("size_variation %d: slices of varying size have no counterpart here "+
				"(accepted: size_variation 0: every slice is average_size bytes, write-slice)", a["size_variation"])
		}
		items := []string{fmt.Sprintf("write-slice=%d", a["average_size"])}
		if a["delay"] > 0 {
			// A pause after each slice: the proxy reads a slice, waits, writes it.
			items = append(items, fmt.Sprintf("slow-read=%d/%dus", a["average_size"], a["delay"]))
		}
		return items, nil
	}},
	{name: "limit_data", attrs: []string{"bytes"}, items: func(a map[string]int64) ([]string, error) {
		return []string{fmt.Sprintf("close-after=%d", a["bytes"])}, nil
	}},
	{name: "reset_peer", attrs: []string{"timeout"}, items: func(a map[string]int64) ([]string, error) {
		if a["timeout"] > 0 {
			return nil, fmt.Errorf("timeout %d: a reset after a time has no counterpart here "+
				"(accepted: timeout 0, a reset at once: reset-after=0; for a reset after a byte count use the native reset-after)", a["timeout"])
		}
		return []string{"reset-after=0"}, nil
	}},
}

// refusedToxics are Toxiproxy's other toxic types, with why they have no counterpart.
var refusedToxics = map[string]string{
	"slow_close": "it delays the close by a time; here a close is never delayed (latency delays the data before it)",
	"noop":       "it is Toxiproxy's internal no-op",
}

func toxicTypeNames() string {
	names := make([]string, len(toxicKinds))
	for i, k := range toxicKinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

func findToxicKind(name string) (*toxicKind, error) {
	for i := range toxicKinds {
		if toxicKinds[i].name == name {
			return &toxicKinds[i], nil
		}
	}
	if why, ok := refusedToxics[name]; ok {
		return nil, badRequest("toxic type %q has no counterpart: %s; accepted: %s", name, why, toxicTypeNames())
	}
	return nil, badRequest("unknown toxic type %q; accepted: %s", name, toxicTypeNames())
}

// streams maps Toxiproxy's stream names onto our directions.
const (
	downstream = "downstream" // server -> client: to_client
	upstream   = "upstream"   // client -> server: to_upstream
)

func checkStream(s string) error {
	if s != downstream && s != upstream {
		return badRequest("stream %q; accepted: downstream (server to client, to_client) or upstream (client to server, to_upstream)", s)
	}
	return nil
}

// toxic is one toxic of a proxy: its Toxiproxy fields and the faults it compiles to.
type toxic struct {
	name, stream string
	kind         *toxicKind
	toxicity     float64
	attrs        map[string]int64
	faults       transport.Faults
}

// compile turns the toxic into native faults: its items, each selected with the toxic's
// toxicity (chosen per conn from the proxy's seed, as @p).
func (t *toxic) compile() error {
	items, err := t.kind.items(t.attrs)
	if err != nil {
		return badRequest("toxic %q (%s): %v", t.name, t.kind.name, err)
	}
	switch {
	case t.toxicity == 0:
		items = nil // kept in the list, acting on no conn
	case t.toxicity < 1 && len(items) > 1:
		// Two faults with @p are drawn apart, one may act without the other.
		return badRequest("toxic %q (%s): toxicity %g with a delay has no counterpart here: its slices and its pauses would be chosen apart "+
			"(accepted: toxicity 1 or 0, or delay 0)", t.name, t.kind.name, t.toxicity)
	case t.toxicity < 1:
		for i := range items {
			items[i] += "@p=" + strconv.FormatFloat(t.toxicity, 'g', -1, 64)
		}
	}
	f, err := transport.ParseFaults(strings.Join(items, ","))
	if err != nil {
		return badRequest("toxic %q (%s): %v", t.name, t.kind.name, err)
	}
	t.faults = f
	return nil
}

func (t *toxic) view() Toxic {
	return Toxic{Name: t.name, Type: t.kind.name, Stream: t.stream, Toxicity: t.toxicity, Attributes: maps.Clone(t.attrs), Fault: t.faults.String()}
}

// setAttributes checks raw attributes against the kind's and stores them over t's.
func (t *toxic) setAttributes(raw map[string]rawNumber) error {
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !slices.Contains(t.kind.attrs, k) {
			return badRequest("toxic %q (%s): unknown attribute %q; accepted: %s", t.name, t.kind.name, k, strings.Join(t.kind.attrs, ", "))
		}
		n, err := raw[k].int64()
		if err != nil {
			return badRequest("toxic %q (%s): attribute %q: %v", t.name, t.kind.name, k, err)
		}
		if n < 0 {
			return badRequest("toxic %q (%s): attribute %q is %d; accepted: 0 or more", t.name, t.kind.name, k, n)
		}
		t.attrs[k] = n
	}
	return nil
}
