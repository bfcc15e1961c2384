// Command bbolt-tool is Rivet's bridge to the reference implementation: it drives
// the real Go bbolt library (Debian's golang-github-coreos-bbolt-dev, v1.3.6) so
// that Rivet's tests can compare what the Rust engine writes and reads with what
// Go bbolt writes and reads.
//
// Every subcommand and its output format is described in ../README.md. The
// tests in tests/ and cli/tests/ depend on those formats: change them together.
package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

const usage = `bbolt-tool: Go bbolt v1.3.6 helper for Rivet's interop tests

  bbolt-tool gen DIR [NAME...]           write the fixture databases (all, or NAME...) into DIR
  bbolt-tool list                        name and describe every fixture
  bbolt-tool dump FILE                   canonical JSON dump of FILE on stdout
  bbolt-tool check [-bbolt-only] FILE    bbolt's tx.Check plus structural checks of the bytes;
                                         exit status 1 when anything is wrong
  bbolt-tool mutate [-no-freelist-sync] FILE SEED N
                                         N deterministic random operations, then check
  bbolt-tool info FILE                   metas, freelist and a page census as JSON

BBOLT_TOOL_LOCK_TIMEOUT (a Go duration, default 10s) bounds the wait for the file lock.`

// errUsage marks a badly formed command line (exit status 2).
var errUsage = errors.New("bad usage")

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	commands := map[string]func([]string) error{
		"gen":    runGen,
		"list":   runList,
		"dump":   runDump,
		"check":  runCheck,
		"mutate": runMutate,
		"info":   runInfo,
	}
	if name == "help" || name == "-h" || name == "--help" {
		fmt.Println(usage)
		return
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "bbolt-tool: no subcommand %q\n\n%s\n", name, usage)
		os.Exit(2)
	}
	switch err := cmd(args); {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "bbolt-tool %s: %v\n\n%s\n", name, err, usage)
		os.Exit(2)
	case errors.Is(err, errFailed):
		// The subcommand has already said what failed.
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "bbolt-tool %s: %v\n", name, err)
		os.Exit(1)
	}
}

// errFailed is returned by a subcommand that printed its own report of failure.
var errFailed = errors.New("failed")

func usageErr(format string, a ...interface{}) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

// lockWait is how long bolt.Open may wait for another process's flock.
func lockWait() time.Duration {
	if s := os.Getenv("BBOLT_TOOL_LOCK_TIMEOUT"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return 10 * time.Second
}

// openExisting opens a database that must already exist; bolt.Open alone would
// quietly create a new one in place of a mistyped path.
func openExisting(path string, readOnly, noFreelistSync bool) (*bolt.DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return bolt.Open(path, 0o644, &bolt.Options{
		ReadOnly:       readOnly,
		NoFreelistSync: noFreelistSync,
		Timeout:        lockWait(),
	})
}
