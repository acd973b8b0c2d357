package transport

import (
	"fmt"
	"strings"
)

// A [Proxy] takes faults per direction of data ([ProxyConfig].ToUpstream, ToClient); a
// [Listener] takes one chain whose faults act on its conns' reads or writes. This file
// turns one form into the other for a server's own listener, so that a control API can
// speak of directions for both: on a listener's conn the to-client data is what the
// server writes and the to-upstream data is what it reads (the server is its clients'
// upstream), and each direction has one place where a fault can act.

// ListenerFaults returns the chain a server's [Listener] applies for per-direction
// faults: toClient's faults act on the conns' writes, toUpstream's on their reads. A
// fault that cannot act there is refused with the reason and what is accepted: in a
// proxy, a to-client read fault (slow-read, read-slice, rcvbuf, @dir=read) acts on the
// proxy's reads from its upstream, which a server's listener does not have.
func ListenerFaults(toUpstream, toClient Faults) (Faults, error) {
	var out Faults
	for _, side := range []struct {
		name string
		f    Faults
		d    dir
	}{{"to_client", toClient, dirWrite}, {"to_upstream", toUpstream, dirRead}} {
		for _, fs := range side.f.list {
			placed, err := placeOnListener(fs, side.d)
			if err != nil {
				return Faults{}, fmt.Errorf("%s: fault %q: %w", side.name, fs.String(), err)
			}
			out.list = append(out.list, placed)
		}
	}
	out.sortChain()
	return out, nil
}

// placeOnListener puts one fault of a direction on the conn's side d (write: to the
// client, read: from the client).
func placeOnListener(fs faultSpec, d dir) (faultSpec, error) {
	accepted := "on a listener, to_client takes faults that act on writes, to_upstream faults that act on reads"
	switch {
	case fs.setDir && fs.dir != dirBoth && fs.dir != d:
		return fs, fmt.Errorf("@dir=%s cannot act on this direction (%s)", fs.dir, accepted)
	case fs.setDir && fs.dir == dirBoth:
		return fs, fmt.Errorf("@dir=both spans both directions; give the fault in each direction instead (%s)", accepted)
	case fs.kind.dirs&d == 0 && fs.kind.defDir != d:
		return fs, fmt.Errorf("%s acts on %s only (%s)", fs.kind.name, fs.kind.defDir, accepted)
	}
	fs.dir = d
	fs.setDir = fs.kind.defDir != d
	return fs, nil
}

// Directions splits a listener's chain into its two directions of data, the inverse of
// [ListenerFaults] (the direction says where a fault acts, so no @dir is kept): a fault
// acting both ways (latency, bandwidth) appears in each, chosen
// for a conn apart in each. A byte budget named @dir=both counts one budget over both
// directions and has no per-direction form: it is refused.
func (f Faults) Directions() (toUpstream, toClient Faults, err error) {
	for _, fs := range f.list {
		if fs.dir == dirBoth && fs.kind.defDir != dirBoth {
			return Faults{}, Faults{}, fmt.Errorf("fault %q: @dir=both shares one budget across the directions; give it per direction instead", fs.String())
		}
		if fs.dir&dirWrite != 0 {
			w := fs
			w.dir, w.setDir = fs.kind.defDir, false
			toClient.list = append(toClient.list, w)
		}
		if fs.dir&dirRead != 0 {
			r := fs
			r.dir, r.setDir = fs.kind.defDir, false
			toUpstream.list = append(toUpstream.list, r)
		}
	}
	return toUpstream, toClient, nil
}

// Kinds returns the names of the faults in f, in chain order: what a control layer
// compares to find a fault given twice in one direction.
func (f Faults) Kinds() []string {
	names := make([]string, len(f.list))
	for i, fs := range f.list {
		names[i] = fs.kind.name
	}
	return names
}

// Join returns the chain of a and b together, validated like one parsed spec (each fault
// at most once, the defect and its fix never together); the error names the fault given
// twice.
func Join(a, b Faults) (Faults, error) {
	parts := make([]string, 0, 2)
	for _, f := range []Faults{a, b} {
		if !f.IsZero() {
			parts = append(parts, f.String())
		}
	}
	return ParseFaults(strings.Join(parts, ","))
}
