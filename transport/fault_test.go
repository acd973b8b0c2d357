package transport

import (
	"time"

	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFaultsCanonical(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"empty", "", ""},
		{"blank", "   ", ""},
		{"issue example", "latency=5ms~2ms,write-slice=1KiB,sndbuf=8KiB,close-after=300KiB",
			"close-after=300KiB,write-slice=1KiB,latency=5ms~2ms,sndbuf=8KiB"},
		{"chain order", "buffered-shutdown,latency=1ms,stall-after=0", "stall-after=0,latency=1ms,buffered-shutdown"},
		{"sizes", "write-slice=1024,read-slice=1000,sndbuf=2MiB,rcvbuf=3MB", "write-slice=1KiB,read-slice=1kB,sndbuf=2MiB,rcvbuf=3MB"},
		{"bytes", "close-after=1001B", "close-after=1001"},
		{"gib", "stall-after=1GiB", "stall-after=1GiB"},
		{"bandwidth per second", "bandwidth=10MiB/s", "bandwidth=10MiB"},
		{"latency no jitter", "latency=250us", "latency=250µs"},
		{"latency zero jitter", "latency=1s~0s", "latency=1s"},
		{"slow read", "slow-read=16KiB/5ms", "slow-read=16KiB/5ms"},
		{"selection", "close-after=300KiB@p=0.3", "close-after=300KiB@p=0.3"},
		{"every", "reset-after=1MiB@every=3", "reset-after=1MiB@every=3"},
		{"modifiers canonical order", "close-after=1KiB@every=2@p=0.5@dir=both", "close-after=1KiB@dir=both@p=0.5@every=2"},
		{"default dir not printed", "latency=1ms@dir=read", "latency=1ms@dir=read"},
		{"fixed twin", "buffered-shutdown-fixed", "buffered-shutdown-fixed"},
		{"spaces", " latency=1ms , half-close-after=64KiB ", "half-close-after=64KiB,latency=1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFaults(tt.give)
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.String())
			assert.Equal(t, tt.want == "", f.IsZero())
			again, err := ParseFaults(f.String())
			require.NoError(t, err)
			assert.Equal(t, f, again, "round trip")
		})
	}
}

func TestParseFaultsErrors(t *testing.T) {
	accepted := strings.Join(AcceptedFaults(), ", ")
	tests := []struct {
		name string
		give string
		want string
	}{
		{"unknown", "latncy=5ms", `fault "latncy=5ms": unknown fault "latncy"; accepted: ` + accepted},
		{"bad duration", "latency=5", `fault "latency=5": latency: bad duration "5": want a non-negative Go duration such as 5ms, 250us, 1.5s (usage: latency=DURATION[~JITTER][@dir=read|write|both], e.g. latency=5ms~2ms)`},
		{"negative jitter", "latency=5ms~-1ms", `fault "latency=5ms~-1ms": latency: bad duration "-1ms": want a non-negative Go duration such as 5ms, 250us, 1.5s (usage: latency=DURATION[~JITTER][@dir=read|write|both], e.g. latency=5ms~2ms)`},
		{"jitter too large", "latency=1ms~2000000h", `fault "latency=1ms~2000000h": latency: latency and jitter must be at most 1h0m0s (for a connection that stops, use stall-after) (usage: latency=DURATION[~JITTER][@dir=read|write|both], e.g. latency=5ms~2ms)`},
		{"missing value", "close-after", `fault "close-after": close-after: missing size (usage: close-after=SIZE[@dir=read|write|both], e.g. close-after=300KiB)`},
		{"empty value", "close-after=", `fault "close-after=": empty value after "close-after="`},
		{"ambiguous unit", "sndbuf=8KB", `fault "sndbuf=8KB": sndbuf: bad size "8KB": want a number of bytes with an optional unit: B, KiB, MiB, GiB (1024-based) or kB, MB, GB (1000-based), e.g. 512, 64KiB, 1.5MB (usage: sndbuf=SIZE, e.g. sndbuf=8KiB)`},
		{"fraction of a byte", "write-slice=1.5B", `fault "write-slice=1.5B": write-slice: bad size "1.5B": not a whole number of bytes (usage: write-slice=SIZE, e.g. write-slice=1KiB)`},
		{"zero slice", "write-slice=0", `fault "write-slice=0": write-slice: size "0" below the minimum of 1 bytes (usage: write-slice=SIZE, e.g. write-slice=1KiB)`},
		{"value on flag", "buffered-shutdown=1", `fault "buffered-shutdown=1": buffered-shutdown: takes no value, got "1" (usage: buffered-shutdown (no value))`},
		{"slow read syntax", "slow-read=16KiB", `fault "slow-read=16KiB": slow-read: want SIZE/DURATION, got "16KiB" (usage: slow-read=SIZE/DURATION, e.g. slow-read=16KiB/5ms)`},
		{"probability", "close-after=1KiB@p=1.5", `fault "close-after=1KiB@p=1.5": modifier "@p=1.5": probability must be a number in (0, 1]`},
		{"probability zero", "close-after=1KiB@p=0", `fault "close-after=1KiB@p=0": modifier "@p=0": probability must be a number in (0, 1]`},
		{"every", "close-after=1KiB@every=0", `fault "close-after=1KiB@every=0": modifier "@every=0": every must be a whole number >= 1`},
		{"unknown modifier", "close-after=1KiB@q=1", `fault "close-after=1KiB@q=1": unknown modifier "@q=1"; accepted: p=PROBABILITY, every=N, dir=read|write|both`},
		{"modifier twice", "close-after=1KiB@p=0.1@p=0.2", `fault "close-after=1KiB@p=0.1@p=0.2": modifier "p" given twice`},
		{"modifier syntax", "close-after=1KiB@p", `fault "close-after=1KiB@p": modifier "@p": want key=value; accepted: p=PROBABILITY, every=N, dir=read|write|both`},
		{"bad dir", "latency=1ms@dir=up", `fault "latency=1ms@dir=up": modifier "@dir=up": accepted directions: read, write, both`},
		{"dir refused", "write-slice=1KiB@dir=read", `fault "write-slice=1KiB@dir=read": write-slice takes no @dir (it acts on write only)`},
		{"duplicate", "latency=1ms,latency=2ms", `fault "latency=2ms": "latency" already given as "latency=1ms" (each fault at most once)`},
		{"exclusive", "buffered-shutdown,buffered-shutdown-fixed", `faults "buffered-shutdown" and "buffered-shutdown-fixed" exclude each other (the defect and its fix)`},
		{"empty item", "latency=1ms,,close-after=1", `empty fault in "latency=1ms,,close-after=1" (faults are separated by single commas)`},
		{"no name", "=5ms", `fault "=5ms": missing fault name before "=5ms"`},
		{"huge", "close-after=99999999999GiB", `fault "close-after=99999999999GiB": close-after: bad size "99999999999GiB": too large (usage: close-after=SIZE[@dir=read|write|both], e.g. close-after=300KiB)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFaults(tt.give)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

func TestAcceptedFaults(t *testing.T) {
	assert.Equal(t, []string{"latency", "bandwidth", "write-slice", "read-slice", "sndbuf", "rcvbuf",
		"slow-read", "stall-after", "close-after", "half-close-after", "reset-after",
		"buffered-shutdown", "buffered-shutdown-fixed"}, AcceptedFaults())
}

func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"latency=5ms~2ms,write-slice=1KiB,sndbuf=8KiB,close-after=300KiB",
		"slow-read=16KiB/5ms@every=2", "close-after=1KiB@p=0.25@dir=both", "buffered-shutdown", "bandwidth=1MB/s", "x=@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := ParseFaults(s)
		if err != nil {
			return
		}
		again, err := ParseFaults(fs.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", fs.String(), s, err)
		}
		if again.String() != fs.String() {
			t.Fatalf("round trip %q -> %q", fs.String(), again.String())
		}
	})
}

// TestFaultValues: the typed values build the same chains as the text,
// validated by the same parser, and a chain round-trips through text.
func TestFaultValues(t *testing.T) {
	tests := []struct {
		give []Fault
		want string
	}{
		{[]Fault{Latency(5*time.Millisecond, 2*time.Millisecond), WriteSlice(1 << 10)}, "latency=5ms~2ms,write-slice=1KiB"},
		{[]Fault{CloseAfter(300 << 10).WithProbability(0.3), SndBuf(8 << 10)}, "sndbuf=8KiB,close-after=300KiB@p=0.3"},
		{[]Fault{SlowRead(64<<10, 2*time.Millisecond)}, "slow-read=64KiB/2ms"},
		{[]Fault{ResetAfter(1000).OnEvery(2), RcvBuf(4096), ReadSlice(512)}, "reset-after=1kB@every=2,read-slice=512,rcvbuf=4KiB"},
		{[]Fault{BufferedShutdown(), Bandwidth(1 << 20), StallAfter(0).InDirection(Both), HalfCloseAfter(10)},
			"stall-after=0@dir=both,half-close-after=10,bandwidth=1MiB,buffered-shutdown"},
		{[]Fault{Latency(time.Millisecond, 0).InDirection(Read)}, "latency=1ms@dir=read"},
		{nil, ""},
	}
	for _, tt := range tests {
		f, err := NewFaults(tt.give...)
		require.NoError(t, err, tt.want)
		parsed, err := ParseFaults(tt.want)
		require.NoError(t, err)
		assert.Equal(t, parsed.String(), f.String(), "the values and the text make one chain")
		text, err := f.MarshalText()
		require.NoError(t, err)
		var back Faults
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, f.String(), back.String())
	}
	for _, bad := range [][]Fault{
		{CloseAfter(-1)},
		{WriteSlice(0)},
		{BufferedShutdown(), BufferedShutdownFixed()},
		{Latency(time.Millisecond, 0), Latency(2*time.Millisecond, 0)},
		{CloseAfter(10).WithProbability(1.5)},
		{BufferedShutdown().InDirection(Read)},
	} {
		_, err := NewFaults(bad...)
		assert.Error(t, err, "%v", bad)
	}
	assert.Panics(t, func() { MustFaults(WriteSlice(0)) })
	var f Faults
	assert.ErrorContains(t, f.UnmarshalText([]byte("explode")), `unknown fault "explode"`)
}
