package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// runCheck reports every problem with one file: ERROR and WARN lines, then OK
// or FAIL. Errors make the exit status 1; warnings do not.
func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	onlyBolt := fs.Bool("bbolt-only", false, "only bbolt's own tx.Check")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return usageErr("check [-bbolt-only] FILE")
	}
	path := fs.Arg(0)
	errs, warns := checkFile(path, !*onlyBolt)
	for _, w := range warns {
		fmt.Println("WARN  " + w)
	}
	for _, e := range errs {
		fmt.Println("ERROR " + e)
	}
	if len(errs) > 0 {
		fmt.Printf("FAIL %s: %d errors, %d warnings\n", path, len(errs), len(warns))
		return errFailed
	}
	fmt.Printf("OK %s (%d warnings)\n", path, len(warns))
	return nil
}

// checkFile opens path read-only and runs bbolt's tx.Check; when thorough, it
// adds a walk through the API (prefix "api:") and a walk over the bytes
// (prefix "raw:").
func checkFile(path string, thorough bool) (errs, warns []string) {
	db, err := openExisting(path, true, false)
	if err != nil {
		return []string{"open: " + err.Error()}, nil
	}
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			errs = append(errs, "tx.Check: "+e.Error())
		}
		if thorough {
			errs = append(errs, apiWalk(tx)...)
		}
		return nil
	})
	db.Close()
	if err != nil {
		errs = append(errs, "read transaction: "+err.Error())
	}
	if !thorough {
		return errs, warns
	}
	img, err := loadImage(path)
	if err != nil {
		return append(errs, "raw: "+err.Error()), warns
	}
	c := inspect(img)
	return append(errs, c.errs...), append(warns, c.warns...)
}

// apiWalk reads every bucket with a cursor: keys must be non-empty and rise
// strictly, and a point lookup of each key (which searches the branch pages)
// must find the value the cursor saw. The root bucket can only hold buckets.
func apiWalk(tx *bolt.Tx) []string {
	var errs []string
	report := func(format string, a ...interface{}) {
		if len(errs) < maxReports {
			errs = append(errs, "api: "+fmt.Sprintf(format, a...))
		}
	}
	var visit func(b *bolt.Bucket, name string, isRoot bool)
	visit = func(b *bolt.Bucket, name string, isRoot bool) {
		var prev []byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) == 0 {
				report("bucket %s: an empty key", name)
			}
			if prev != nil && bytes.Compare(prev, k) >= 0 {
				report("bucket %s: key %s follows %s", name, shortHex(k), shortHex(prev))
			}
			prev = append(prev[:0], k...)
			if v == nil {
				if child := b.Bucket(k); child != nil {
					visit(child, name+shortHex(k)+"/", false)
					continue
				}
			}
			if isRoot {
				report("the root bucket holds key %s, which is not a bucket", shortHex(k))
			}
			if got := b.Get(k); got == nil || !bytes.Equal(got, v) {
				report("bucket %s: Get(%s) disagrees with the cursor", name, shortHex(k))
			}
		}
	}
	visit(tx.Cursor().Bucket(), "/", true)
	return errs
}
