package main

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

// runDump prints the canonical dump of one file:
//
//	bucket := {"sequence":N,"entries":[entry,...]}
//	entry  := {"key":HEX,"value":HEX} | {"key":HEX,"bucket":bucket}
//
// The outermost object is the root bucket. Entries come in cursor order (byte
// order of the keys), hex is lowercase, there is no whitespace, and one newline
// ends the output. rivet_engine::dump::dump_json prints exactly the same bytes.
func runDump(args []string) error {
	if len(args) != 1 {
		return usageErr("dump takes one FILE")
	}
	db, err := openExisting(args[0], true, false)
	if err != nil {
		return err
	}
	defer db.Close()
	out := bufio.NewWriterSize(os.Stdout, 256<<10)
	err = db.View(func(tx *bolt.Tx) error {
		writeBucket(out, tx.Cursor().Bucket())
		return out.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	return out.Flush()
}

func writeBucket(out *bufio.Writer, b *bolt.Bucket) {
	out.WriteString(`{"sequence":`)
	out.WriteString(strconv.FormatUint(b.Sequence(), 10))
	out.WriteString(`,"entries":[`)
	c := b.Cursor()
	n := 0
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if n > 0 {
			out.WriteByte(',')
		}
		n++
		out.WriteString(`{"key":"`)
		writeHex(out, k)
		// A nil value marks a nested bucket.
		if v == nil {
			if child := b.Bucket(k); child != nil {
				out.WriteString(`","bucket":`)
				writeBucket(out, child)
				out.WriteByte('}')
				continue
			}
		}
		out.WriteString(`","value":"`)
		writeHex(out, v)
		out.WriteString(`"}`)
	}
	out.WriteString(`]}`)
}

// writeHex writes b as lowercase hex through a small stack buffer.
func writeHex(out *bufio.Writer, b []byte) {
	var chunk [256]byte
	for len(b) > 0 {
		n := min(len(b), len(chunk)/2)
		hex.Encode(chunk[:], b[:n])
		out.Write(chunk[:2*n])
		b = b[n:]
	}
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
