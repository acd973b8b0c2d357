// Package imagesvc is a real image-transform HTTP service on libvips (bimg for
// set-up and type detection, its own small pipeline in pipeline.c): the origin that truncheck fires large-image requests at. Every 200 carries its own
// integrity evidence, and the service keeps its own account of what it wrote, so
// a client that receives fewer bytes than promised can tell whether the handler
// knew (a failed Write) or not (a silent truncation below it).
//
// Data path of one request:
//
//	client ──> [Server: TCP and/or Unix socket, optional WrapListener (faults)]
//	             │ ConnContext: conn (and its ID()) into the request context
//	             v
//	          wrap: X-Request-Id, Account started
//	             │
//	             ├─ GET /images/{name}   built-in (generated once, lazily) ─┐
//	             ├─ POST /transform      strict body read (Content-Length / │
//	             │                       chunked framing), 413 over limit  ─┤
//	             └─ GET /fetch?src=...   upstream body read strictly,       │
//	                                     digest checked, 502 on a cut      ─┤
//	                                                                         v
//	          query parsed (chain, format, quality, speed, stream)
//	          header sniff: format + pixel limit, before any decoding
//	             │
//	             v
//	          plan: rotations and mirrors moved to the end as one turn,
//	          the other operations' coordinates turned instead
//	             │
//	             v
//	          one libvips pipeline (pipeline.c): decode front to back with
//	          shrink-on-load and fail-on-error (built-ins: shared pixels in
//	          memory), operations, the turn on the small result, encode;
//	          a kill flag on every image of the job   (cache for built-ins)
//	             │
//	             v
//	          body + Content-Length + Content-Digest (or chunked + trailer)
//	          one Write (or StreamChunk Writes); n and error -> Account
//
// # HTTP API
//
//	GET  /images                          JSON list of built-in images [{name,width,height,kind}]
//	GET  /images/{name}?QUERY             transform a built-in image
//	POST /transform?QUERY                 transform the request body (an image)
//	GET  /fetch?src=ESCAPED&QUERY          fetch src (/images/...) from Config.Upstream, then transform
//	GET  /accounts/{id}[?wait=5s]         JSON Account (404 unknown); wait (<=30s) until the handler finished
//	GET  /metrics                         Prometheus text: requests, queue, shedding, cache, memory
//
// QUERY parameters (each at most once; anything else is a 400):
//
//	ops=CHAIN        operations, applied in the order given (default: none)
//	format=F         jpeg (jpg) | png | webp | avif | tiff (tif); default jpeg
//	quality=Q        1..100, default 80 (jpeg, webp, avif)
//	speed=S          0..9, default 8: AVIF encoder speed (libvips effort 9-S).
//	                 Measured here for photo-4mp: speed 8 0.5 s, speed 5 10 s,
//	                 speed 0 165 s; photo-12mp at speed 8 about 2 s
//	stream=1         chunked body, Content-Digest sent as an HTTP trailer
//
// CHAIN grammar (';' may be sent raw or as %3B; at most Config.MaxOps operations):
//
//	CHAIN  := OP (';' OP)*
//	OP     := NAME [':' KEY '=' VALUE (',' KEY '=' VALUE)*]
//	resize:w=W,h=H,fit=contain|cover|fill   w and/or h (1..32768); contain (alias inside,
//	                                        default) fits in the box keeping aspect; cover
//	                                        fills it and crops the centre; fill distorts
//	rotate:deg=90|180|270                   clockwise
//	flip                                    mirror top to bottom
//	flop                                    mirror left to right
//	crop:x=X,y=Y,w=W,h=H                     (alias extract) x,y default 0; must lie inside
//	blur:sigma=S                            gaussian, 0.1..100
//	overlay:name=logo,x=X,y=Y               composite a built-in overlay (alpha-blended);
//	                                        must fit inside the image
//
// Example: ops=resize:w=800,h=600,fit=cover;rotate:deg=90;flip;blur:sigma=1.5;overlay:x=10,y=10
//
// Built-in images: photo-small (640x480), photo-1mp (1280x800), photo-4mp
// (2448x1632), photo-12mp (4240x2832), photo-24mp (6000x4000) and the overlay
// logo (240x96, RGBA). Photo-like (sky, sun, hills, film grain from a fixed
// seed), byte-for-byte deterministic. format=tiff is uncompressed: 3 bytes a
// pixel plus a small header (photo-12mp: 36 MB); jpeg at quality 95 of
// photo-12mp is about 6 MB, png about 20 MB.
//
// Every 200 carries Content-Length, Content-Type, X-Request-Id and
// Content-Digest (RFC 9530): sha-256 by default, or the highest-weighted of
// crc32c, sha-256, sha-512 in Want-Content-Digest ("crc32c=9, sha-256=1" gives
// crc32c: 4-byte big-endian Castagnoli CRC). X-Request-Id is the caller's
// (1..128 of A-Z a-z 0-9 . _ : -) or a new one.
//
// Errors are JSON {"error": "...", "accepted": "..."} in fixed wording (libvips'
// error text is process-global and never passed on), with a Content-Length;
// also those net/http writes itself before any handler runs (431 headers
// over 64 KiB, 400 malformed request, 505 HTTP version, 501 transfer coding,
// 417 Expect: the Server's connections rewrite them, errconn.go):
//
//	400 bad chain / parameter / query / request id / crop or overlay outside,
//	    result over the pixel limit, truncated upload (Content-Length or chunked)
//	404 unknown image or route, unknown account, /fetch without an upstream
//	413 upload over Config.MaxUploadBytes
//	415 body is not a supported image (jpeg, png, webp, avif, tiff)
//	422 image over Config.MaxPixels (checked from the header, before
//	    decoding); "image data is truncated or damaged" for a header or data
//	    that does not decode completely (libvips decodes with fail-on-error:
//	    a cut JPEG or PNG would otherwise come back grey-filled with a 200);
//	    a chain whose cost estimate alone is over the time budget (naming
//	    the costliest part); or libvips could not transform it
//	500 a panic, recovered for that request
//	502 /fetch: upstream cut, digest mismatch, error status
//	503 shed with Retry-After (seconds): the queue is full, the expected wait
//	    leaves too little of the budget, or too many upload bytes are in
//	    flight (Config.MaxUploadBytesInFlight); or the client left before its
//	    transform finished
//	504 the transform outlived Config.RequestBudget (default 20s)
//
// # Time, load and cancellation
//
// A request's transform has a time budget (Config.RequestBudget), counted
// from when its image is in hand. A chain is priced up front from the pixels
// each step touches (cost.go; constants measured by TestCalibrateCosts); one
// priced over the budget is refused before any work. The rest waits in a
// bounded queue (Config.MaxQueue) for one of Config.MaxConcurrent worker
// slots; a request whose expected wait would not leave it time is refused at
// once with 503 and Retry-After, instead of timing out later. Work runs on a
// goroutine of its own: a caller whose client leaves, or whose budget runs
// out, gets its answer at once, and the work is stopped (taken out of the
// queue, or killed inside libvips within a tile) unless another caller
// shares it (identical built-in requests share one transform). Stopped work
// keeps its slot until libvips has returned, so the slots count the cores
// in use. GET /metrics and Service.Stats report all of it.
//
// # Memory
//
// Memory is the bounded cache (Config.CacheBytes, Go heap), the built-ins'
// pixels (124 MB of libvips memory, once per process, shared by every
// Service), and per worker slot one pipeline's buffers: a sequential decode
// holds a few rows, a turn holds the (small) result. Outside Go, libvips and
// the codecs allocate through glibc's malloc on whatever thread runs them;
// memory.go bounds the arenas (Config.MallocArenas), fixes the size from which
// blocks are mapped on their own (Config.MallocMmapThreshold) and hands free
// arena pages back after transforms (Config.MallocTrimInterval). /metrics
// shows each part: go_memstats_*, imagesvc_libvips_tracked_bytes,
// imagesvc_malloc_{arena,used,free,mmap}_bytes, process_resident_memory_bytes.
//
// # Tools
//
// internal/httpfuzz is a grammar-aware HTTP fuzzer and load generator for the
// service (make fuzz-http). loadcheck.sh measures what abandoned work costs
// and how the service sheds at 64 and 256 clients, soak.sh its RSS under a
// varied mix, bench-vs-bimg.sh its speed and peak RSS against bimg called as
// imaginary calls it; TestCalibrateCosts measures cost.go's constants.
//
// bimg lifecycle: libvips is initialised by bimg's own init (which also sets
// libvips' default concurrency to 1 thread per pipeline unless
// VIPS_CONCURRENCY is set: the service runs transforms in parallel instead,
// and gives a transform that starts while worker slots are idle as many
// threads as there are idle slots, its own included); this package never
// calls VipsCacheDropAll nor Shutdown/Initialize (the next operation crashes),
// sets VipsCacheSetMax(0) and warms bimg's type table once (its first concurrent
// lookups race). Libvips warnings are dropped when VIPS_WARNING is set (the
// package sets it to 0 when unset).
package imagesvc
