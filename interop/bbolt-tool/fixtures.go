package main

// The fixture databases of tests/fixtures/bbolt, written by Go bbolt itself.
// Each is small but reaches the structure it is named for; the contents are
// drawn from fixed seeds, so regenerating gives the same dumps (the .db bytes
// may differ: bbolt spills sibling buckets in Go map order).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

type fixtureSpec struct {
	name  string
	about string
	make  func(path string) error
}

var fixtureSpecs = []fixtureSpec{
	{"empty", "a file bolt.Open created and nothing else: two metas (txid 0 and 1), an empty freelist, an empty root leaf", makeEmpty},
	{"empty_tx", "one empty read-write transaction committed: txid 2, the freelist moved, its old page free", makeEmptyTx},
	{"one_bucket", "one bucket, fruits, of five short keys, inline in the root leaf", makeOneBucket},
	{"nested3", "buckets three deep twice: a small chain with an inline innermost bucket, a large chain with pages at every level", makeNested3},
	{"inline_buckets", "66 buckets, 64 of them inline: empty, tiny, exactly page_size/4, one byte over, a parent of an inline child", makeInlineBuckets},
	{"seq_15k", "15,000 sequential 8-byte keys in ten transactions: a three-level tree (a root branch over two branches)", makeSeq15k},
	{"random_values", "random keys with values of 0 bytes to 20 KiB, one of 64 KiB, one-page and one-page-plus-one-byte leaves", makeRandomValues},
	{"freelist", "three buckets of 1600 keys, then half the keys of two deleted and the third dropped: many free pages", makeFreelist},
	{"sequences", "bucket sequences from NextSequence and SetSequence, up to 2^64-1, paged and inline, changed alone later", makeSequences},
	{"no_freelist_sync", "written with NoFreelistSync: no freelist page, free pages known only by walking the trees", makeNoFreelistSync},
	{"page_16k", "page size 16384: a paged tree, values of 20-40 KB on overflow pages, a 3 KiB bucket still inline", makePage16k},
	{"binary_keys", "names and keys with 0x00 and 0xff bytes, all 256 one-byte keys, nil and empty values, prefix keys", makeBinaryKeys},
	{"max_key", "keys of exactly 32768 bytes: leaves of 17-33 pages and a branch page spanning 25", makeMaxKey},
	{"torn_meta", "the newer meta page's checksum broken: readers fall back to the older transaction", makeTornMeta},
	{"backup_copy", "written by Tx.CopyFile: hwm pages long, both metas describe one state (txids 4 and 3)", makeBackupCopy},
}

func runList(args []string) error {
	if len(args) != 0 {
		return usageErr("list takes no arguments")
	}
	for _, f := range fixtureSpecs {
		fmt.Printf("%-17s %s\n", f.name, f.about)
	}
	return nil
}

// runGen writes DIR/NAME.db for every fixture, or for the ones named.
func runGen(args []string) error {
	if len(args) < 1 {
		return usageErr("gen DIR [NAME...]")
	}
	dir, names := args[0], args[1:]
	wanted := map[string]bool{}
	for _, n := range names {
		wanted[n] = true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range fixtureSpecs {
		if len(names) > 0 && !wanted[f.name] {
			continue
		}
		delete(wanted, f.name)
		path := filepath.Join(dir, f.name+".db")
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return err
		}
		began := time.Now()
		if err := f.make(path); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		fmt.Printf("%-22s %9d bytes in %.2fs\n", f.name+".db", st.Size(), time.Since(began).Seconds())
	}
	if len(wanted) > 0 {
		var unknown []string
		for n := range wanted {
			unknown = append(unknown, n)
		}
		sort.Strings(unknown)
		return fmt.Errorf("no fixture named %s (see list)", strings.Join(unknown, ", "))
	}
	return nil
}

// build creates path with opts, runs steps, one transaction each, and closes it.
func build(path string, opts *bolt.Options, steps ...func(tx *bolt.Tx) error) error {
	o := bolt.Options{}
	if opts != nil {
		o = *opts
	}
	o.Timeout = lockWait()
	db, err := bolt.Open(path, 0o644, &o)
	if err != nil {
		return err
	}
	for _, step := range steps {
		if err := db.Update(step); err != nil {
			db.Close()
			return err
		}
	}
	return db.Close()
}

// putAll stores pairs given as alternating keys and values.
func putAll(b *bolt.Bucket, kv ...string) error {
	for i := 0; i+1 < len(kv); i += 2 {
		if err := b.Put([]byte(kv[i]), []byte(kv[i+1])); err != nil {
			return err
		}
	}
	return nil
}

func u64be(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	r.Read(b)
	return b
}

func makeEmpty(path string) error { return build(path, nil) }

func makeEmptyTx(path string) error {
	return build(path, nil, func(*bolt.Tx) error { return nil })
}

func makeOneBucket(path string) error {
	return build(path, nil, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("fruits"))
		if err != nil {
			return err
		}
		return putAll(b, "apple", "red", "banana", "yellow", "cherry", "dark red", "date", "brown", "elderberry", "purple")
	})
}

func makeNested3(path string) error {
	r := rand.New(rand.NewSource(301))
	return build(path, nil, func(tx *bolt.Tx) error {
		// The small chain: level1 > level2 > level3, with keys on both sides
		// of each child's name; level3 is small enough to be inline.
		l1, err := tx.CreateBucket([]byte("level1"))
		if err != nil {
			return err
		}
		l2, err := l1.CreateBucket([]byte("level2"))
		if err != nil {
			return err
		}
		l3, err := l2.CreateBucket([]byte("level3"))
		if err != nil {
			return err
		}
		if err := putAll(l1, "a-first", "before level2", "k1", "in level1", "z-last", "after level2"); err != nil {
			return err
		}
		if err := putAll(l2, "k2", "in level2"); err != nil {
			return err
		}
		if err := putAll(l3, "k3", "in level3", "k3b", "also in level3"); err != nil {
			return err
		}
		// The large chain: big > inner > innermost, each with a few hundred
		// rows, so every level has a tree of its own pages.
		parent := tx.Cursor().Bucket()
		for depth, name := range []string{"big", "inner", "innermost"} {
			b, err := parent.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for i := 0; i < 300; i++ {
				k := fmt.Sprintf("%c%04d", 'a'+depth, i)
				if err := b.Put([]byte(k), randomBytes(r, 16+r.Intn(48))); err != nil {
					return err
				}
			}
			parent = b
		}
		// Small inline siblings next to big's child.
		big := tx.Bucket([]byte("big"))
		for i := 0; i < 3; i++ {
			s, err := big.CreateBucket([]byte(fmt.Sprintf("sibling%d", i)))
			if err != nil {
				return err
			}
			if err := s.Put([]byte("x"), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
}

func makeInlineBuckets(path string) error {
	return build(path, nil, func(tx *bolt.Tx) error {
		// bbolt keeps a bucket inline while 16 (page header) plus the sum of
		// 16 + len(key) + len(value) over its elements stays <= page_size/4.
		limit := tx.DB().Info().PageSize / 4
		filler := func(n int) []byte { return bytes.Repeat([]byte{'v'}, n) }
		if _, err := tx.CreateBucket([]byte("empty")); err != nil {
			return err
		}
		for i, name := range []string{"at_limit", "over_limit"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			// One element: 16 + 16 + 4 ("kkkk") + value bytes.
			if err := b.Put([]byte("kkkk"), filler(limit-36+i)); err != nil {
				return err
			}
		}
		one, err := tx.CreateBucket([]byte("one"))
		if err != nil {
			return err
		}
		if err := one.Put([]byte("only"), []byte("value")); err != nil {
			return err
		}
		// A bucket with a child bucket is never inline; its child can be.
		parent, err := tx.CreateBucket([]byte("parent"))
		if err != nil {
			return err
		}
		child, err := parent.CreateBucket([]byte("child"))
		if err != nil {
			return err
		}
		if err := putAll(parent, "p", "parent value"); err != nil {
			return err
		}
		if err := putAll(child, "c", "child value"); err != nil {
			return err
		}
		// Sixty small inline buckets side by side fill several root leaves.
		for i := 0; i < 60; i++ {
			b, err := tx.CreateBucket([]byte(fmt.Sprintf("small%02d", i)))
			if err != nil {
				return err
			}
			for j := 0; j < i%4; j++ {
				if err := b.Put([]byte{'a' + byte(j)}, bytes.Repeat([]byte{byte(i)}, i)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// makeSeq15k appends keys 0..14999 (8-byte big-endian) with the value 7*key
// (4-byte big-endian) to bucket "seq", 1500 per transaction. Leaves split at half
// a page hold about 73 keys; over 170 leaves overflow one branch page, so the
// root becomes a branch over branches.
func makeSeq15k(path string) error {
	var steps []func(*bolt.Tx) error
	for t := 0; t < 10; t++ {
		from := uint64(t * 1500)
		steps = append(steps, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("seq"))
			if err != nil {
				return err
			}
			for i := from; i < from+1500; i++ {
				var v [4]byte
				binary.BigEndian.PutUint32(v[:], uint32(7*i))
				if err := b.Put(u64be(i), v[:]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return build(path, nil, steps...)
}

func makeRandomValues(path string) error {
	r := rand.New(rand.NewSource(702))
	return build(path, nil, func(tx *bolt.Tx) error {
		data, err := tx.CreateBucket([]byte("data"))
		if err != nil {
			return err
		}
		for i := 0; i < 90; i++ {
			key := randomBytes(r, 1+r.Intn(48))
			var n int
			switch p := r.Intn(20); {
			case p == 0:
				n = 0
			case p < 10:
				n = 1 + r.Intn(120)
			case p < 15:
				n = 120 + r.Intn(2000)
			case p < 17:
				n = 2120 + r.Intn(2000) // about one page
			default:
				n = 4100 + r.Intn(16384) // overflow pages
			}
			if err := data.Put(key, randomBytes(r, n)); err != nil {
				return err
			}
		}
		if err := data.Put([]byte("big-64k"), randomBytes(r, 64<<10)); err != nil {
			return err
		}
		inner, err := data.CreateBucket([]byte("inner"))
		if err != nil {
			return err
		}
		if err := inner.Put([]byte("ten-kib"), randomBytes(r, 10<<10)); err != nil {
			return err
		}
		// One element of key "k": a leaf of exactly one page (16-byte page
		// header + 16-byte element header + 1 + value), and one byte more.
		ps := tx.DB().Info().PageSize
		for i, name := range []string{"exact_page", "exact_page_plus1"} {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("k"), bytes.Repeat([]byte{0x5a}, ps-33+i)); err != nil {
				return err
			}
		}
		return nil
	})
}

func makeFreelist(path string) error {
	r := rand.New(rand.NewSource(1111))
	key := func(bucket string, i int) []byte { return []byte(fmt.Sprintf("%s-%05d", bucket, i)) }
	var steps []func(*bolt.Tx) error
	for _, name := range []string{"alpha", "beta", "gamma"} {
		name := name
		steps = append(steps, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			for i := 0; i < 1600; i++ {
				if err := b.Put(key(name, i), randomBytes(r, 8+r.Intn(40))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	steps = append(steps,
		// Every even key of alpha and gamma goes, and beta altogether.
		func(tx *bolt.Tx) error {
			for _, name := range []string{"alpha", "gamma"} {
				b := tx.Bucket([]byte(name))
				for i := 0; i < 1600; i += 2 {
					if err := b.Delete(key(name, i)); err != nil {
						return err
					}
				}
			}
			return tx.DeleteBucket([]byte("beta"))
		},
		// A last small write, so that the file holds pages freed by two
		// different transactions.
		func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("alpha")).Put([]byte("alpha-final"), []byte("the last write"))
		})
	return build(path, nil, steps...)
}

func makeSequences(path string) error {
	first := func(tx *bolt.Tx) error {
		five, err := tx.CreateBucket([]byte("five"))
		if err != nil {
			return err
		}
		for i := 0; i < 5; i++ {
			if _, err := five.NextSequence(); err != nil {
				return err
			}
		}
		thousand, err := tx.CreateBucket([]byte("thousand"))
		if err != nil {
			return err
		}
		for i := 1; i <= 1000; i++ {
			id, err := thousand.NextSequence()
			if err != nil {
				return err
			}
			if i%100 == 1 {
				if err := thousand.Put(u64be(id), []byte("id")); err != nil {
					return err
				}
			}
		}
		max, err := tx.CreateBucket([]byte("max"))
		if err != nil {
			return err
		}
		if err := max.SetSequence(math.MaxUint64); err != nil {
			return err
		}
		paged, err := tx.CreateBucket([]byte("paged"))
		if err != nil {
			return err
		}
		for i := 0; i < 200; i++ {
			if err := paged.Put([]byte(fmt.Sprintf("row%04d", i)), bytes.Repeat([]byte{'r'}, 40)); err != nil {
				return err
			}
		}
		if err := paged.SetSequence(1 << 40); err != nil {
			return err
		}
		child, err := paged.CreateBucket([]byte("child"))
		if err != nil {
			return err
		}
		return child.SetSequence(0x0102030405060708)
	}
	// A later transaction that changes nothing but two sequences.
	bump := func(tx *bolt.Tx) error {
		if _, err := tx.Bucket([]byte("five")).NextSequence(); err != nil {
			return err
		}
		_, err := tx.Bucket([]byte("paged")).Bucket([]byte("child")).NextSequence()
		return err
	}
	return build(path, nil, first, bump)
}

func makeNoFreelistSync(path string) error {
	r := rand.New(rand.NewSource(1313))
	var steps []func(*bolt.Tx) error
	for t := 0; t < 3; t++ {
		name := []byte(fmt.Sprintf("b%d", t))
		steps = append(steps, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			for i := 0; i < 600; i++ {
				if err := b.Put([]byte(fmt.Sprintf("key-%05d", i)), randomBytes(r, 16+r.Intn(80))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	steps = append(steps, func(tx *bolt.Tx) error {
		b0 := tx.Bucket([]byte("b0"))
		for i := 0; i < 600; i += 3 {
			if err := b0.Delete([]byte(fmt.Sprintf("key-%05d", i))); err != nil {
				return err
			}
		}
		return tx.DeleteBucket([]byte("b1"))
	})
	return build(path, &bolt.Options{NoFreelistSync: true}, steps...)
}

func makePage16k(path string) error {
	r := rand.New(rand.NewSource(1616))
	return build(path, &bolt.Options{PageSize: 16384}, func(tx *bolt.Tx) error {
		rows, err := tx.CreateBucket([]byte("rows"))
		if err != nil {
			return err
		}
		for i := 0; i < 1500; i++ {
			if err := rows.Put([]byte(fmt.Sprintf("row-%06d", i)), randomBytes(r, 8+r.Intn(100))); err != nil {
				return err
			}
		}
		for i, size := range []int{20000, 40000} {
			if err := rows.Put([]byte(fmt.Sprintf("zz-large-%d", i)), randomBytes(r, size)); err != nil {
				return err
			}
		}
		// About 3 KiB: above a 4 KiB page's inline limit, below this one's (4096).
		small, err := tx.CreateBucket([]byte("inline3k"))
		if err != nil {
			return err
		}
		for i := 0; i < 10; i++ {
			if err := small.Put([]byte(fmt.Sprintf("i%d", i)), randomBytes(r, 280)); err != nil {
				return err
			}
		}
		return nil
	})
}

func makeBinaryKeys(path string) error {
	return build(path, nil, func(tx *bolt.Tx) error {
		every, err := tx.CreateBucket([]byte("all_bytes"))
		if err != nil {
			return err
		}
		for i := 0; i < 256; i++ {
			if err := every.Put([]byte{byte(i)}, []byte{}); err != nil {
				return err
			}
		}
		// Bucket 0x00: awkward keys; the i-th key's value is nil, empty, or
		// 00 ff i, by turns (nil is stored as an empty value).
		zero, err := tx.CreateBucket([]byte{0x00})
		if err != nil {
			return err
		}
		awkward := []string{
			"\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "\x7f", "\x80", "\xfe\xff",
			"\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff\xff", "a", "a\x00", "a\x00b", "ab", "abc",
		}
		for i, k := range awkward {
			var v []byte
			switch i % 3 {
			case 1:
				v = []byte{}
			case 2:
				v = []byte{0x00, 0xff, byte(i)}
			}
			if err := zero.Put([]byte(k), v); err != nil {
				return err
			}
		}
		// Bucket ffff: a child 00 6e 00, a key that is a prefix of the child's
		// name and one that extends it.
		ff, err := tx.CreateBucket([]byte{0xff, 0xff})
		if err != nil {
			return err
		}
		nested, err := ff.CreateBucket([]byte("\x00n\x00"))
		if err != nil {
			return err
		}
		if err := nested.Put([]byte{0xff}, []byte{}); err != nil {
			return err
		}
		return putAll(ff, "\x00n", "a prefix of a bucket name", "\x00n\x00\x00", "a bucket name extended")
	})
}

func makeMaxKey(path string) error {
	return build(path, nil, func(tx *bolt.Tx) error {
		huge, err := tx.CreateBucket([]byte("huge_keys"))
		if err != nil {
			return err
		}
		// Eight keys of the maximum length sharing all but their last 8 bytes:
		// leaves of two to four such keys span 17 to 33 pages, and the branch
		// page above them, with three such keys, spans 25.
		prefix := bytes.Repeat([]byte{0xab}, bolt.MaxKeySize-8)
		for i := uint64(0); i < 8; i++ {
			k := append(append([]byte{}, prefix...), u64be(i)...)
			if err := huge.Put(k, []byte(fmt.Sprintf("value %d", i))); err != nil {
				return err
			}
		}
		single, err := tx.CreateBucket([]byte("single"))
		if err != nil {
			return err
		}
		if err := single.Put(bytes.Repeat([]byte{'k'}, bolt.MaxKeySize), []byte("v")); err != nil {
			return err
		}
		if err := single.Put([]byte("small"), []byte("neighbour")); err != nil {
			return err
		}
		if err := single.Put(bytes.Repeat([]byte{'k'}, bolt.MaxKeySize+1), nil); err != bolt.ErrKeyTooLarge {
			return fmt.Errorf("a key one byte over the limit gave %v, not ErrKeyTooLarge", err)
		}
		return nil
	})
}

func makeTornMeta(path string) error {
	err := build(path, nil,
		func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket([]byte("state"))
			if err != nil {
				return err
			}
			return putAll(b, "version", "old")
		},
		func(tx *bolt.Tx) error {
			return putAll(tx.Bucket([]byte("state")), "version", "new", "added-later", "only in the newest transaction")
		})
	if err != nil {
		return err
	}
	// Flip one byte of the stored checksum of the meta with the higher txid.
	img, err := loadImage(path)
	if err != nil {
		return err
	}
	off := int64(img.active*img.pageSize + hdrSize + metaSumSpan)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{img.bytes[off] ^ 0xa5}, off); err != nil {
		return err
	}
	return f.Sync()
}

func makeBackupCopy(path string) error {
	src := path + ".source.tmp"
	os.Remove(src)
	defer os.Remove(src)
	r := rand.New(rand.NewSource(1919))
	var steps []func(*bolt.Tx) error
	for t := 0; t < 3; t++ {
		t := t
		steps = append(steps, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("copied"))
			if err != nil {
				return err
			}
			for i := 0; i < 200; i++ {
				if err := b.Put([]byte(fmt.Sprintf("t%d-%04d", t, i)), randomBytes(r, 8+r.Intn(64))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := build(src, nil, steps...); err != nil {
		return err
	}
	db, err := openExisting(src, true, false)
	if err != nil {
		return err
	}
	defer db.Close()
	// The copy is taken by a read transaction on the finished source.
	return db.View(func(tx *bolt.Tx) error { return tx.CopyFile(path, 0o644) })
}
