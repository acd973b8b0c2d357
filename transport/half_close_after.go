package transport

// half-close-after writes SIZE bytes, then sends a FIN with CloseWrite (shutdown SHUT_WR)
// and keeps reading: the peer reads SIZE bytes then io.EOF while it can still send.
// Writes after the cut fail with an error wrapping [ErrInjected].
var halfCloseAfterKind = kindInfo{
	name:   "half-close-after",
	usage:  "half-close-after=SIZE, e.g. half-close-after=64KiB",
	rank:   12,
	defDir: dirWrite,
	parse:  sizeValue(0),
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) {
		_, w := budgetStages(f, func(c *conn) { _ = c.CloseWrite() })
		return nil, w
	},
}
