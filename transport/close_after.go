package transport

// close-after moves SIZE bytes in its direction (write by default), then closes the
// conn: the peer reads exactly SIZE bytes and then io.EOF, a clean FIN (Toxiproxy's
// limit_data). The call that hits the budget gets an error wrapping [ErrInjected].
var closeAfterKind = kindInfo{
	name:   "close-after",
	usage:  "close-after=SIZE[@dir=read|write|both], e.g. close-after=300KiB",
	rank:   11,
	dirs:   dirBoth,
	defDir: dirWrite,
	parse:  sizeValue(0),
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) {
		return budgetStages(f, func(c *conn) { _ = c.Close() })
	},
}
