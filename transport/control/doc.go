// Package control is the runtime control API of truncheck's proxies and listeners: a
// test lists, adds, changes and removes faults per proxy and per direction while
// traffic flows, creates and deletes proxies, and scrapes Prometheus metrics. It speaks
// Toxiproxy's JSON shapes where they map onto our faults, so a test written against
// Toxiproxy's API can point at it, and a native shape in our own fault text. [Client] is
// its Go client; the API's own tests use it.
//
// # The data path
//
//	test / curl / a Toxiproxy client
//	      |  HTTP on loopback or a Unix socket (Origin headers and non-loopback Hosts refused)
//	      v
//	[Server] --- registry: name -> entry (at most Config.MaxProxies)
//	      |        entry = native faults per direction + toxics (each compiled to faults)
//	      |        merged per direction, each fault at most once  ->  active faults
//	      |
//	      |  SetFaults(to_upstream, to_client)          Stats() on each scrape of /metrics
//	      v                                                         ^
//	transport.Proxy (truncheck proxy, or made here)  |  transport.Listener (serve's own)
//	      |  a conn takes the active faults when it is accepted, for its whole life
//	      v
//	client ==> [client conn] --copy--> [upstream conn] ==> upstream, and back
//
// # When a change acts
//
// A change (a toxic added, changed or removed, native faults set, a reset) acts on the
// connections accepted after it. A connection already open keeps the faults it started
// with until it ends: its chain holds state (the bytes a close-after budget has left, a
// latency delay line and its goroutine, buffered-shutdown's write buffer), and swapping
// it mid-stream would invent or lose bytes, the very thing truncheck exists to catch.
// Toxiproxy applies a change to open links too; this is the difference a test must
// know: a keep-alive client keeps its old connections, so close its idle connections
// after a change (http.Client.CloseIdleConnections) and, to be sure, wait until the
// proxy reports no stale connections ([Client.WaitFresh]; "stale_connections" in the
// proxy's stats, truncheck_proxy_connections_stale in /metrics).
//
// # Endpoints
//
//	GET    /version                          {"version": "..."}
//	GET    /metrics                          Prometheus text
//	GET    /proxies                          every proxy by name
//	POST   /proxies                          create: {"name", "listen", "upstream", "enabled", "faults", "seed"}
//	POST   /populate                         create or replace a list of proxies (replaced when listen or upstream differ)
//	POST   /reset                            remove every toxic and native fault, enable every proxy
//	GET    /proxies/{proxy}                  one proxy, its toxics, faults and stats
//	POST   /proxies/{proxy}                  update listen, upstream, enabled, faults (PATCH too)
//	DELETE /proxies/{proxy}                  stop listening, close its connections, remove it
//	GET    /proxies/{proxy}/faults           the native shape
//	POST   /proxies/{proxy}/faults           set it (PUT, PATCH too); an absent direction keeps its faults
//	GET    /proxies/{proxy}/toxics           its toxics
//	POST   /proxies/{proxy}/toxics           add a toxic
//	GET    /proxies/{proxy}/toxics/{toxic}   one toxic
//	POST   /proxies/{proxy}/toxics/{toxic}   change its attributes or toxicity (PATCH too)
//	DELETE /proxies/{proxy}/toxics/{toxic}   remove it
//
// Statuses are Toxiproxy's: 201 for a created proxy and a populate, 200 for a toxic
// added, 204 for deletes and reset; every error is {"error": "...", "status": N}, the
// message naming what was wrong and what is accepted. Creating and deleting proxies
// needs [Config].Create (truncheck proxy); serve and check register their own.
//
// # The native shape
//
//	{"to_client": "close-after=300KiB@p=0.5", "to_upstream": ""}
//
// A fault spec per direction of data, in the grammar of transport.ParseFaults. In a
// request an absent direction keeps its faults and "" removes them. On serve's listener
// (whose server is its clients' upstream) to_client takes the faults that act on what the
// server writes and to_upstream those that act on what it reads.
//
// # Toxiproxy's toxics
//
//	type         attributes                          faults, in the toxic's stream
//	latency      latency, jitter (ms)                latency=Lms~Jms (none when both are 0)
//	bandwidth    rate (KB/s, 1000 bytes)             bandwidth=RATEkB (none when 0, no limit)
//	timeout      timeout 0                           stall-after=0: data stops, the connection stays open
//	slicer       average_size, size_variation 0,     write-slice=SIZE, and slow-read=SIZE/DELAYus for the
//	             delay (us)                          pause after each slice (reads from the stream's source)
//	limit_data   bytes                               close-after=BYTES: a clean FIN after exactly that many
//	reset_peer   timeout 0                           reset-after=0: an RST at once
//	toxicity     0..1 (default 1)                    @p=TOXICITY on each fault, chosen per conn from the
//	                                                 proxy's seed; 0 keeps the toxic acting on nothing
//	stream       downstream (default) | upstream     to_client | to_upstream
//
// Refused with a 400 that says why and what is accepted: slow_close (a close is never
// delayed here), timeout > 0 and reset_peer timeout > 0 (an action after a time; ours
// act after a byte count: close-after, reset-after), slicer size_variation > 0 (slices
// are one size), a slicer with a delay and a toxicity between 0 and 1 (its two faults
// would be chosen apart), unknown types and attributes, attributes that are not whole
// non-negative numbers. A toxic and a native fault (or two toxics) that set the same
// fault in one direction conflict: 409, naming both. Addresses are Toxiproxy's
// HOST:PORT or truncheck's http://HOST:PORT and unix:/PATH, loopback hosts only; the
// "toxics" field of a proxy body is accepted and ignored, as Toxiproxy does.
//
// # Limits
//
// Request bodies up to 256 KiB; at most 64 proxies (Config.MaxProxies) and 32 toxics
// per proxy; names of 1 to 64 characters of A-Z a-z 0-9 _ . -; the HTTP server's read,
// write and idle timeouts; Close gives requests in flight 5 seconds, then closes every
// proxy the registry runs.
package control
