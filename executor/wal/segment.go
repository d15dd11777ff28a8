package wal

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// On-disk format.
//
// A log is a directory of segment files named by the LSN of their first
// record, zero-padded to 20 digits: 00000000000000000001.wal. A segment is
// a sequence of frames:
//
//	[u32 LE payload length][u32 LE CRC-32C][u8 kind][u64 LE lsn][payload]
//
// The CRC (Castagnoli) covers kind, lsn and payload. A frame is valid only
// if it is wholly present, its CRC matches and its LSN is the next one
// expected (the segment's name for its first frame). Consecutive segments
// continue each other's LSNs without a gap.
//
// Void frames: when a write or fsync fails, the LSNs handed out for the
// failed records are never reused (a late Sync of one of them must keep
// failing). Before the next record, the log writes one void frame that
// covers them: kind 0, lsn = first failed LSN, an 8-byte payload holding
// the last failed LSN, and the bitwise complement of the CRC in place of
// the CRC. Replay skips it; the next expected LSN is the last failed + 1.

const (
	headerSize  = 17      // length, crc, kind, lsn
	maxPayload  = 1 << 30 // largest payload Append accepts
	segmentExt  = ".wal"
	segNameLen  = 20 + len(segmentExt)
	voidPayload = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// frameCRC is the CRC-32C of kind, lsn and payload; hdr is the 17-byte
// frame header with kind and lsn already filled in.
func frameCRC(hdr []byte, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[8:headerSize])
	return crc32.Update(c, castagnoli, payload)
}

// appendFrame encodes one record frame onto buf.
func appendFrame(buf []byte, kind byte, lsn LSN, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, headerSize)...)
	buf = append(buf, payload...)
	hdr := buf[start : start+headerSize]
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	hdr[8] = kind
	binary.LittleEndian.PutUint64(hdr[9:17], uint64(lsn))
	binary.LittleEndian.PutUint32(hdr[4:8], frameCRC(hdr, payload))
	return buf
}

// voidFrame encodes a void frame covering LSNs lo..hi.
func voidFrame(lo, hi LSN) []byte {
	var p [voidPayload]byte
	binary.LittleEndian.PutUint64(p[:], uint64(hi))
	buf := appendFrame(make([]byte, 0, headerSize+voidPayload), 0, lo, p[:])
	binary.LittleEndian.PutUint32(buf[4:8], ^binary.LittleEndian.Uint32(buf[4:8]))
	return buf
}

// segment is one segment file.
type segment struct {
	first LSN // LSN of its first frame (its name)
	path  string
}

func segmentName(first LSN) string {
	return fmt.Sprintf("%020d%s", uint64(first), segmentExt)
}

// listSegments returns the segment files of dir in LSN order. Other files
// are ignored.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: list %s: %w", dir, err)
	}
	var segs []segment
	for _, e := range ents {
		name := e.Name()
		if len(name) != segNameLen || !strings.HasSuffix(name, segmentExt) || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil {
			continue
		}
		if n == 0 {
			return nil, fmt.Errorf("wal: segment %s: LSN 0 is not a valid first LSN", filepath.Join(dir, name))
		}
		segs = append(segs, segment{first: LSN(n), path: filepath.Join(dir, name)})
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	return segs, nil
}

// scanResult describes how far a segment is valid.
type scanResult struct {
	end  int64  // offset just past the last valid frame
	next LSN    // LSN expected after the last valid frame
	bad  string // why the frame at end is invalid; "" if the file ends cleanly there
}

// scanSegment reads the segment at path, whose first frame must carry LSN
// first, and calls fn for every valid record (void frames are skipped). It
// stops at the first invalid frame (reported in bad), at the end of the
// file, once the next expected LSN exceeds stop (if stop > 0), or when fn
// returns an error, which it returns. The payload passed to fn is reused
// after fn returns.
func scanSegment(path string, first, stop LSN, fn func(lsn LSN, kind byte, payload []byte) error) (scanResult, error) {
	res := scanResult{next: first}
	f, err := os.Open(path)
	if err != nil {
		return res, fmt.Errorf("wal: open segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return res, fmt.Errorf("wal: stat segment: %w", err)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, 256<<10)
	var hdr [headerSize]byte
	var payload []byte
	for {
		if stop > 0 && res.next > stop {
			return res, nil
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			switch err {
			case io.EOF:
				return res, nil
			case io.ErrUnexpectedEOF:
				res.bad = "partial frame header"
				return res, nil
			}
			return res, fmt.Errorf("wal: read %s at offset %d: %w", path, res.end, err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		if n > maxPayload || res.end+headerSize+n > size {
			res.bad = fmt.Sprintf("frame of %d payload bytes runs past the end of the file (%d bytes)", n, size)
			return res, nil
		}
		if int64(cap(payload)) < n {
			payload = make([]byte, n)
		}
		payload = payload[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				res.bad = "partial frame payload"
				return res, nil
			}
			return res, fmt.Errorf("wal: read %s at offset %d: %w", path, res.end, err)
		}
		stored := binary.LittleEndian.Uint32(hdr[4:8])
		kind := hdr[8]
		lsn := LSN(binary.LittleEndian.Uint64(hdr[9:17]))
		crc := frameCRC(hdr[:], payload)
		void := false
		switch {
		case stored == crc:
		case stored == ^crc && kind == 0 && n == voidPayload:
			void = true
		default:
			res.bad = fmt.Sprintf("CRC mismatch (stored %08x, computed %08x)", stored, crc)
			return res, nil
		}
		if lsn != res.next {
			res.bad = fmt.Sprintf("frame has LSN %d, expected %d", lsn, res.next)
			return res, nil
		}
		if void {
			hi := LSN(binary.LittleEndian.Uint64(payload))
			if hi < lsn {
				res.bad = fmt.Sprintf("void frame at LSN %d ends before it starts (%d)", lsn, hi)
				return res, nil
			}
			res.next = hi + 1
		} else {
			if fn != nil {
				if err := fn(lsn, kind, payload); err != nil {
					return res, err
				}
			}
			res.next = lsn + 1
		}
		res.end += headerSize + n
	}
}

// syncDir fsyncs a directory so that file creations and removals in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("wal: open directory %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wal: sync directory %s: %w", dir, err)
	}
	return nil
}
