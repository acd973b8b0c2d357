//go:build amd64 && !purego

#include "textflag.h"

// func crc32cFold512(crc uint32, p []byte, k *crc32cFoldKeys) uint32
//
// CRC-32C by folding (the carry-less-multiplication method for reflected
// CRCs). Four ZMM registers hold 256 bytes as sixteen 128-bit lanes. Each
// step carries every lane 256 bytes forward (two carry-less products: its
// low half times k.by256[0], its high half times k.by256[1]) and XORs in
// the lane 256 bytes further on: the result has the same remainder modulo
// the polynomial as everything read so far. At the end the lanes fold onto
// the last one (by 128 bytes, 64 bytes, then 48, 32 and 16), and two CRC32Q
// instructions give that lane's CRC, which is the input's. Four
// independent registers keep VPCLMULQDQ's pipeline full; one register
// would wait on its own latency every step.
TEXT ·crc32cFold512(SB), NOSPLIT, $0-44
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX
	MOVQ k+32(FP), DI

	// The initial CRC (inverted, as hash/crc32 keeps it) goes into the
	// first four bytes: a reflected CRC register is linear in them.
	NOTL      AX
	VMOVDQU64 (SI), Z0
	VMOVDQU64 64(SI), Z1
	VMOVDQU64 128(SI), Z2
	VMOVDQU64 192(SI), Z3
	VPXORQ    Z4, Z4, Z4
	VMOVD     AX, X4
	VPXORQ    Z4, Z0, Z0
	ADDQ      $256, SI
	SUBQ      $256, CX
	JZ        reduce

	VBROADCASTI32X4 0(DI), Z5

	PCALIGN $32
loop:
	VPCLMULQDQ $0x00, Z5, Z0, Z6
	VPCLMULQDQ $0x11, Z5, Z0, Z0
	VPTERNLOGQ $0x96, (SI), Z6, Z0
	VPCLMULQDQ $0x00, Z5, Z1, Z7
	VPCLMULQDQ $0x11, Z5, Z1, Z1
	VPTERNLOGQ $0x96, 64(SI), Z7, Z1
	VPCLMULQDQ $0x00, Z5, Z2, Z8
	VPCLMULQDQ $0x11, Z5, Z2, Z2
	VPTERNLOGQ $0x96, 128(SI), Z8, Z2
	VPCLMULQDQ $0x00, Z5, Z3, Z9
	VPCLMULQDQ $0x11, Z5, Z3, Z3
	VPTERNLOGQ $0x96, 192(SI), Z9, Z3
	ADDQ       $256, SI
	SUBQ       $256, CX
	JNZ        loop

reduce:
	// Z0 onto Z2 and Z1 onto Z3 (128 bytes), then onto one ZMM (64 bytes).
	VBROADCASTI32X4 16(DI), Z5
	VPCLMULQDQ      $0x00, Z5, Z0, Z6
	VPCLMULQDQ      $0x11, Z5, Z0, Z0
	VPTERNLOGQ      $0x96, Z6, Z2, Z0
	VPCLMULQDQ      $0x00, Z5, Z1, Z7
	VPCLMULQDQ      $0x11, Z5, Z1, Z1
	VPTERNLOGQ      $0x96, Z7, Z3, Z1
	VBROADCASTI32X4 32(DI), Z5
	VPCLMULQDQ      $0x00, Z5, Z0, Z6
	VPCLMULQDQ      $0x11, Z5, Z0, Z0
	VPTERNLOGQ      $0x96, Z6, Z1, Z0

	// Lanes 0-2 forward by 48, 32 and 16 bytes onto lane 3 (whose keys
	// are zero: it stays as it is).
	VMOVDQU64      48(DI), Z5
	VPCLMULQDQ     $0x00, Z5, Z0, Z6
	VPCLMULQDQ     $0x11, Z5, Z0, Z7
	VPXORQ         Z6, Z7, Z6
	VEXTRACTI32X4  $3, Z0, X0
	VEXTRACTI32X4  $1, Z6, X1
	VEXTRACTI32X4  $2, Z6, X2
	VPTERNLOGQ     $0x96, X1, X6, X0
	VPXOR          X2, X0, X0

	// The 16 bytes left have the input's CRC.
	VMOVQ   X0, BX
	VPEXTRQ $1, X0, DX
	VZEROUPPER
	XORL    AX, AX
	CRC32Q  BX, AX
	CRC32Q  DX, AX
	NOTL    AX
	MOVL    AX, ret+40(FP)
	RET
