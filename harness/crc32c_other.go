//go:build !amd64 || purego

package harness

// crc32cFoldOK is false where there is no folding kernel: crc32cUpdate
// is hash/crc32's own.
const crc32cFoldOK = false

// crc32cFold is never called here (crc32cFoldOK is false).
func crc32cFold(uint32, []byte) uint32 { panic("harness: no CRC-32C folding kernel on this platform") }
