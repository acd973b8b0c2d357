package imagesvc

/*
#cgo pkg-config: vips
#include <malloc.h>
#include <vips/vips.h>

static void tc_mallinfo(size_t *arena, size_t *mmapped, size_t *used, size_t *free_bytes) {
	struct mallinfo2 mi = mallinfo2();
	*arena = mi.arena;
	*mmapped = mi.hblkhd;
	*used = mi.uordblks;
	*free_bytes = mi.fordblks;
}
*/
import "C"

import (
	"os"
	"sync"
	"time"
)

// Memory outside Go. libvips and the codecs allocate through glibc's malloc
// on whichever thread runs them. glibc gives threads that contend their own
// arena (up to 8 per core, each reserving 64 MiB regions), keeps freed memory
// in the arena it came from, and raises its threshold for using mmap for
// large blocks up to 32 MiB as soon as such a block is freed: image-sized
// buffers then come from the arenas too. A service that decodes images of
// every size on a few threads ends up with many half-empty arenas: RSS
// that climbs with the variety of work, not with the work in flight. Two
// settings bound it, applied once per process by the first New (see
// Config.MallocArenas and Config.MallocMmapThreshold): few arenas, and a fixed
// mmap threshold, so that image-sized blocks are mapped and unmapped and go
// back to the system when freed.

var tuneMallocOnce sync.Once

// tuneMalloc applies the malloc settings once per process. An arenas value
// of 0 or less, or a MALLOC_ARENA_MAX in the environment, leaves the arena
// limit to glibc; likewise threshold and MALLOC_MMAP_THRESHOLD_.
func tuneMalloc(arenas int, threshold int64) {
	tuneMallocOnce.Do(func() {
		if _, set := os.LookupEnv("MALLOC_ARENA_MAX"); !set && arenas > 0 {
			C.mallopt(C.M_ARENA_MAX, C.int(arenas))
		}
		if _, set := os.LookupEnv("MALLOC_MMAP_THRESHOLD_"); !set && threshold > 0 {
			C.mallopt(C.M_MMAP_THRESHOLD, C.int(threshold))
		}
	})
}

// mallocInfo is glibc's account of the memory it manages (every arena).
type mallocInfo struct {
	arena   uint64 // bytes obtained from the system for the arenas (brk and arena heaps)
	mmapped uint64 // bytes in blocks mapped on their own
	used    uint64 // bytes in use inside the arenas
	free    uint64 // bytes free inside the arenas
}

func mallocStats() mallocInfo {
	var arena, mmapped, used, free C.size_t
	C.tc_mallinfo(&arena, &mmapped, &used, &free)
	return mallocInfo{uint64(arena), uint64(mmapped), uint64(used), uint64(free)}
}

// trimMalloc hands the free pages inside glibc's arenas back to the system.
func trimMalloc() { C.malloc_trim(0) }

// mallocTrimmer returns free arena pages to the system at most once per
// interval: freed memory stays resident in the arena it came from until
// then (glibc trims only the top of an arena by itself), and after a varied
// mix most of an arena is free holes between blocks still in use.
type mallocTrimmer struct {
	interval time.Duration
	mu       sync.Mutex
	last     time.Time
	trims    int64
	spent    time.Duration
}

// maybe trims when the interval has passed since the last trim.
func (m *mallocTrimmer) maybe() {
	m.mu.Lock()
	if m.interval <= 0 || time.Since(m.last) < m.interval {
		m.mu.Unlock()
		return
	}
	m.last = time.Now()
	m.mu.Unlock()
	start := time.Now()
	trimMalloc()
	m.mu.Lock()
	m.trims++
	m.spent += time.Since(start)
	m.mu.Unlock()
}

func (m *mallocTrimmer) stats() (int64, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.trims, m.spent
}

// vipsTrackedBytes is what libvips' own allocator has handed out for pixel
// buffers and holds now.
func vipsTrackedBytes() uint64 { return uint64(C.vips_tracked_get_mem()) }

// vipsTrackedHighwater is the most it held at once.
func vipsTrackedHighwater() uint64 { return uint64(C.vips_tracked_get_mem_highwater()) }
