package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// runMutate applies N random operations to an existing file in transactions of
// 1 to 48 operations, then checks it. Every choice is drawn from a generator
// seeded with SEED and depends otherwise only on the file's logical content,
// always read in key order; so equal SEED and N applied to files with equal
// dumps leave files with equal dumps.
func runMutate(args []string) error {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noSync := fs.Bool("no-freelist-sync", false, "open with NoFreelistSync (no freelist is written)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 3 {
		return usageErr("mutate [-no-freelist-sync] FILE SEED N")
	}
	path := fs.Arg(0)
	seed, err := strconv.ParseInt(fs.Arg(1), 10, 64)
	if err != nil {
		return usageErr("SEED %q is not an integer", fs.Arg(1))
	}
	total, err := strconv.Atoi(fs.Arg(2))
	if err != nil || total < 0 {
		return usageErr("N %q is not a count", fs.Arg(2))
	}
	db, err := openExisting(path, false, *noSync)
	if err != nil {
		return err
	}
	w := &mutation{rnd: rand.New(rand.NewSource(seed)), tally: map[string]int{}}
	for w.ops < total {
		if err := db.Update(func(tx *bolt.Tx) error { return w.transaction(tx, total-w.ops) }); err != nil {
			db.Close()
			return err
		}
		w.txs++
	}
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Printf("mutate: %d operations in %d transactions:%s\n", w.ops, w.txs, w.summary())
	errs, _ := checkFile(path, true)
	for _, e := range errs {
		fmt.Println("ERROR " + e)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s fails its check after mutate", path)
	}
	return nil
}

type mutation struct {
	rnd   *rand.Rand
	ops   int
	txs   int
	tally map[string]int
}

func (w *mutation) summary() string {
	names := make([]string, 0, len(w.tally))
	for n := range w.tally {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, n := range names {
		fmt.Fprintf(&sb, " %s=%d", n, w.tally[n])
	}
	return sb.String()
}

func (w *mutation) bytes(n int) []byte {
	b := make([]byte, n)
	w.rnd.Read(b)
	return b
}

// key draws a key: mostly short binary or readable keys with common prefixes,
// sometimes long ones up to bbolt's limit of 32768 bytes.
func (w *mutation) key() []byte {
	r := w.rnd.Intn(200)
	switch {
	case r < 80:
		return w.bytes(1 + w.rnd.Intn(8))
	case r < 150:
		return []byte("key-" + strconv.Itoa(w.rnd.Intn(400)) + "/" + strconv.Itoa(w.rnd.Intn(50)))
	case r < 190:
		return w.bytes(9 + w.rnd.Intn(60))
	case r < 198:
		return w.bytes(200 + w.rnd.Intn(3000))
	case r < 199:
		return w.bytes(4000 + w.rnd.Intn(8000))
	default:
		return w.bytes(maxKeyLen)
	}
}

// value draws a value from empty to about 70 KB (long ones overflow pages).
func (w *mutation) value() []byte {
	r := w.rnd.Intn(100)
	switch {
	case r < 5:
		return []byte{}
	case r < 65:
		return w.bytes(1 + w.rnd.Intn(80))
	case r < 88:
		return w.bytes(80 + w.rnd.Intn(1200))
	case r < 98:
		return w.bytes(1300 + w.rnd.Intn(8000))
	default:
		return w.bytes(9000 + w.rnd.Intn(60000))
	}
}

// allBuckets lists every bucket as its path of names, depth first in key order.
func allBuckets(tx *bolt.Tx) [][][]byte {
	var out [][][]byte
	var visit func(b *bolt.Bucket, path [][]byte)
	visit = func(b *bolt.Bucket, path [][]byte) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v != nil {
				continue
			}
			if child := b.Bucket(k); child != nil {
				p := append(append([][]byte{}, path...), append([]byte{}, k...))
				out = append(out, p)
				visit(child, p)
			}
		}
	}
	visit(tx.Cursor().Bucket(), nil)
	return out
}

// bucketAt opens a bucket by path, or returns nil.
func bucketAt(tx *bolt.Tx, path [][]byte) *bolt.Bucket {
	b := tx.Cursor().Bucket()
	for _, name := range path {
		if b = b.Bucket(name); b == nil {
			return nil
		}
	}
	return b
}

// plainKeys returns up to max existing non-bucket keys from a random point on.
func (w *mutation) plainKeys(b *bolt.Bucket, max int) [][]byte {
	var keys [][]byte
	c := b.Cursor()
	k, v := c.Seek(w.bytes(1 + w.rnd.Intn(3)))
	if k == nil {
		k, v = c.First()
	}
	for ; k != nil && len(keys) < max; k, v = c.Next() {
		if v != nil {
			keys = append(keys, append([]byte{}, k...))
		}
	}
	return keys
}

// transaction runs up to budget operations in tx.
func (w *mutation) transaction(tx *bolt.Tx, budget int) error {
	n := 1 + w.rnd.Intn(48)
	if n > budget {
		n = budget
	}
	// A bucket is deleted only as the first operation of a transaction:
	// bbolt v1.3.6's DeleteBucket iterates the doomed bucket while deleting
	// its children, and when that bucket has changed earlier in the same
	// transaction the iteration skips children whose pages then leak. Taking
	// the deletion first keeps every check failure the file's fault.
	if all := allBuckets(tx); len(all) > 0 && w.rnd.Intn(5) == 0 {
		p := all[w.rnd.Intn(len(all))]
		parent := bucketAt(tx, p[:len(p)-1])
		if err := parent.DeleteBucket(p[len(p)-1]); err != nil {
			return err
		}
		w.tally["delete_bucket"]++
		w.ops++
		n--
	}
	paths := allBuckets(tx)
	for ; n > 0; n-- {
		w.ops++
		if len(paths) == 0 {
			name := w.key()
			if _, err := tx.CreateBucket(name); err == nil {
				paths = append(paths, [][]byte{name})
				w.tally["create_bucket"]++
			}
			continue
		}
		p := paths[w.rnd.Intn(len(paths))]
		b := bucketAt(tx, p)
		if err := w.operation(tx, b, p, &paths); err != nil {
			return err
		}
	}
	return nil
}

// ignorable are the errors of a drawn operation that collides with existing
// content (a key that names a bucket, a bucket name already taken).
func ignorable(err error) bool {
	return err == bolt.ErrIncompatibleValue || err == bolt.ErrBucketExists
}

func (w *mutation) operation(tx *bolt.Tx, b *bolt.Bucket, p [][]byte, paths *[][][]byte) error {
	r := w.rnd.Intn(100)
	switch {
	case r < 40: // put a new (or by chance existing) key
		err := b.Put(w.key(), w.value())
		if ignorable(err) {
			w.tally["skip"]++
			return nil
		}
		w.tally["put"]++
		return err
	case r < 48: // overwrite an existing key
		if ks := w.plainKeys(b, 1); len(ks) == 1 {
			w.tally["overwrite"]++
			return b.Put(ks[0], w.value())
		}
	case r < 65: // delete an existing key
		if ks := w.plainKeys(b, 1); len(ks) == 1 {
			w.tally["delete"]++
			return b.Delete(ks[0])
		}
	case r < 70: // delete a run of neighbours: pages merge
		for _, k := range w.plainKeys(b, 4+w.rnd.Intn(70)) {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		w.tally["delete_run"]++
	case r < 75: // insert a run under one prefix: pages split
		prefix := w.bytes(1 + w.rnd.Intn(10))
		count := 8 + w.rnd.Intn(220)
		for i := 0; i < count; i++ {
			k := append(append([]byte{}, prefix...), fmt.Sprintf(".%05d", i)...)
			if err := b.Put(k, w.bytes(w.rnd.Intn(120))); err != nil && !ignorable(err) {
				return err
			}
		}
		w.tally["put_run"]++
	case r < 85: // a new bucket, nested here or at the top
		name := w.key()
		var err error
		var at [][]byte
		if len(p) >= 8 || w.rnd.Intn(3) == 0 {
			_, err = tx.CreateBucket(name)
		} else {
			_, err = b.CreateBucket(name)
			at = p
		}
		if ignorable(err) {
			w.tally["skip"]++
			return nil
		}
		if err != nil {
			return err
		}
		*paths = append(*paths, append(append([][]byte{}, at...), name))
		w.tally["create_bucket"]++
	case r < 97:
		w.tally["next_sequence"]++
		_, err := b.NextSequence()
		return err
	default:
		w.tally["set_sequence"]++
		return b.SetSequence(w.rnd.Uint64())
	}
	return nil
}
