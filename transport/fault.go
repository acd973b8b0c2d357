package transport

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/truncheck/truncheck/transport/internal/spec"
)

// This file is the contract every fault implements (toxiproxy's toxics/toxic.go, with
// errors and deadlines); each fault lives in its own file and registers one [kindInfo].

// dir is a direction of a wrapped conn: bytes its Read returns or bytes its Write sends.
type dir uint8

const (
	dirRead dir = 1 << iota
	dirWrite
	dirBoth = dirRead | dirWrite
)

func (d dir) String() string {
	switch d {
	case dirRead:
		return "read"
	case dirWrite:
		return "write"
	case dirBoth:
		return "both"
	}
	return "none"
}

func parseDir(s string) dir {
	switch s {
	case "read":
		return dirRead
	case "write":
		return dirWrite
	case "both":
		return dirBoth
	}
	return 0
}

// stage is one fault's per-connection, per-direction state. The conn calls it around
// every chunk it moves in that direction, in chain order (see doc.go).
type stage interface {
	// before runs before the conn moves up to n bytes. It returns how many bytes may move
	// now (1..n), after waiting if the fault says so, or an error that ends the call: the
	// fault fired, the deadline passed, the conn was closed.
	before(c *conn, n int) (int, error)
	// after runs once the call moved n bytes (n may be 0 when it failed). It may wait
	// (cut short by Close or the deadline); the bytes are delivered either way.
	after(c *conn, n int)
}

// faultSpec is one parsed fault with its parameters in their units.
type faultSpec struct {
	kind   *kindInfo
	size   int64         // bytes: slice, buffer, budget, bytes per second, slow-read chunk
	dur    time.Duration // latency, slow-read pause
	jitter time.Duration
	dir    dir     // effective direction (the kind's default when the spec named none)
	setDir bool    // the spec named @dir (kept for String)
	p      float64 // 0 => every selected conn
	every  int64   // 0 => every conn
}

// kindInfo describes one fault kind: its name, syntax and how it acts on a conn.
type kindInfo struct {
	name   string
	usage  string // the value syntax for error messages
	rank   int    // position in the chain (doc.go); lower acts first on the way to the socket
	dirs   dir    // directions @dir may name; 0 => @dir refused
	defDir dir
	parse  func(value string, f *faultSpec) error // fills f from the value ("" if none)
	format func(f faultSpec) string               // the value part of the canonical spec
	// stages builds the per-conn state of the fault for reads and for writes (nil where it
	// does not act); seed is the fault's sub-seed on this conn.
	stages func(f faultSpec, seed uint64) (read, write stage)
	// setup acts once on a new conn (socket options, the write buffer); may be nil.
	setup func(f faultSpec, c *conn)
}

// catalog lists every fault kind in documentation order. It is never modified.
var catalog = []*kindInfo{
	&latencyKind, &bandwidthKind, &writeSliceKind, &readSliceKind, &sndbufKind, &rcvbufKind,
	&slowReadKind, &stallAfterKind, &closeAfterKind, &halfCloseAfterKind, &resetAfterKind,
	&bufferedShutdownKind, &bufferedShutdownFixedKind,
}

// AcceptedFaults returns the fault names ParseFaults accepts, for error messages and docs.
func AcceptedFaults() []string {
	names := make([]string, len(catalog))
	for i, k := range catalog {
		names[i] = k.name
	}
	return names
}

// Faults is a parsed, validated chain of faults. It is a value: the zero value injects
// nothing, and one Faults may be shared by any number of listeners, dialers and proxies.
type Faults struct {
	list []faultSpec // in chain order
}

// IsZero reports whether f injects nothing.
func (f Faults) IsZero() bool { return len(f.list) == 0 }

// ParseFaults parses a comma-separated fault spec such as
// "latency=5ms~2ms,write-slice=1KiB,sndbuf=8KiB,close-after=300KiB@p=0.3". Errors name the
// bad token and list what is accepted. An empty spec is the zero Faults.
func ParseFaults(s string) (Faults, error) {
	items, err := spec.Split(s)
	if err != nil {
		return Faults{}, err
	}
	var f Faults
	seen := map[*kindInfo]string{}
	for _, it := range items {
		fs, err := parseItem(it)
		if err != nil {
			return Faults{}, fmt.Errorf("fault %q: %w", it.Raw, err)
		}
		if prev, dup := seen[fs.kind]; dup {
			return Faults{}, fmt.Errorf("fault %q: %q already given as %q (each fault at most once)", it.Raw, fs.kind.name, prev)
		}
		seen[fs.kind] = it.Raw
		f.list = append(f.list, fs)
	}
	_, a := seen[&bufferedShutdownKind]
	_, b := seen[&bufferedShutdownFixedKind]
	if a && b {
		return Faults{}, fmt.Errorf("faults %q and %q exclude each other (the defect and its fix)", bufferedShutdownKind.name, bufferedShutdownFixedKind.name)
	}
	f.sortChain()
	return f, nil
}

// sortChain puts the faults in chain order (doc.go): the order they act in,
// whatever order the spec named them in.
func (f *Faults) sortChain() {
	slices.SortStableFunc(f.list, func(x, y faultSpec) int { return x.kind.rank - y.kind.rank })
}

func parseItem(it spec.Item) (faultSpec, error) {
	var k *kindInfo
	for _, c := range catalog {
		if c.name == it.Name {
			k = c
		}
	}
	if k == nil {
		return faultSpec{}, fmt.Errorf("unknown fault %q; accepted: %s", it.Name, strings.Join(AcceptedFaults(), ", "))
	}
	fs := faultSpec{kind: k, dir: k.defDir, p: it.P, every: it.Every}
	if it.Dir != "" {
		d := parseDir(it.Dir)
		if k.dirs == 0 {
			return fs, fmt.Errorf("%s takes no @dir (it acts on %s only)", k.name, k.defDir)
		}
		if d&k.dirs != d {
			return fs, fmt.Errorf("%s: @dir=%s not accepted; accepted: %s", k.name, it.Dir, dirChoices(k.dirs))
		}
		fs.dir, fs.setDir = d, true
	}
	if err := k.parse(it.Value, &fs); err != nil {
		return fs, fmt.Errorf("%s: %w (usage: %s)", k.name, err, k.usage)
	}
	return fs, nil
}

func dirChoices(d dir) string {
	var s []string
	for _, x := range []dir{dirRead, dirWrite, dirBoth} {
		if x&d == x {
			s = append(s, x.String())
		}
	}
	return strings.Join(s, ", ")
}

// String returns the canonical spec: faults in chain order, sizes in the largest exact
// unit. ParseFaults(f.String()) gives f back.
func (f Faults) String() string {
	var b strings.Builder
	for i, fs := range f.list {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(fs.String())
	}
	return b.String()
}

func (fs faultSpec) String() string {
	s := fs.action()
	if fs.p > 0 {
		s += "@p=" + spec.FormatProb(fs.p)
	}
	if fs.every > 0 {
		s += fmt.Sprintf("@every=%d", fs.every)
	}
	return s
}

// action is the spec of what the fault does, without the selection
// modifiers (@p, @every) that chose the conn: "close-after=300KiB".
func (fs faultSpec) action() string {
	s := fs.kind.name
	if v := fs.kind.format(fs); v != "" {
		s += "=" + v
	}
	if fs.setDir {
		s += "@dir=" + fs.dir.String()
	}
	return s
}

// noValue is the parse func of faults that take no value.
func noValue(v string, _ *faultSpec) error {
	if v != "" {
		return fmt.Errorf("takes no value, got %q", v)
	}
	return nil
}

// sizeValue parses a byte size into f.size; min is the smallest accepted value.
func sizeValue(min int64) func(string, *faultSpec) error {
	return func(v string, f *faultSpec) error {
		if v == "" {
			return fmt.Errorf("missing size")
		}
		n, err := spec.ParseSize(v)
		if err != nil {
			return err
		}
		if n < min {
			return fmt.Errorf("size %q below the minimum of %d bytes", v, min)
		}
		f.size = n
		return nil
	}
}

func formatSize(f faultSpec) string { return spec.FormatSize(f.size) }
func formatNone(faultSpec) string   { return "" }

// splitmix64 mixes seeds; every random choice derives from Options.Seed through it.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// subSeed derives the seed of one fault (index idx in the chain) on conn number seq.
func subSeed(seed int64, seq uint64, idx int) uint64 {
	return splitmix64(splitmix64(splitmix64(uint64(seed))^seq) ^ uint64(idx+1))
}

// selected decides whether fault idx applies to conn number seq: every-Nth first
// (conns are numbered from 1), then the probability, drawn from the seed alone so
// the decision does not depend on what other faults or conns did.
func (fs faultSpec) selected(seed int64, seq uint64, idx int) bool {
	if fs.every > 0 && seq%uint64(fs.every) != 0 {
		return false
	}
	if fs.p > 0 {
		u := float64(subSeed(seed, seq, idx)>>11) / (1 << 53)
		return u < fs.p
	}
	return true
}

// ParseSize reads a byte size in the grammar every part of truncheck uses
// (fault specs, scenario files, body sizes): a whole number of bytes with
// an optional unit, B, KiB, MiB, GiB (1024-based) or kB, MB, GB
// (1000-based); "KB", "K" and "k" are refused as ambiguous.
func ParseSize(s string) (int64, error) { return spec.ParseSize(s) }

// FormatSize prints a size so that ParseSize gives it back: the largest
// exact unit, e.g. 3145728 -> "3MiB".
func FormatSize(n int64) string { return spec.FormatSize(n) }
