package aof

import (
	"fmt"
	"strings"
)

// FsyncPolicy is Redis's appendfsync setting: when the AOF is flushed from
// the operating system's page cache to the disk.
type FsyncPolicy int

const (
	// EverySec writes appended data promptly and fsyncs it about once per
	// second in the background (Redis's default).
	EverySec FsyncPolicy = iota
	// Always fsyncs every batch of appended data before WaitSynced returns
	// for it; concurrent clients share one fsync (group commit).
	Always
	// No writes appended data promptly and leaves flushing to the
	// operating system (the AOF is still fsynced on Close and on file
	// switches).
	No
)

// ParseFsync parses an appendfsync value ("always", "everysec" or "no",
// case-insensitive, as Redis's CONFIG does).
func ParseFsync(s string) (FsyncPolicy, error) {
	switch strings.ToLower(s) {
	case "always":
		return Always, nil
	case "everysec":
		return EverySec, nil
	case "no":
		return No, nil
	}
	return 0, fmt.Errorf("aof: invalid appendfsync policy %q (want always, everysec or no)", s)
}

// String returns the policy's appendfsync name.
func (p FsyncPolicy) String() string {
	switch p {
	case Always:
		return "always"
	case EverySec:
		return "everysec"
	case No:
		return "no"
	}
	return fmt.Sprintf("FsyncPolicy(%d)", int(p))
}
