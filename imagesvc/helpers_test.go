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

// photoTIFF renders a built-in-style photo as an uncompressed baseline TIFF
// written by hand, independent of libvips: the tests' source of TIFF headers
// to tamper with.
func photoTIFF(w, h int, seed uint64) []byte {
	const hdr = 8
	const nEntries = 10
	ifdSize := 2 + nEntries*12 + 4
	bpsOff := hdr + ifdSize
	pixOff := bpsOff + 6 + 2 // 3 shorts, padded to an even offset
	size := pixOff + w*h*3
	buf := make([]byte, size)
	le := binary.LittleEndian
	copy(buf, "II*\x00")
	le.PutUint32(buf[4:], hdr)
	p := hdr
	le.PutUint16(buf[p:], nEntries)
	p += 2
	entry := func(tag, typ uint16, count, value uint32) {
		le.PutUint16(buf[p:], tag)
		le.PutUint16(buf[p+2:], typ)
		le.PutUint32(buf[p+4:], count)
		if typ == 3 && count == 1 {
			le.PutUint16(buf[p+8:], uint16(value))
		} else {
			le.PutUint32(buf[p+8:], value)
		}
		p += 12
	}
	const short, long = 3, 4
	entry(256, long, 1, uint32(w))       // ImageWidth
	entry(257, long, 1, uint32(h))       // ImageLength
	entry(258, short, 3, uint32(bpsOff)) // BitsPerSample -> 8,8,8
	entry(259, short, 1, 1)              // Compression: none
	entry(262, short, 1, 2)              // Photometric: RGB
	entry(273, long, 1, uint32(pixOff))  // StripOffsets
	entry(277, short, 1, 3)              // SamplesPerPixel
	entry(278, long, 1, uint32(h))       // RowsPerStrip
	entry(279, long, 1, uint32(w*h*3))   // StripByteCounts
	entry(284, short, 1, 1)              // PlanarConfiguration: chunky
	le.PutUint32(buf[p:], 0)             // no next IFD
	for i := 0; i < 3; i++ {
		le.PutUint16(buf[bpsOff+2*i:], 8)
	}
	fillPhoto(buf[pixOff:], w, h, seed)
	return buf
}
