// Command bbolt-bench is rivet-bench's Go bbolt worker: it runs the key/value workload of
// bench/src/worker.rs against go.etcd.io/bbolt (Debian's golang-github-coreos-bbolt-dev, built
// in GOPATH mode) and prints the same protocol lines:
//
//	dataset <fnv-1a of all keys and values, hex>
//	begin <phase>
//	phase <phase> <nanoseconds> <operations> [<per-thread nanoseconds>...]
//	size <after_writes|final> <apparent bytes> <allocated bytes>
//
// The data come from the same SplitMix64 streams as bench/src/data.rs; the driver compares the
// checksum. Every answer is checked; a failed check exits with status 1.
//
// Usage: bbolt-bench --dir DIR --n N
package main

import (
	"bytes"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	keyLen           = 24
	valueLen         = 150
	seed             = uint64(0x5249564554)
	individualWrites = 1000
	batches          = 100
	batchSize        = 1000
	lookupsN         = 1000000
	scansN           = 100000
	scanLen          = 10
)

var bucket = []byte("bench")

type splitmix struct{ s uint64 }

func (r *splitmix) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func putLE(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "bbolt-bench: "+format+"\n", args...)
	os.Exit(1)
}

func phase(name string, ops int, f func() error) {
	fmt.Printf("begin %s\n", name)
	t := time.Now()
	if err := f(); err != nil {
		die("%s: %v", name, err)
	}
	fmt.Printf("phase %s %d %d\n", name, time.Since(t).Nanoseconds(), ops)
}

func dirSize(dir string) (int64, int64) {
	var apparent, allocated int64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		apparent += info.Size()
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		return nil
	})
	return apparent, allocated
}

func size(label, dir string) {
	a, b := dirSize(dir)
	fmt.Printf("size %s %d %d\n", label, a, b)
}

func main() {
	dir := flag.String("dir", "", "directory for the database")
	n := flag.Int("n", 200000, "keys of the bulk load")
	flag.Parse()
	if *dir == "" || *n < 20 {
		die("usage: bbolt-bench --dir DIR --n N (N >= 20)")
	}
	N := *n
	total := N + individualWrites + batches*batchSize

	// Data, exactly as bench/src/data.rs makes it.
	rng := splitmix{seed}
	keys := make([][]byte, total)
	values := make([][]byte, total)
	h := fnv.New64a()
	for i := 0; i < total; i++ {
		k := make([]byte, keyLen)
		for j := 0; j < keyLen; j += 8 {
			putLE(k[j:], rng.next())
		}
		v := make([]byte, valueLen+2)
		for j := 0; j < valueLen+2; j += 8 {
			putLE(v[j:], rng.next())
		}
		keys[i], values[i] = k, v[:valueLen]
		h.Write(keys[i])
		h.Write(values[i])
	}
	fmt.Printf("dataset %016x\n", h.Sum64())
	lr := splitmix{seed ^ 1}
	lookups := make([]int, lookupsN)
	for i := range lookups {
		lookups[i] = int(lr.next() % uint64(N))
	}
	sorted := make([]int, total)
	for i := range sorted {
		sorted[i] = i
	}
	sort.Slice(sorted, func(a, b int) bool { return bytes.Compare(keys[sorted[a]], keys[sorted[b]]) < 0 })
	for i := 1; i < total; i++ {
		if bytes.Equal(keys[sorted[i-1]], keys[sorted[i]]) {
			die("the generator produced a duplicate key")
		}
	}
	sr := splitmix{seed ^ 2}
	span := uint64(total - (scanLen - 1))
	starts := make([]int, scansN)
	for i := range starts {
		starts[i] = sorted[sr.next()%span]
	}

	db, err := bolt.Open(filepath.Join(*dir, "bbolt.db"), 0600, nil)
	if err != nil {
		die("open: %v", err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
		die("create bucket: %v", err)
	}
	write := func(from, to int) error {
		return db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for i := from; i < to; i++ {
				if err := b.Put(keys[i], values[i]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	reads := func(part []int) error {
		return db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for _, i := range part {
				v := b.Get(keys[i])
				if v == nil {
					return fmt.Errorf("lookup of key #%d found nothing", i)
				}
				if !bytes.Equal(v, values[i]) {
					return fmt.Errorf("lookup of key #%d returned a wrong value", i)
				}
			}
			return nil
		})
	}
	count := func() int {
		c := 0
		db.View(func(tx *bolt.Tx) error {
			return tx.Bucket(bucket).ForEach(func(k, v []byte) error { c++; return nil })
		})
		return c
	}

	phase("bulk_load", N, func() error { return write(0, N) })
	phase("individual_writes", individualWrites, func() error {
		for i := N; i < N+individualWrites; i++ {
			if err := write(i, i+1); err != nil {
				return err
			}
		}
		return nil
	})
	phase("batch_writes", batches*batchSize, func() error {
		for b := 0; b < batches; b++ {
			s := N + individualWrites + b*batchSize
			if err := write(s, s+batchSize); err != nil {
				return err
			}
		}
		return nil
	})
	size("after_writes", *dir)
	if c := count(); c != total {
		die("after the writes: %d entries instead of %d", c, total)
	}

	phase("random_reads", lookupsN, func() error { return reads(lookups) })

	fmt.Println("begin random_reads_2t")
	half := len(lookups) / 2
	parts := [][]int{lookups[:half], lookups[half:]}
	times := make([]int64, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for t := 0; t < 2; t++ {
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			start := time.Now()
			errs[t] = reads(parts[t])
			times[t] = time.Since(start).Nanoseconds()
		}(t)
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			die("random_reads_2t: %v", e)
		}
	}
	max := times[0]
	if times[1] > max {
		max = times[1]
	}
	fmt.Printf("phase random_reads_2t %d %d %d %d\n", max, lookupsN, times[0], times[1])

	phase("range_scans", scansN, func() error {
		return db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			for _, s := range starts {
				start := keys[s]
				var prev []byte
				got := 0
				for k, v := c.Seek(start); k != nil && got < scanLen; k, v = c.Next() {
					if got == 0 && !bytes.Equal(k, start) {
						return fmt.Errorf("a scan did not start at its (existing) start key")
					}
					if got > 0 && bytes.Compare(k, prev) <= 0 {
						return fmt.Errorf("a scan returned keys out of order")
					}
					if len(v) != valueLen {
						return fmt.Errorf("a scan returned a value of %d bytes", len(v))
					}
					prev = k
					got++
				}
				if got != scanLen {
					return fmt.Errorf("a scan returned %d entries instead of %d", got, scanLen)
				}
			}
			return nil
		})
	})
	removals := N / 2
	phase("removals", removals, func() error {
		// Delete does not say whether the key was there; the count afterwards checks.
		return db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for i := 0; i < removals; i++ {
				if err := b.Delete(keys[i]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if c := count(); c != total-removals {
		die("after the removals: %d entries instead of %d", c, total-removals)
	}
	db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		for i := 0; i < removals; i += 997 {
			if b.Get(keys[i]) != nil {
				die("removed key #%d is still there", i)
			}
		}
		for i := removals; i < total; i += 997 {
			if !bytes.Equal(b.Get(keys[i]), values[i]) {
				die("key #%d was lost by the removals", i)
			}
		}
		return nil
	})
	if err := db.Close(); err != nil {
		die("close: %v", err)
	}
	size("final", *dir)
}
