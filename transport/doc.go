// Package transport injects faults at the byte level and records what happened on every
// connection: the moments that make silent HTTP body truncation (hyper #4022) happen on
// purpose, with a flight recorder to show them afterwards.
//
// The same faults are usable three ways:
//
//   - [WrapListener]: every conn a server accepts carries the faults ("write" is then
//     server -> client, "read" is client -> server);
//   - [Dialer]: a DialContext for http.Transport, client-side faults ("read" is what the
//     client receives, e.g. a slow reader);
//   - [NewProxy]: a standalone TCP/Unix proxy in front of any server, faults per
//     direction, half-close carried through, each direction's end reported.
//
// # The chain
//
// A wrapped conn runs its faults in a fixed order, whatever order the spec named them in
// (Faults.String prints that order). Write path top-down, read path bottom-up:
//
//	      app Write(p)                                 app Read(p) gets n bytes
//	           |                                                ^
//	budgets    stall-after, close-after, half-close-after,      |  budgets count n
//	           reset-after: move at most what is left,          |  (@dir=read|both)
//	           then act (cut exactly at N bytes)                |
//	slicing    write-slice: at most N bytes per syscall         |
//	timing     latency: a delay line; Write returns once it     |  latency: a delay line; Read
//	           took the chunk, stamped on arrival; a releaser   |  takes what is due; a reader
//	           goroutine sends it at arrival + delay            |  goroutine stamps what arrives
//	           bandwidth: wait until the bytes are paid for     |  bandwidth: pay for n bytes
//	           |                                                |  slow-read: pause after N
//	buffer     buffered-shutdown(-fixed): copy, return          |  read(2) of at most
//	           len(p) at once; a drainer makes one              |  read-slice / slow-read N
//	           non-blocking write(2) at a time (partial-write,  |
//	           would-block); CloseWrite/Close skip the drain    |
//	           v                                                |
//	socket     [SO_SNDBUF: sndbuf] ====== kernel ====== [SO_RCVBUF: rcvbuf]
//
//	latency splits a direction in two: what is above it runs in the app's call, what is
//	below it in the line's goroutine. Chunks in flight overlap (a body that arrives in two
//	reads is late once); jitter never reorders (a release never precedes the one before);
//	the line holds at most 4 MiB, so a full line blocks the writer (backpressure); deadlines
//	and Close end the waits; Close and CloseWrite first deliver what Write already took (as
//	a kernel sends what is in its buffer after close), until the write deadline or one
//	second without progress once all of it was due; the close event counts what was left.
//
//	flight recorder (when Options.Record > 0): accept|dial, read, write, partial-write,
//	would-block, close-write, close, peer-fin, rst, fault, error; offsets are monotonic
//	time since the conn was created; the newest Record events are kept. A copied-out
//	Timeline names its conn: results files keep these same events, unconverted.
//
// # Beneath TLS and HTTP/2
//
// A wrapped conn is the raw connection: TLS and HTTP/2 run on top of it, so every
// fault acts on the ciphertext, where a real socket's trouble happens, and the byte
// events count ciphertext. What the layers above see goes onto the same timeline:
//
//	HTTP/2 client or server                       frame events: h2-headers, h2-data N,
//	      │                                       h2-rst-stream CODE, h2-goaway
//	[RecordHTTP2: parses frames, changes nothing] last-stream=N CODE, h2-window-update N
//	      │                                       (HTTP2Of sums them for a verdict)
//	crypto/tls (*tls.Conn)                        tls-handshake, tls-close-notify,
//	      │                                       tls-no-close-notify (Annotate)
//	[wrapped conn: faults, recorder] ── socket
//
// [Fired], [TimelineOf], [ConnID] and [Annotate] find the wrapped conn beneath any
// layer that hands out its inner conn with NetConn, as *tls.Conn does. Faults that act
// on HTTP/2 streams rather than bytes (a stream reset, a GOAWAY with streams in
// flight) live in package transport/h2fault.
//
// The proxy puts a wrapped conn on each side; a direction's faults act on the writes to
// its sink, or on the reads from its source for read faults:
//
//	client ==> [client conn: reads get ToUpstream's read faults] --copy--> [upstream conn:
//	           writes get ToUpstream's faults] ==> upstream, and the mirror image back;
//	           a FIN read on one side becomes CloseWrite on the other, an RST a reset.
//
// # Fault specs
//
// A spec is a comma-separated list; each fault at most once:
//
//	spec     = fault { "," fault }
//	fault    = name [ "=" value ] { "@" modifier }
//	modifier = "p=" PROBABILITY      apply to this fraction of conns, e.g. @p=0.3
//	         | "every=" N            apply to every Nth conn (conns are numbered from 1)
//	         | "dir=" read|write|both  the direction, for faults that have a choice
//
// SIZE is a whole number of bytes with an optional unit: B, KiB, MiB, GiB (1024-based)
// or kB, MB, GB (1000-based); "KB", "K" and "k" are refused as ambiguous. DURATION is a Go
// duration (time.ParseDuration): 5ms, 250us, 1.5s.
//
//	latency=DURATION[~JITTER]   delay each byte by DURATION +- uniform JITTER from its arrival (dir: both)
//	bandwidth=SIZE[/s]          at most SIZE bytes per second, each direction (dir: both)
//	write-slice=SIZE            at most SIZE bytes per write syscall
//	read-slice=SIZE             at most SIZE bytes per read syscall
//	sndbuf=SIZE                 SO_SNDBUF of the wrapped socket (Linux doubles it)
//	rcvbuf=SIZE                 SO_RCVBUF of the wrapped socket
//	slow-read=SIZE/DURATION     read at most SIZE bytes, then pause DURATION: backpressure
//	stall-after=SIZE            move SIZE bytes, then block until deadline or Close (dir: write)
//	close-after=SIZE            move SIZE bytes, then Close: the peer sees a clean FIN (dir: write)
//	half-close-after=SIZE       write SIZE bytes, then CloseWrite; reads continue
//	reset-after=SIZE            move SIZE bytes, then SO_LINGER 0 + Close: RST on TCP (dir: write)
//	buffered-shutdown           hyper #4022: buffered writes, shutdown without draining
//	buffered-shutdown-fixed     the fix: the same buffer, drained before shutdown
//
// Example: "latency=5ms~2ms,write-slice=1KiB,sndbuf=8KiB,close-after=300KiB@p=0.3".
// Errors name the token and list what is accepted:
//
//	fault "latncy=5ms": unknown fault "latncy"; accepted: latency, bandwidth, ...
//
// # Seeds
//
// Every random choice (selection by @p, latency jitter) derives from [Options].Seed and
// the conn's number: a listener or dialer numbers its conns from 1, so a run with the
// same seed and the same order of conns makes the same choices. [WrapConn] numbers conns
// process-wide.
//
// # Toxiproxy
//
// Toxiproxy's toxics and their counterparts here (sizes carry units, times are
// durations: no milliseconds in an int):
//
//	latency (latency, jitter ms)        latency=DURATION~JITTER (the same pipeline: each chunk at arrival + delay)
//	bandwidth (rate KB/s)               bandwidth=SIZE (per second)
//	slow_close (delay ms)               no direct twin: latency on the last chunk; the close itself is not delayed
//	timeout (timeout ms)                stall-after=0 (stop moving data; the deadline ends it) or
//	                                    stall-after=SIZE; Toxiproxy's timeout>0 closes later: close-after plus a deadline
//	slicer (average_size, size_variation, delay us)
//	                                    write-slice=SIZE (fixed size) with slow-read=SIZE/DELAY for the
//	                                    pause after each slice (reads from the direction's source)
//	limit_data (bytes)                  close-after=SIZE
//	reset_peer (timeout ms)             reset-after=SIZE (after bytes instead of after time)
//	toxicity (0..1)                     @p=PROBABILITY, chosen per conn from the seed
//	stream upstream/downstream          [ProxyConfig].ToUpstream / ToClient, or @dir on a wrapped conn
//
// Not in Toxiproxy: slow-read (a reader that makes real kernel backpressure), sndbuf and
// rcvbuf, half-close-after, read-slice, buffered-shutdown(-fixed), the flight recorder,
// and a proxy that carries a half-close through.
//
// Toxiproxy's HTTP API has its counterpart in the control package below this one: it
// takes toxics in Toxiproxy's JSON shapes, compiles each to the faults above (refusing,
// with a 400 that says why, what has no counterpart: slow_close, a timeout or a reset
// after a time, slices of varying size) and calls [Proxy.SetFaults] or
// [Listener.SetFaults]. One difference a test must know: a change acts on the conns
// accepted after it. Toxiproxy rewires links that are open; here a conn keeps the
// chain it was accepted with, because the chain holds state (a budget's bytes left, a
// delay line's goroutine, a write buffer) that cannot move to another chain without
// inventing or losing bytes. [Stats].Stale counts the open conns on older faults.
// Counters for metrics come from [Proxy.Stats] and [Listener.Stats], plain values:
// this package knows no metrics library.
//
// # Unix sockets
//
// Everything works on Unix stream sockets except the RST: a Unix socket has none, so
// reset-after closes and the peer reads io.EOF. SO_RCVBUF is accepted but Linux sizes a
// Unix stream by the sender's SO_SNDBUF.
package transport
