package transport

import (
	"fmt"
	"strings"
	"time"
)

// Fault is one fault as a Go value, the twin of one item of a fault spec
// (iotest's OneByteReader(r) next to a parser for files): build them with
// the constructors below, adjust with the modifiers, and combine with
// [NewFaults], which validates them exactly as [ParseFaults] validates
// text (it goes through the same parser).
type Fault struct{ text string }

// String is the fault's spec item, e.g. "close-after=300KiB@p=0.5".
func (f Fault) String() string { return f.text }

func sized(name string, n int64) Fault { return Fault{name + "=" + FormatSize(n)} }

// Latency delays every chunk by d, plus or minus a uniform jitter.
func Latency(d, jitter time.Duration) Fault {
	if jitter == 0 {
		return Fault{"latency=" + d.String()}
	}
	return Fault{"latency=" + d.String() + "~" + jitter.String()}
}

// Bandwidth limits each direction to bytesPerSecond.
func Bandwidth(bytesPerSecond int64) Fault { return sized("bandwidth", bytesPerSecond) }

// WriteSlice moves at most n bytes per write syscall.
func WriteSlice(n int64) Fault { return sized("write-slice", n) }

// ReadSlice moves at most n bytes per read syscall.
func ReadSlice(n int64) Fault { return sized("read-slice", n) }

// SndBuf sets the socket's SO_SNDBUF to n (Linux doubles it).
func SndBuf(n int64) Fault { return sized("sndbuf", n) }

// RcvBuf sets the socket's SO_RCVBUF to n.
func RcvBuf(n int64) Fault { return sized("rcvbuf", n) }

// SlowRead reads at most n bytes, then pauses: real kernel backpressure.
func SlowRead(n int64, pause time.Duration) Fault {
	return Fault{"slow-read=" + FormatSize(n) + "/" + pause.String()}
}

// StallAfter moves n bytes, then blocks until the deadline or Close.
func StallAfter(n int64) Fault { return sized("stall-after", n) }

// CloseAfter moves n bytes, then closes: the peer sees a clean FIN.
func CloseAfter(n int64) Fault { return sized("close-after", n) }

// HalfCloseAfter writes n bytes, then half-closes (CloseWrite).
func HalfCloseAfter(n int64) Fault { return sized("half-close-after", n) }

// ResetAfter moves n bytes, then resets the connection (RST on TCP).
func ResetAfter(n int64) Fault { return sized("reset-after", n) }

// BufferedShutdown is the defect of an HTTP library that buffers the body
// in user space and shuts the connection down without draining it.
func BufferedShutdown() Fault { return Fault{"buffered-shutdown"} }

// BufferedShutdownFixed is its fix: the same buffer, drained first.
func BufferedShutdownFixed() Fault { return Fault{"buffered-shutdown-fixed"} }

// WithProbability applies the fault to this fraction of connections,
// chosen from the seed.
func (f Fault) WithProbability(p float64) Fault {
	return Fault{f.text + "@p=" + strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.12f", p), "0"), ".")}
}

// OnEvery applies the fault to every nth connection (numbered from 1).
func (f Fault) OnEvery(n int64) Fault { return Fault{fmt.Sprintf("%s@every=%d", f.text, n)} }

// Direction names which way a fault acts on a wrapped conn.
type Direction string

// The directions.
const (
	Read  Direction = "read"  // the bytes Read returns
	Write Direction = "write" // the bytes Write sends
	Both  Direction = "both"
)

// InDirection makes the fault act in d (for faults that have a choice).
func (f Fault) InDirection(d Direction) Fault { return Fault{f.text + "@dir=" + string(d)} }

// NewFaults combines faults into a chain, validated like a parsed spec:
// values in range, each fault at most once, the defect and its fix never
// together.
func NewFaults(fs ...Fault) (Faults, error) {
	items := make([]string, len(fs))
	for i, f := range fs {
		items[i] = f.text
	}
	return ParseFaults(strings.Join(items, ","))
}

// MustFaults is NewFaults for values known to be valid (a catalog's
// constants); it panics otherwise.
func MustFaults(fs ...Fault) Faults {
	f, err := NewFaults(fs...)
	if err != nil {
		panic("transport: " + err.Error())
	}
	return f
}

// MarshalText writes the canonical spec, so a chain stored in JSON or YAML
// reads back the same.
func (f Faults) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText parses a spec; errors name the bad token.
func (f *Faults) UnmarshalText(b []byte) error {
	v, err := ParseFaults(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}
