package transport

import (
	"encoding/json"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecorderRing(t *testing.T) {
	r := newRecorder(3, time.Now(), "c-1")
	for i := range 5 {
		r.add(EventWrite, int64(i), 0, "")
	}
	tl := r.timeline()
	require.Len(t, tl, 3)
	assert.Equal(t, []int64{2, 3, 4}, []int64{tl[0].N, tl[1].N, tl[2].N}, "the newest events are kept, oldest first")
	for _, e := range tl {
		assert.Equal(t, "c-1", e.Conn, "a copied-out event names its conn")
	}
	assert.Nil(t, newRecorder(0, time.Now(), "c-1"), "Record 0: no recorder at all")
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
		{Event{Kind: EventH2Data, N: 16384, Stream: 3, Note: "received end-stream"}, "h2-data 16384 stream=3 received end-stream"},
		{Event{Kind: EventH2Headers, Stream: 1, Note: "sent"}, "h2-headers stream=1 sent"},
		{Event{Kind: EventH2RSTStream, Stream: 5, Note: "received INTERNAL_ERROR"}, "h2-rst-stream stream=5 received INTERNAL_ERROR"},
		{Event{Kind: EventH2GoAway, Stream: 7, Note: "received NO_ERROR"}, "h2-goaway last-stream=7 received NO_ERROR"},
		{Event{Kind: EventH2GoAway, Note: "received NO_ERROR"}, "h2-goaway last-stream=0 received NO_ERROR"},
		{Event{Kind: EventH2WindowUpdate, N: 32768, Note: "sent"}, "h2-window-update 32768 stream=0 sent"},
		{Event{Kind: EventTLSHandshake, Note: "TLS 1.3 h2"}, "tls-handshake TLS 1.3 h2"},
		{Event{Kind: EventTLSNoCloseNotify}, "tls-no-close-notify"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.give.String())
	}
	tl := Timeline{{At: 12345 * time.Microsecond, Kind: EventWrite, N: 1}, {At: 13 * time.Millisecond, Kind: EventClose}}
	assert.Equal(t, "+12.345ms write 1\n+13.000ms close\n", tl.String())
	tl[0].Conn = "svc-3"
	assert.Equal(t, "+12.345ms svc-3 write 1", tl[0].Stamped())

	// The JSON form is the results files' timeline: kinds by name.
	b, err := json.Marshal(tl[0])
	require.NoError(t, err)
	assert.JSONEq(t, `{"at_ns":12345000,"conn":"svc-3","kind":"write","n":1}`, string(b))
	b, err = json.Marshal(Event{Kind: EventH2GoAway, Stream: 7, Note: "received NO_ERROR"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"at_ns":0,"kind":"h2-goaway","stream":7,"note":"received NO_ERROR"}`, string(b))
}

func TestEventKindText(t *testing.T) {
	for k := EventAccept; k <= EventH2WindowUpdate; k++ {
		b, err := json.Marshal(k)
		require.NoError(t, err)
		var back EventKind
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, k, back)
	}
	var k EventKind
	assert.EqualError(t, k.UnmarshalText([]byte("wrote")), `unknown event kind "wrote"; accepted: accept, dial, read, write, partial-write, would-block, close-write, close, peer-fin, rst, fault, error, `+
		`tls-handshake, tls-close-notify, tls-no-close-notify, h2-headers, h2-data, h2-rst-stream, h2-goaway, h2-window-update`)
}

// TestListenerHistory: timelines stay retrievable by ID after the conn closed, bounded.
func TestListenerHistory(t *testing.T) {
	h := newHistory(2)
	for i := 1; i <= 3; i++ {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		h.add(&conn{Conn: a, id: "c-" + strconv.Itoa(i), rec: newRecorder(1, time.Now(), "c-"+strconv.Itoa(i))})
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

// TestListenerKnowsWhichFaultCut: the fault that cut a conn is found by the
// client's own address, after the conn closed, on TCP and on a Unix socket
// whose client bound a name (an unnamed Unix client cannot be told apart).
func TestListenerKnowsWhichFaultCut(t *testing.T) {
	f, err := ParseFaults("close-after=1KiB")
	require.NoError(t, err)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			wl := WrapListener(listen(t, network), Options{Faults: f, Name: "svc"})
			done := make(chan error, 1)
			go func() {
				c, err := wl.Accept()
				if err != nil {
					done <- err
					return
				}
				_, err = c.Write(make([]byte, 4096))
				c.Close()
				done <- err
			}()
			d := net.Dialer{}
			if network == "unix" {
				d.LocalAddr = &net.UnixAddr{Net: "unix", Name: "@truncheck-test-" + strconv.Itoa(os.Getpid())}
			}
			c, err := d.Dial(network, wl.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			got, _ := io.ReadAll(c)
			assert.Len(t, got, 1024)
			werr := <-done
			assert.ErrorIs(t, werr, ErrInjected)

			info, ok := wl.ConnFrom(PeerKey(c))
			require.True(t, ok, "found by the client's address %s", PeerKey(c))
			assert.Equal(t, "svc-1", info.ID)
			assert.Equal(t, "close-after=1KiB", info.Fired)
			byID, ok := wl.Conn("svc-1")
			require.True(t, ok)
			assert.Equal(t, info.Fired, byID.Fired)
			_, ok = wl.ConnFrom("tcp:127.0.0.1:1")
			assert.False(t, ok)
		})
	}
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
