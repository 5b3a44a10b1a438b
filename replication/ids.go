package replication

import (
	"crypto/rand"
	"encoding/hex"
)

// NoID is the all-zero replication id Redis reports for "none"
// (master_replid2 of a server that was never promoted).
const NoID = "0000000000000000000000000000000000000000"

// NewID returns a fresh random 40-character replication id.
func NewID() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("replication: no randomness: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// IDs is a server's replication identity, as PSYNC2 defines it: the id of
// the history it holds, and the id of the history it held before its last
// change of master (a promotion), valid up to SecondOffset, so replicas of
// the old master can continue with it.
type IDs struct {
	ID  string
	ID2 string
	// SecondOffset is the first offset not covered by ID2 (Redis's
	// second_replid_offset); -1 when ID2 is NoID.
	SecondOffset int64
}

// NewIDs returns the identity of a server starting a new history.
func NewIDs() IDs { return IDs{ID: NewID(), ID2: NoID, SecondOffset: -1} }

// Shift starts a new history at offset (the current master_repl_offset),
// keeping the old id as ID2 valid up to it: Redis's shiftReplicationId,
// done when a replica is promoted or continues with a master whose id
// changed.
func (ids *IDs) Shift(offset int64) {
	ids.ID2 = ids.ID
	ids.SecondOffset = offset + 1
	ids.ID = NewID()
}

// ShiftTo is Shift to a given new id: a replica continuing with a master
// whose id changed (+CONTINUE <new id>) adopts that id.
func (ids *IDs) ShiftTo(id string, offset int64) {
	ids.ID2 = ids.ID
	ids.SecondOffset = offset + 1
	ids.ID = id
}

// ClearSecond forgets ID2 (after a full sync the old history is gone).
func (ids *IDs) ClearSecond() {
	ids.ID2 = NoID
	ids.SecondOffset = -1
}

// CanContinue decides a PSYNC request for history id from psyncOffset
// (the offset of the first byte the replica wants): the id must be ours,
// or our previous one with the offset inside the part we share, and the
// backlog must hold everything after it. It returns a reason when not.
func (ids *IDs) CanContinue(id string, psyncOffset int64, bl *Backlog) (bool, string) {
	switch {
	case id == ids.ID:
	case id == ids.ID2 && id != NoID:
		if psyncOffset > ids.SecondOffset {
			return false, "requested offset is beyond the previous history's end"
		}
	default:
		return false, "replication id mismatch"
	}
	if bl == nil {
		return false, "no backlog"
	}
	if !bl.Covers(psyncOffset - 1) {
		return false, "requested offset is outside the backlog"
	}
	return true, ""
}
