//go:build amd64 && !purego

package harness

import "golang.org/x/sys/cpu"

// crc32cFoldOK says this CPU, and its OS for the ZMM state, can run
// crc32cFold512: AVX-512 with VPCLMULQDQ, and SSE 4.2 for the CRC32
// instruction that finishes it.
var crc32cFoldOK = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VPCLMULQDQ && cpu.X86.HasSSE42

// crc32cFold512 is crc32.Update with the Castagnoli table, for len(p) a
// positive multiple of crc32cFoldUnit (crc32c_amd64.s).
//
//go:noescape
func crc32cFold512(crc uint32, p []byte, k *crc32cFoldKeys) uint32

// crc32cFold is crc32cFold512 with this package's keys.
func crc32cFold(crc uint32, p []byte) uint32 { return crc32cFold512(crc, p, &crc32cKeys) }
