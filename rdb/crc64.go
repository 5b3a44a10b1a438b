package rdb

import "encoding/binary"

// crcPoly is the Jones polynomial (0xAD93D23594C935A9) in reflected form,
// the one Redis's crc64.c uses for RDB trailers and cluster DUMP payloads.
const crcPoly = 0x95AC9329AC4BC9B5

// crcTables are slicing-by-8 tables: crcTables[0] is the byte-at-a-time
// table, crcTables[k][b] is the CRC of byte b followed by k zero bytes.
// hash/crc64 could compute the same function, but for a custom polynomial it
// rebuilds its 16 KiB slicing table on every large Update call, which would
// dominate the cost of checksumming 64 KiB buffers; these are built once.
var crcTables = makeCRCTables()

func makeCRCTables() *[8][256]uint64 {
	t := new([8][256]uint64)
	for i := range 256 {
		c := uint64(i)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ crcPoly
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for i := range 256 {
		c := t[0][i]
		for k := 1; k < 8; k++ {
			c = t[0][byte(c)] ^ c>>8
			t[k][i] = c
		}
	}
	return t
}

// CRC64 extends crc with p using Redis's CRC-64 (Jones polynomial,
// reflected, initial value 0, no final xor), so CRC64(0, file[:len-8]) is
// the trailer Redis writes after the EOF opcode. CRC64(0, "123456789") is
// 0xe9c6d914c4b8d9ca.
func CRC64(crc uint64, p []byte) uint64 {
	t := crcTables
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][byte(crc)] ^ t[6][byte(crc>>8)] ^ t[5][byte(crc>>16)] ^
			t[4][byte(crc>>24)] ^ t[3][byte(crc>>32)] ^ t[2][byte(crc>>40)] ^
			t[1][byte(crc>>48)] ^ t[0][byte(crc>>56)]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}
