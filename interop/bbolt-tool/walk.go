package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// census counts what the bucket trees of a file hold. The field names are
// part of info's output and equal the census of `rivet pages --json`.
type census struct {
	Buckets       int `json:"buckets"`        // the root bucket included
	InlineBuckets int `json:"inline_buckets"` // buckets stored in their parent's leaf
	Keys          int `json:"keys"`           // plain key/value pairs, inline buckets' included
	BranchPages   int `json:"branch_pages"`   // first pages of branch nodes
	LeafPages     int `json:"leaf_pages"`     // first pages of leaf nodes
	OverflowPages int `json:"overflow_pages"` // continuation pages of branch and leaf nodes
	MaxTreeDepth  int `json:"max_tree_depth"` // levels of the deepest page tree
}

// layoutCheck walks a file's bytes from the active meta: the freelist and every
// bucket tree. It records who uses each page, counts the census, and collects
// what Go bbolt would trip over later even when tx.Check is content.
type layoutCheck struct {
	img    *fileImage
	hwm    uint64
	user   map[uint64]string // page id -> what occupies it
	counts census
	errs   []string
	warns  []string
}

// One bucket's tree while it is being walked.
type tree struct {
	name      string // hex path of bucket names, "/" for the root bucket
	nesting   int    // how many buckets enclose it
	lastKey   []byte // the previous key met in key order
	leafLevel int    // level of the first leaf met, -1 before
}

const maxReports = 200

func (c *layoutCheck) fail(format string, a ...interface{}) {
	if len(c.errs) < maxReports {
		c.errs = append(c.errs, "raw: "+fmt.Sprintf(format, a...))
	}
}

func (c *layoutCheck) warn(format string, a ...interface{}) {
	if len(c.warns) < maxReports {
		c.warns = append(c.warns, "raw: "+fmt.Sprintf(format, a...))
	}
}

// take records that pages [id, id+n) belong to who; a page taken twice is an error.
func (c *layoutCheck) take(id, n uint64, who string) {
	for p := id; p < id+n; p++ {
		if before, dup := c.user[p]; dup {
			c.fail("page %d belongs to both %s and %s", p, before, who)
			continue
		}
		c.user[p] = who
	}
}

// inspect runs every check on img. The results stay in the returned value.
func inspect(img *fileImage) *layoutCheck {
	m := img.meta()
	c := &layoutCheck{img: img, hwm: m.HWM, user: map[uint64]string{}}
	ps := img.pageSize

	if len(img.bytes) < 4096 {
		c.fail("the file has %d bytes; bbolt reads 4096 to find meta 0 and refuses shorter files", len(img.bytes))
	}
	for i, mm := range img.metas {
		if !mm.Valid {
			c.warn("meta page %d is not valid (%s); bbolt uses meta page %d", i, mm.Problem, 1-i)
			continue
		}
		if mm.HeaderID != uint64(i) || mm.HeaderFlags != pgMeta {
			c.fail("meta page %d has header id %d and flags 0x%02x", i, mm.HeaderID, mm.HeaderFlags)
		}
		if int(mm.PageSize) != ps {
			c.fail("meta page %d gives page size %d, but the file uses %d", i, mm.PageSize, ps)
		}
		if mm.Checksum == 0 {
			c.warn("meta page %d has checksum 0, which bbolt does not verify", i)
		}
		if mm.TxID%2 != uint64(i) {
			c.warn("meta page %d holds txid %d; commits put even txids in page 0 and odd in page 1", i, mm.TxID)
		}
	}
	if m.Flags != 0 {
		c.warn("the active meta's flags are 0x%x; bbolt writes 0", m.Flags)
	}
	if need := m.HWM * uint64(ps); uint64(len(img.bytes)) < need {
		c.fail("the high-water mark %d needs %d bytes; the file has %d", m.HWM, need, len(img.bytes))
	}
	c.take(0, 2, "the meta pages")

	free := c.checkFreelist()

	if m.Root < 2 || m.Root >= m.HWM {
		c.fail("the root bucket's page %d is not in 2..%d", m.Root, m.HWM-1)
	} else {
		c.walkBucket(m.Root, "/", 0)
	}

	// With a stored freelist every page below the high-water mark is either
	// in use or free; without one, free pages are simply the unused ones.
	if free != nil {
		for p := uint64(2); p < m.HWM; p++ {
			who, used := c.user[p]
			switch {
			case used && free[p]:
				c.fail("page %d is on the freelist but used by %s", p, who)
			case !used && !free[p]:
				c.fail("page %d is neither used nor on the freelist", p)
			}
		}
	}
	return c
}

// checkFreelist validates the stored freelist and returns its ids as a set
// (nil when the file stores none).
func (c *layoutCheck) checkFreelist() map[uint64]bool {
	m := c.img.meta()
	if m.Freelist == noFreelist {
		return nil
	}
	if m.Freelist < 2 || m.Freelist >= m.HWM {
		c.fail("the freelist page %d is not in 2..%d", m.Freelist, m.HWM-1)
		return nil
	}
	fl, err := c.img.freelist()
	if err != nil {
		c.fail("%v", err)
		return nil
	}
	if pg, err := c.img.pageSpan(m.Freelist); err == nil && le.Uint64(pg) != m.Freelist {
		c.fail("the freelist page %d calls itself page %d", m.Freelist, le.Uint64(pg))
	}
	if m.Freelist+uint64(fl.span) > m.HWM {
		c.fail("the freelist's %d pages from page %d cross the high-water mark %d", fl.span, m.Freelist, m.HWM)
	}
	c.take(m.Freelist, uint64(fl.span), "the freelist")
	set := make(map[uint64]bool, len(fl.ids))
	for i, id := range fl.ids {
		if id < 2 || id >= m.HWM {
			c.fail("the freelist lists page %d, outside 2..%d", id, m.HWM-1)
		}
		if set[id] {
			c.fail("the freelist lists page %d twice", id)
		}
		if i > 0 && fl.ids[i-1] > id {
			c.warn("the freelist is not sorted at slot %d (%d before %d)", i, fl.ids[i-1], id)
		}
		set[id] = true
	}
	return set
}

func (c *layoutCheck) walkBucket(root uint64, name string, nesting int) {
	if nesting > 64 {
		c.fail("bucket %s is nested more than 64 deep (a cycle?)", name)
		return
	}
	c.counts.Buckets++
	t := &tree{name: name, nesting: nesting, leafLevel: -1}
	c.walkNode(root, 0, t)
}

// walkNode checks page id (a node of tree t at the given level) and everything
// below it, and returns the node's first key.
func (c *layoutCheck) walkNode(id uint64, level int, t *tree) []byte {
	if level > 64 {
		c.fail("bucket %s: more than 64 levels (a cycle?)", t.name)
		return nil
	}
	if id < 2 || id >= c.hwm {
		c.fail("bucket %s: child page %d is not in 2..%d", t.name, id, c.hwm-1)
		return nil
	}
	if who, seen := c.user[id]; seen {
		c.fail("bucket %s: page %d is already used by %s", t.name, id, who)
		return nil
	}
	pg, err := c.img.pageSpan(id)
	if err != nil {
		c.fail("bucket %s: %v", t.name, err)
		return nil
	}
	span := uint64(len(pg) / c.img.pageSize)
	if id+span > c.hwm {
		c.fail("bucket %s: page %d and its %d overflow pages cross the high-water mark %d", t.name, id, span-1, c.hwm)
	}
	c.take(id, span, "bucket "+t.name)
	c.counts.OverflowPages += int(span - 1)
	if level+1 > c.counts.MaxTreeDepth {
		c.counts.MaxTreeDepth = level + 1
	}
	if hid := le.Uint64(pg); hid != id {
		c.fail("bucket %s: page %d calls itself page %d", t.name, id, hid)
	}
	flags, n := le.Uint16(pg[8:]), int(le.Uint16(pg[10:]))
	switch flags {
	case pgBranch:
		c.counts.BranchPages++
		return c.walkBranch(pg, id, n, level, t)
	case pgLeaf:
		c.counts.LeafPages++
		if t.leafLevel < 0 {
			t.leafLevel = level
		} else if t.leafLevel != level {
			c.warn("bucket %s: leaves on levels %d and %d", t.name, t.leafLevel, level)
		}
		if n == 0 && level > 0 {
			c.warn("bucket %s: leaf page %d below a branch is empty", t.name, id)
		}
		return c.walkLeaf(pg, fmt.Sprintf("leaf page %d", id), n, t, false)
	default:
		c.fail("bucket %s: page %d has flags 0x%02x where a branch or leaf belongs", t.name, id, flags)
		return nil
	}
}

func (c *layoutCheck) walkBranch(pg []byte, id uint64, n, level int, t *tree) []byte {
	if n == 0 {
		c.fail("bucket %s: branch page %d is empty", t.name, id)
		return nil
	}
	if hdrSize+n*elemSize > len(pg) {
		c.fail("bucket %s: branch page %d cannot hold %d elements", t.name, id, n)
		return nil
	}
	var first, prev []byte
	for i := 0; i < n; i++ {
		at := hdrSize + i*elemSize
		pos, ksz := int(le.Uint32(pg[at:])), int(le.Uint32(pg[at+4:]))
		child := le.Uint64(pg[at+8:])
		if pos < 0 || ksz < 0 || at+pos+ksz > len(pg) {
			c.fail("bucket %s: branch page %d element %d points past the page", t.name, id, i)
			return first
		}
		key := pg[at+pos : at+pos+ksz]
		if ksz == 0 {
			c.fail("bucket %s: branch page %d element %d has no key", t.name, id, i)
		}
		if i == 0 {
			first = key
		} else if bytes.Compare(prev, key) >= 0 {
			c.fail("bucket %s: branch page %d element %d is not above element %d", t.name, id, i, i-1)
		}
		prev = key
		// bbolt finds a child's entry in its parent by the child's first
		// key, so the two must be equal.
		if got := c.walkNode(child, level+1, t); got != nil && !bytes.Equal(got, key) {
			c.fail("bucket %s: branch page %d element %d says %s but child page %d starts with %s",
				t.name, id, i, shortHex(key), child, shortHex(got))
		}
	}
	return first
}

// walkLeaf checks the elements of a leaf page or of an inline bucket's image
// and walks the buckets they hold.
func (c *layoutCheck) walkLeaf(pg []byte, where string, n int, t *tree, inline bool) []byte {
	if hdrSize+n*elemSize > len(pg) {
		c.fail("bucket %s: %s cannot hold %d elements", t.name, where, n)
		return nil
	}
	var first []byte
	for i := 0; i < n; i++ {
		at := hdrSize + i*elemSize
		flags := le.Uint32(pg[at:])
		pos, ksz, vsz := int(le.Uint32(pg[at+4:])), int(le.Uint32(pg[at+8:])), int(le.Uint32(pg[at+12:]))
		if pos < 0 || ksz < 0 || vsz < 0 || at+pos+ksz+vsz > len(pg) {
			c.fail("bucket %s: %s element %d points past the page", t.name, where, i)
			return first
		}
		key := pg[at+pos : at+pos+ksz]
		val := pg[at+pos+ksz : at+pos+ksz+vsz]
		if i == 0 {
			first = key
		}
		if ksz == 0 {
			c.fail("bucket %s: %s element %d has no key", t.name, where, i)
		}
		if t.lastKey != nil && bytes.Compare(t.lastKey, key) >= 0 {
			c.fail("bucket %s: %s element %d (%s) does not sort after %s", t.name, where, i, shortHex(key), shortHex(t.lastKey))
		}
		t.lastKey = append(t.lastKey[:0], key...)
		if flags&^elemIsBucket != 0 {
			c.warn("bucket %s: %s element %d has unknown flags 0x%x", t.name, where, i, flags)
		}
		if flags&elemIsBucket == 0 {
			c.counts.Keys++
			if ksz > maxKeyLen {
				c.warn("bucket %s: a key of %d bytes is longer than bbolt allows", t.name, ksz)
			}
			continue
		}
		child := t.name + hex.EncodeToString(clip(key)) + "/"
		if inline {
			c.fail("bucket %s: inline bucket holds bucket %s, which bbolt never writes", t.name, child)
			continue
		}
		if vsz < bucketHdrSize {
			c.fail("bucket %s: its header has %d bytes, not %d", child, vsz, bucketHdrSize)
			continue
		}
		if root := le.Uint64(val); root != 0 {
			if vsz != bucketHdrSize {
				c.warn("bucket %s: a paged bucket's value has %d bytes; bbolt writes %d", child, vsz, bucketHdrSize)
			}
			c.walkBucket(root, child, t.nesting+1)
			continue
		}
		c.walkInline(val[bucketHdrSize:], child, t.nesting+1)
	}
	return first
}

func (c *layoutCheck) walkInline(image []byte, name string, nesting int) {
	c.counts.Buckets++
	c.counts.InlineBuckets++
	if len(image) < hdrSize {
		c.fail("bucket %s: the inline image has no page header", name)
		return
	}
	if f := le.Uint16(image[8:]); f != pgLeaf {
		c.fail("bucket %s: the inline image has flags 0x%02x, not a leaf", name, f)
		return
	}
	if le.Uint64(image) != 0 || le.Uint32(image[12:]) != 0 {
		c.warn("bucket %s: the inline image's page id or overflow is not 0", name)
	}
	if limit := c.img.pageSize/4 + hdrSize; len(image) > limit {
		c.warn("bucket %s: %d inline bytes, more than bbolt inlines (page size / 4)", name, len(image))
	}
	t := &tree{name: name, nesting: nesting, leafLevel: 0}
	c.walkLeaf(image, "inline image", int(le.Uint16(image[10:])), t, true)
}

// clip shortens long keys in messages and bucket paths.
func clip(b []byte) []byte {
	if len(b) > 20 {
		return b[:20]
	}
	return b
}

func shortHex(b []byte) string {
	if len(b) > 20 {
		return hex.EncodeToString(b[:20]) + "..."
	}
	return hex.EncodeToString(b)
}
