package imagesvc

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
)

func b64(sum [32]byte) string { return base64.StdEncoding.EncodeToString(sum[:]) }

// crc32cSum is the 4-byte big-endian Castagnoli CRC, computed independently of NewHash.
func crc32cSum(b []byte) []byte {
	var out [4]byte
	binary.BigEndian.PutUint32(out[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return out[:]
}
