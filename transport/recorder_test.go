package transport

import (
	"encoding/json"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderRing(t *testing.T) {
	r := newRecorder(3, time.Now())
	for i := range 5 {
		r.add(EventWrite, int64(i), 0, "")
	}
	tl := r.timeline()
	require.Len(t, tl, 3)
	assert.Equal(t, []int64{2, 3, 4}, []int64{tl[0].N, tl[1].N, tl[2].N}, "the newest events are kept, oldest first")
	assert.Nil(t, newRecorder(0, time.Now()), "Record 0: no recorder at all")
	var off *recorder
	off.add(EventRead, 1, 0, "") // a nil recorder records nothing and does not panic
	assert.Nil(t, off.timeline())
}

func TestEventString(t *testing.T) {
	tests := []struct {
		give Event
		want string
	}{
		{Event{Kind: EventWrite, N: 1024}, "write 1024"},
		{Event{Kind: EventPartialWrite, N: 219264, Of: 4194425}, "partial-write 219264 of 4194425"},
		{Event{Kind: EventFault, N: 307200, Note: "close-after"}, "fault close-after 307200"},
		{Event{Kind: EventCloseWrite}, "close-write"},
		{Event{Kind: EventCloseWrite, N: 3975161, Note: "still buffered (buffered-shutdown)"}, "close-write 3975161 still buffered (buffered-shutdown)"},
		{Event{Kind: EventWouldBlock, Of: 100}, "would-block of 100"},
		{Event{Kind: EventPeerFIN}, "peer-fin"},
		{Event{Kind: EventAccept, Note: "faults=latency=1ms"}, "accept faults=latency=1ms"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String())
	}
	tl := Timeline{{At: 12345 * time.Microsecond, Kind: EventWrite, N: 1}, {At: 13 * time.Millisecond, Kind: EventClose}}
	assert.Equal(t, "+12.345ms write 1\n+13.000ms close\n", tl.String())
}

func TestEventKindText(t *testing.T) {
	for k := EventAccept; k <= EventError; k++ {
		b, err := json.Marshal(k)
		require.NoError(t, err)
		var back EventKind
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, k, back)
	}
	var k EventKind
	assert.EqualError(t, k.UnmarshalText([]byte("wrote")), `unknown event kind "wrote"; accepted: accept, dial, read, write, partial-write, would-block, close-write, close, peer-fin, rst, fault, error`)
}

// TestListenerHistory: timelines stay retrievable by ID after the conn closed, bounded.
func TestListenerHistory(t *testing.T) {
	h := newHistory(2)
	for i := 1; i <= 3; i++ {
		h.add("c-"+strconv.Itoa(i), newRecorder(1, time.Now()))
	}
	_, ok := h.get("c-1")
	assert.False(t, ok, "evicted")
	_, ok = h.get("c-3")
	assert.True(t, ok)

	s, c := pair(t, "tcp", Options{Record: 16, Name: "h"})
	s.Write([]byte("x"))
	s.Close()
	c.Close()
	l := WrapListener(listen(t, "tcp"), Options{Record: 16})
	_, ok = l.Timeline("h-1")
	assert.False(t, ok, "another listener's conn")
	_, ok = WrapListener(listen(t, "tcp"), Options{}).Timeline("x")
	assert.False(t, ok, "recording off")
}

func TestListenerTimelineAfterClose(t *testing.T) {
	l := listen(t, "unix")
	wl := WrapListener(l, Options{Record: 16, Name: "svc"})
	go func() {
		c, err := net.Dial("unix", l.Addr().String())
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	s, err := wl.Accept()
	require.NoError(t, err)
	s.Write([]byte("hello"))
	s.Close()
	tl, ok := wl.Timeline(ConnID(s))
	require.True(t, ok)
	assert.Equal(t, "accept", tl[0].Kind.String())
	assert.Equal(t, "write 5", tl[1].String())
	assert.Equal(t, "close", tl[len(tl)-1].String())
	assert.Equal(t, "", ConnID(&net.TCPConn{}))
}

// TestZeroCost: without faults and recorder a wrapped conn allocates nothing per call.
func TestZeroCost(t *testing.T) {
	s, c := pair(t, "tcp", Options{})
	assert.True(t, s.plain)
	assert.Nil(t, s.rec)
	buf := make([]byte, 1)
	allocs := testing.AllocsPerRun(100, func() {
		c.Write(buf)
		s.Read(buf)
		s.Write(buf)
		c.Read(buf)
	})
	assert.Zero(t, allocs)
}

func TestSplitProxyFaults(t *testing.T) {
	client, upstream := splitProxyFaults(
		mustFaults(t, "latency=1ms,slow-read=1KiB/1ms,sndbuf=8KiB,close-after=1MiB@dir=both"),
		mustFaults(t, "rcvbuf=4KiB,write-slice=100"))
	assert.Equal(t, "close-after=1MiB@dir=write,latency=1ms,sndbuf=8KiB,rcvbuf=4KiB", client.String(),
		"the client conn writes the to-client data and reads the to-upstream data")
	assert.Equal(t, "write-slice=100,slow-read=1KiB/1ms", upstream.String())
}
