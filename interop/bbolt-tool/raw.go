package main

// This file reads a database file's bytes without the bbolt package, following
// the on-disk layout of format version 2 (little-endian, as bbolt writes it on
// amd64 and arm64). check and info use it to see what bbolt's API hides: both
// meta pages, the stored freelist, page headers, inline bucket images.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// Page header: id u64, flags u16, count u16, overflow u32.
const (
	hdrSize = 16

	pgBranch   = 0x01
	pgLeaf     = 0x02
	pgMeta     = 0x04
	pgFreelist = 0x10

	// Leaf element: flags u32, pos u32, ksize u32, vsize u32.
	// Branch element: pos u32, ksize u32, child pgid u64.
	elemSize = 16

	elemIsBucket = 0x01

	// A bucket's value starts with root pgid u64 and sequence u64; an inline
	// bucket (root 0) continues with the image of its single leaf page.
	bucketHdrSize = 16

	bboltMagic   = 0xED0CDAED
	bboltVersion = 2
	noFreelist   = ^uint64(0)
	maxKeyLen    = 32768

	// The meta body is 64 bytes; its checksum covers the first 56.
	metaBodySize = 64
	metaSumSpan  = 56
)

var le = binary.LittleEndian

// metaInfo is one meta page as stored, plus whether bbolt would accept it.
// The JSON names are part of info's output (the CLI tests read them).
type metaInfo struct {
	HeaderID    uint64 `json:"page_header_id"`
	HeaderFlags uint16 `json:"page_header_flags"`
	Magic       uint32 `json:"magic"`
	Version     uint32 `json:"version"`
	PageSize    uint32 `json:"page_size"`
	Flags       uint32 `json:"flags"`
	Root        uint64 `json:"root_pgid"`
	RootSeq     uint64 `json:"root_sequence"`
	Freelist    uint64 `json:"freelist_pgid"`
	HWM         uint64 `json:"pgid_high_water_mark"`
	TxID        uint64 `json:"txid"`
	Checksum    uint64 `json:"checksum"`
	Computed    uint64 `json:"computed_checksum"`
	Valid       bool   `json:"valid"`
	Problem     string `json:"problem,omitempty"`
}

// readMeta decodes the meta page at the start of b. Validity follows bbolt
// 1.3.6: magic, then version, then the checksum, where a stored checksum of 0
// is accepted unverified.
func readMeta(b []byte) metaInfo {
	var m metaInfo
	if len(b) < hdrSize+metaBodySize {
		m.Problem = "cut short"
		return m
	}
	m.HeaderID = le.Uint64(b)
	m.HeaderFlags = le.Uint16(b[8:])
	body := b[hdrSize : hdrSize+metaBodySize]
	m.Magic = le.Uint32(body)
	m.Version = le.Uint32(body[4:])
	m.PageSize = le.Uint32(body[8:])
	m.Flags = le.Uint32(body[12:])
	m.Root = le.Uint64(body[16:])
	m.RootSeq = le.Uint64(body[24:])
	m.Freelist = le.Uint64(body[32:])
	m.HWM = le.Uint64(body[40:])
	m.TxID = le.Uint64(body[48:])
	m.Checksum = le.Uint64(body[56:])
	h := fnv.New64a()
	h.Write(body[:metaSumSpan])
	m.Computed = h.Sum64()
	if m.Magic != bboltMagic {
		m.Problem = "bad magic"
	} else if m.Version != bboltVersion {
		m.Problem = "bad version"
	} else if m.Checksum != 0 && m.Checksum != m.Computed {
		m.Problem = "bad checksum"
	} else {
		m.Valid = true
	}
	return m
}

// fileImage is a whole database file in memory with its metas decoded.
type fileImage struct {
	bytes    []byte
	pageSize int
	metas    [2]metaInfo
	active   int // the meta bbolt would use: the valid one with the higher txid
}

func loadImage(path string) (*fileImage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < hdrSize+metaBodySize {
		return nil, fmt.Errorf("%d bytes is too short for a bbolt file", len(b))
	}
	img := &fileImage{bytes: b}
	img.metas[0] = readMeta(b)
	if img.metas[0].Valid {
		img.pageSize = int(img.metas[0].PageSize)
	} else {
		// Meta 0 holds the page size; without it, try the sizes bbolt can use
		// and take the one where a valid meta 1 names itself.
		for ps := 1024; ps <= 65536; ps *= 2 {
			if ps+hdrSize+metaBodySize <= len(b) {
				if m := readMeta(b[ps:]); m.Valid && int(m.PageSize) == ps {
					img.pageSize = ps
					break
				}
			}
		}
	}
	if img.pageSize < hdrSize+metaBodySize || img.pageSize&(img.pageSize-1) != 0 {
		return nil, fmt.Errorf("no usable page size (meta 0: %s)", img.metas[0].Problem)
	}
	if len(b) >= 2*img.pageSize {
		img.metas[1] = readMeta(b[img.pageSize:])
	} else {
		img.metas[1].Problem = "the file ends before page 1"
	}
	m0, m1 := img.metas[0], img.metas[1]
	switch {
	case m0.Valid && m1.Valid && m1.TxID > m0.TxID, !m0.Valid && m1.Valid:
		img.active = 1
	case m0.Valid:
		img.active = 0
	default:
		return nil, errors.New("neither meta page is valid")
	}
	return img, nil
}

func (img *fileImage) meta() metaInfo { return img.metas[img.active] }

// pageCount is the number of whole pages in the file.
func (img *fileImage) pageCount() uint64 { return uint64(len(img.bytes) / img.pageSize) }

// pageSpan returns page id together with its overflow pages.
func (img *fileImage) pageSpan(id uint64) ([]byte, error) {
	if id >= img.pageCount() {
		return nil, fmt.Errorf("page %d is past the end of the file (%d pages)", id, img.pageCount())
	}
	start := id * uint64(img.pageSize)
	overflow := uint64(le.Uint32(img.bytes[start+12:]))
	end := start + (overflow+1)*uint64(img.pageSize)
	if end > uint64(len(img.bytes)) {
		return nil, fmt.Errorf("page %d and its %d overflow pages run past the end of the file", id, overflow)
	}
	return img.bytes[start:end], nil
}

// storedFreelist is the freelist page of the active meta, decoded.
type storedFreelist struct {
	synced       bool     // false when the meta says 0xFFFF... (NoFreelistSync)
	ids          []uint64 // as stored
	overflowForm bool     // count 0xFFFF in the header, the real count in the first slot
	span         int      // pages the freelist occupies
}

func (img *fileImage) freelist() (storedFreelist, error) {
	var fl storedFreelist
	at := img.meta().Freelist
	if at == noFreelist {
		return fl, nil
	}
	fl.synced = true
	pg, err := img.pageSpan(at)
	if err != nil {
		return fl, err
	}
	fl.span = len(pg) / img.pageSize
	if f := le.Uint16(pg[8:]); f&pgFreelist == 0 {
		return fl, fmt.Errorf("freelist page %d has flags 0x%02x", at, f)
	}
	n := uint64(le.Uint16(pg[10:]))
	slots := pg[hdrSize:]
	if n == 0xFFFF {
		fl.overflowForm = true
		n = le.Uint64(slots)
		slots = slots[8:]
	}
	if n > uint64(len(slots))/8 {
		return fl, fmt.Errorf("freelist page %d claims %d ids but its %d pages hold at most %d", at, n, fl.span, len(slots)/8)
	}
	fl.ids = make([]uint64, n)
	for i := range fl.ids {
		fl.ids[i] = le.Uint64(slots[8*i:])
	}
	return fl, nil
}
