package transport

// sndbuf and rcvbuf set the kernel socket buffers (SO_SNDBUF / SO_RCVBUF) of the wrapped
// conn when it is created; Linux doubles the value asked and enforces a minimum, so the
// timeline records the size the kernel reports ("fault sndbuf 16384"). Small buffers
// make backpressure, and the cut of buffered-shutdown, come sooner.
//
// On a Unix stream socket the sender's SO_SNDBUF bounds what is in flight; SO_RCVBUF is
// accepted but Linux does not use it for stream sockets.
var sndbufKind = kindInfo{
	name:   "sndbuf",
	usage:  "sndbuf=SIZE, e.g. sndbuf=8KiB",
	rank:   40,
	defDir: dirWrite,
	parse:  sizeValue(1),
	format: formatSize,
	setup:  func(f faultSpec, c *conn) { setSockBufFault(c, true, f) },
}

var rcvbufKind = kindInfo{
	name:   "rcvbuf",
	usage:  "rcvbuf=SIZE, e.g. rcvbuf=8KiB",
	rank:   41,
	defDir: dirRead,
	parse:  sizeValue(1),
	format: formatSize,
	setup:  func(f faultSpec, c *conn) { setSockBufFault(c, false, f) },
}

func setSockBufFault(c *conn, send bool, f faultSpec) {
	got, err := c.setSockBuf(send, f.size)
	if err != nil {
		c.rec.add(EventError, 0, 0, f.kind.name+": "+err.Error())
		return
	}
	c.rec.add(EventFault, int64(got), 0, f.kind.name)
}
