package transport

// stall-after moves SIZE bytes in its direction (write by default), then moves nothing:
// calls block until the deadline (a timeout error) or Close. The peer sees a silent,
// open connection: the "stalled" outcome.
var stallAfterKind = kindInfo{
	name:   "stall-after",
	usage:  "stall-after=SIZE[@dir=read|write|both], e.g. stall-after=1MiB",
	rank:   10,
	dirs:   dirBoth,
	defDir: dirWrite,
	parse:  sizeValue(0),
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) { return budgetStages(f, func(*conn) {}) },
}
