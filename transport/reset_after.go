package transport

// reset-after moves SIZE bytes in its direction (write by default), then closes with
// SO_LINGER 0: on TCP the kernel sends an RST and the peer's next read fails with
// ECONNRESET (Toxiproxy's reset_peer, but after a byte count). A Unix socket has no RST:
// the conn is simply closed and the peer reads io.EOF, which is the honest emulation.
var resetAfterKind = kindInfo{
	name:   "reset-after",
	usage:  "reset-after=SIZE[@dir=read|write|both], e.g. reset-after=1MiB",
	rank:   13,
	dirs:   dirBoth,
	defDir: dirWrite,
	parse:  sizeValue(0),
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) {
		return budgetStages(f, func(c *conn) { _ = c.reset() })
	},
}
