package aof

import (
	"encoding/binary"
	"hash/crc64"
)

// crcJones is the table of Redis's CRC-64 (the "Jones" polynomial
// 0xad93d23594c935a9, reflected, initial value 0, no final xor), given to
// hash/crc64 in its reversed-bit form.
var crcJones = crc64.MakeTable(0x95ac9329ac4bc9b5)

// redisCRC64 is Redis's crc64(0, p). hash/crc64 inverts the register
// before and after the update; starting from all ones and inverting the
// result gives the plain reflected CRC with initial value 0.
func redisCRC64(p []byte) uint64 {
	return ^crc64.Update(^uint64(0), crcJones, p)
}

// emptyRDB returns a minimal, valid RDB file of an empty data set: the
// "REDIS0010" header (Redis 7.0's RDB version), the EOF opcode and the
// little-endian CRC-64 checksum. Start writes it as the first base file when
// UseRDBPreamble is set, as Redis 7 does when it creates an AOF for an
// empty data set.
func emptyRDB() []byte {
	b := []byte("REDIS0010")
	b = append(b, 0xff) // RDB_OPCODE_EOF
	return binary.LittleEndian.AppendUint64(b, redisCRC64(b))
}
