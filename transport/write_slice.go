package transport

// write-slice moves at most SIZE bytes per write syscall: a large Write becomes many
// small ones, as from a program that flushes often. With buffered-shutdown the drainer's
// syscalls are sliced too.
var writeSliceKind = kindInfo{
	name:   "write-slice",
	usage:  "write-slice=SIZE, e.g. write-slice=1KiB",
	rank:   20,
	defDir: dirWrite,
	parse:  sizeValue(1),
	format: formatSize,
	stages: func(f faultSpec, _ uint64) (stage, stage) { return nil, sliceStage(f.size) },
	setup:  func(f faultSpec, c *conn) { c.maxWrite = int(f.size) },
}

// sliceStage limits each call to at most its size; it never waits.
type sliceStage int

func (s sliceStage) before(_ *conn, n int) (int, error) { return min(n, int(s)), nil }
func (s sliceStage) after(*conn, int)                   {}
