package transport

// read-slice asks the socket for at most SIZE bytes per read syscall, however large the
// caller's buffer: the reader sees the body in small pieces.
var readSliceKind = kindInfo{
	name:   "read-slice",
	usage:  "read-slice=SIZE, e.g. read-slice=512",
	rank:   21,
	defDir: dirRead,
	parse:  sizeValue(1),
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) { return sliceStage(f.size), nil },
}
