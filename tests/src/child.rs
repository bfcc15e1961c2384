//! Running one command in a child process under limits, for tests whose subject may hang,
//! abort, overflow its stack or print without end: an address-space and a data-segment limit
//! (`setrlimit` in the child; the data limit counts the heap and anonymous mappings but not the
//! read-only map of a database file), the main thread's stack, CPU time, no core files; a
//! wall-clock limit; a cap on stdout + stderr (read from the pipes, the child killed once it
//! is exceeded); and a cap on the bytes the child allocates on disk in a scratch directory.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the child may use.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `RLIMIT_DATA`: heap, anonymous and private writable mappings, thread stacks.
    pub data: u64,
    /// `RLIMIT_AS`: all mappings (a backstop; file maps of sparse files need room).
    pub address_space: u64,
    /// `RLIMIT_STACK`: the main thread's stack.
    pub stack: u64,
    /// Wall-clock time before the child is killed.
    pub time: Duration,
    /// Bytes of stdout plus stderr before the child is killed.
    pub output: u64,
    /// Bytes the files in this directory may allocate on disk (beyond what they held at the
    /// start) before the child is killed.
    pub disk: Option<(PathBuf, u64)>,
}

/// How a child ended.
#[derive(Clone, Default)]
pub struct Outcome {
    /// The exit code, if it exited.
    pub code: Option<i32>,
    /// The signal that ended it, if one did (SIGKILL when the harness killed it).
    pub signal: Option<i32>,
    /// Killed after [`Limits::time`].
    pub timed_out: bool,
    /// Killed after printing more than [`Limits::output`] bytes.
    pub output_exceeded: bool,
    /// Killed after allocating more than its disk allowance.
    pub disk_exceeded: bool,
    /// Bytes printed in all (up to the moment it was stopped).
    pub printed: u64,
    /// Disk bytes allocated in the scratch directory beyond the start, at the end.
    pub disk_used: u64,
    /// The first 64 KiB of stdout.
    pub stdout: Vec<u8>,
    /// The first 64 KiB of stderr.
    pub stderr: Vec<u8>,
    /// FNV-1a 64 of the whole of stdout (when it was not cut short).
    pub stdout_hash: u64,
    /// Wall-clock time taken.
    pub elapsed: Duration,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cut = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned();
        f.debug_struct("Outcome")
            .field("code", &self.code)
            .field("signal", &self.signal)
            .field("timed_out", &self.timed_out)
            .field("output_exceeded", &self.output_exceeded)
            .field("disk_exceeded", &self.disk_exceeded)
            .field("printed", &self.printed)
            .field("disk_used", &self.disk_used)
            .field("stdout", &cut(&self.stdout))
            .field("stderr", &cut(&self.stderr))
            .field("elapsed", &self.elapsed)
            .finish()
    }
}

impl Outcome {
    /// stderr as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    /// stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

const KEEP: usize = 64 << 10;

fn allocated(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.blocks() * 512).sum())
        .unwrap_or(0)
}

fn drain(mut from: impl Read, printed: Arc<AtomicU64>, cap: u64, over: Arc<AtomicBool>) -> (Vec<u8>, u64) {
    let mut keep = Vec::new();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let room = KEEP.saturating_sub(keep.len());
        keep.extend_from_slice(&buf[..n.min(room)]);
        hash = buf[..n].iter().fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        if printed.fetch_add(n as u64, Ordering::Relaxed) + n as u64 > cap {
            over.store(true, Ordering::Relaxed);
            break;
        }
    }
    (keep, hash)
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let lim = libc::rlimit { rlim_cur: value as libc::rlim_t, rlim_max: value as libc::rlim_t };
    // SAFETY: setrlimit reads the struct we pass and touches nothing else of this process.
    if unsafe { libc::setrlimit(resource, &lim) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Kills the process group the child leads (the child and anything it started).
fn kill_group(pid: u32) {
    // SAFETY: kill only sends a signal; the group is the one our own child created.
    unsafe {
        libc::kill(-(pid as libc::pid_t), libc::SIGKILL);
    }
}

/// Runs `cmd` (stdin closed, stdout and stderr captured) under `limits` and waits for it.
pub fn run(mut cmd: Command, limits: &Limits) -> std::io::Result<Outcome> {
    let l = limits.clone();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only calls setpgid and
    // setrlimit, which are async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            // Its own process group, so that a kill reaches anything it started.
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            set_limit(libc::RLIMIT_AS, l.address_space)?;
            set_limit(libc::RLIMIT_DATA, l.data)?;
            set_limit(libc::RLIMIT_STACK, l.stack)?;
            set_limit(libc::RLIMIT_CPU, l.time.as_secs() + 5)?;
            set_limit(libc::RLIMIT_CORE, 0)?;
            Ok(())
        });
    }
    let disk_start = limits.disk.as_ref().map(|(d, _)| allocated(d)).unwrap_or(0);
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let printed = Arc::new(AtomicU64::new(0));
    let over = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .map(|pipe| {
        let (printed, over, cap) = (printed.clone(), over.clone(), limits.output);
        std::thread::spawn(move || pipe.map(|p| drain(p, printed, cap, over)).unwrap_or_default())
    })
    .collect();
    let mut o = Outcome::default();
    let mut polls = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        polls += 1;
        let disk_over = polls.is_multiple_of(5)
            && limits.disk.as_ref().is_some_and(|(d, cap)| allocated(d).saturating_sub(disk_start) > *cap);
        let late = started.elapsed() > limits.time;
        if late || over.load(Ordering::Relaxed) || disk_over {
            o.timed_out = late;
            o.disk_exceeded = disk_over;
            kill_group(child.id());
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(if polls < 100 { 2 } else { 10 }));
    };
    o.elapsed = started.elapsed();
    let mut outputs = readers.into_iter().map(|r| r.join().unwrap_or_default());
    let (stdout, hash) = outputs.next().unwrap_or_default();
    let (stderr, _) = outputs.next().unwrap_or_default();
    o.output_exceeded = over.load(Ordering::Relaxed);
    o.printed = printed.load(Ordering::Relaxed);
    o.disk_used = limits.disk.as_ref().map(|(d, _)| allocated(d).saturating_sub(disk_start)).unwrap_or(0);
    o.stdout = stdout;
    o.stderr = stderr;
    o.stdout_hash = hash;
    o.code = status.code();
    o.signal = status.signal();
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            data: 1 << 30,
            address_space: 8 << 30,
            stack: 8 << 20,
            time: Duration::from_secs(5),
            output: 1 << 20,
            disk: None,
        }
    }

    fn sh(script: &str, l: &Limits) -> Outcome {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        run(c, l).expect("run sh")
    }

    #[test]
    fn exit_codes_and_output_come_back() {
        let o = sh("printf 'one\\ntwo\\n'; echo oops >&2; exit 2", &limits());
        assert_eq!((o.code, o.signal, o.timed_out, o.output_exceeded), (Some(2), None, false, false));
        assert_eq!(o.stdout_text(), "one\ntwo\n");
        assert_eq!(o.stderr_text(), "oops\n");
        assert_eq!(o.printed, 13);
        let fnv = b"one\ntwo\n"
            .iter()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        assert_eq!(o.stdout_hash, fnv);
    }

    #[test]
    fn a_hang_is_killed_at_the_time_limit() {
        let l = Limits { time: Duration::from_millis(300), ..limits() };
        let o = sh("sleep 30; echo never", &l);
        assert!(o.timed_out && o.signal == Some(libc::SIGKILL), "{o:?}");
        assert!(o.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn endless_output_is_cut_at_the_cap() {
        let o = sh("exec yes", &limits());
        assert!(o.output_exceeded && o.code.is_none(), "{o:?}");
        assert!(o.printed > 1 << 20 && o.stdout.len() == KEEP);
    }

    #[test]
    fn disk_use_beyond_the_allowance_is_stopped() {
        let dir = crate::scratch();
        let l = Limits { disk: Some((dir.path().to_path_buf(), 1 << 20)), ..limits() };
        let o = sh(&format!("while :; do head -c 1048576 /dev/zero >> {}/f; done", dir.path().display()), &l);
        assert!(o.disk_exceeded && !o.timed_out, "{o:?}");
        assert!(o.disk_used > 1 << 20);
    }

    #[test]
    fn the_stack_limit_reaches_the_child() {
        let o = sh("ulimit -s; ulimit -d", &Limits { stack: 4 << 20, data: 512 << 20, ..limits() });
        assert_eq!(o.stdout_text(), "4096\n524288\n");
    }
}
