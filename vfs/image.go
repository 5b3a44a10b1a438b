package vfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// A database image is the standard SQLite file: the concatenation of the
// pages in offset order (DESIGN rule 5). These helpers convert between an
// image and the hash fields a KeyStore keeps (field = decimal offset), for
// SQL.DUMP / SQL.RESTORE and the export-sql / import-sql tools.

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// ErrNotImage is returned for bytes that are not a usable SQLite image.
var ErrNotImage = errors.New("not a SQLite database image")

// Image assembles the database image from a hash's fields (each calls yield
// for every field and value). Pages missing between others (never written)
// are zeros, as in a file. It fails if a field is not a page offset, a page
// has the wrong size, or page 0 is not a SQLite header.
func Image(each func(yield func(field, val string) bool)) ([]byte, error) {
	type page struct {
		off  int64
		data string
	}
	var pages []page
	var err error
	each(func(f, v string) bool {
		off, perr := strconv.ParseInt(f, 10, 64)
		if perr != nil || off < 0 || strconv.FormatInt(off, 10) != f {
			err = fmt.Errorf("%w: field %q is not a page offset", ErrNotDatabase, truncate(f))
			return false
		}
		pages = append(pages, page{off, v})
		return true
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i].off < pages[j].off })
	if len(pages) == 0 || pages[0].off != 0 {
		return nil, fmt.Errorf("%w: no page at offset 0", ErrNotDatabase)
	}
	ps, err := PageSizeOf([]byte(pages[0].data[:min(len(pages[0].data), 100)]))
	if err != nil {
		return nil, err
	}
	if len(pages[0].data) != ps {
		return nil, fmt.Errorf("%w: page 0 is %d bytes, the header says %d", ErrNotDatabase, len(pages[0].data), ps)
	}
	last := pages[len(pages)-1].off
	img := make([]byte, last+int64(ps))
	for _, p := range pages {
		if len(p.data) != ps || p.off%int64(ps) != 0 {
			return nil, fmt.Errorf("%w: page at offset %d is %d bytes, not a %d-byte page", ErrNotDatabase, p.off, len(p.data), ps)
		}
		copy(img[p.off:], p.data)
	}
	return img, nil
}

// PageSizeOf validates a SQLite header (at least its first 100 bytes) and
// returns the page size it declares. A database in WAL mode is refused: the
// keyspace VFS keeps no WAL, so such an image must first be converted with
// PRAGMA journal_mode=DELETE.
func PageSizeOf(hdr []byte) (int, error) {
	if len(hdr) < 100 || string(hdr[:16]) != sqliteMagic {
		return 0, fmt.Errorf("%w: missing the \"SQLite format 3\" header", ErrNotImage)
	}
	ps := int(binary.BigEndian.Uint16(hdr[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return 0, fmt.Errorf("%w: invalid page size %d", ErrNotImage, ps)
	}
	if hdr[18] == 2 || hdr[19] == 2 {
		return 0, fmt.Errorf("%w: the database is in WAL mode; run PRAGMA journal_mode=DELETE on it first", ErrNotImage)
	}
	return ps, nil
}

// Pages splits an image into its pages: fn gets each page's field name
// (decimal offset) and bytes (a sub-slice of img). The image must be a
// whole number of pages of the size its header declares.
func Pages(img []byte, fn func(field string, page []byte)) (pageSize int, err error) {
	ps, err := PageSizeOf(img)
	if err != nil {
		return 0, err
	}
	if len(img)%ps != 0 {
		return 0, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte pages", ErrNotImage, len(img), ps)
	}
	for off := 0; off < len(img); off += ps {
		fn(strconv.Itoa(off), img[off:off+ps])
	}
	return ps, nil
}
