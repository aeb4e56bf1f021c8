//! Atomic file writes: write to a temporary file in the same directory, then rename it over the
//! target. A reader (or a run interrupted mid-write) sees the old file or the new one, never
//! half of one.
//!
//! The temporary file is named `.<name>.tmp-<pid>-<n>` beside the target (same directory, so the
//! rename does not cross file systems); it is removed if the writer is dropped uncommitted.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A file being written; it becomes visible at its path only on [`AtomicFile::commit`].
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `target`; nothing appears at `target` until [`AtomicFile::commit`].
    pub fn create(target: impl AsRef<Path>) -> anyhow::Result<Self> {
        let target = target.as_ref().to_path_buf();
        let name = target
            .file_name()
            .with_context(|| format!("{} has no file name to write", target.display()))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        // pid and a counter: two writers of the same file in one process never share a temp.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        temp_name.push(format!(".tmp-{}-{n}", std::process::id()));
        let temp = target.with_file_name(temp_name);
        let file = File::create(&temp).with_context(|| {
            format!(
                "cannot create {}; check the directory exists and is writable",
                temp.display()
            )
        })?;
        Ok(AtomicFile {
            target,
            temp,
            out: Some(BufWriter::new(file)),
        })
    }

    /// The path the file will have once committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Pushes what was written so far to the temporary file, and with `sync` to the disk too:
    /// a file streamed for a long time stays readable up to here if the process is killed or
    /// the machine stops. The file still appears at its path only on commit.
    pub fn checkpoint(&mut self, sync: bool) -> io::Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.flush()?;
            if sync {
                out.get_ref().sync_data()?;
            }
        }
        Ok(())
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let out = self
            .out
            .take()
            .with_context(|| format!("{} was already committed", self.target.display()))?;
        // The writer is taken, so `Drop` no longer cleans up: every failure here removes the
        // temporary file itself (a full disk must not leave hidden files behind).
        let file = match out.into_inner().map_err(|e| e.into_error()) {
            Ok(file) => file,
            Err(e) => {
                let _ = fs::remove_file(&self.temp);
                return Err(e).with_context(|| format!("cannot write {}", self.target.display()));
            }
        };
        if let Err(e) = file.sync_all() {
            drop(file);
            let _ = fs::remove_file(&self.temp);
            return Err(e).with_context(|| format!("cannot write {}", self.target.display()));
        }
        drop(file);
        if let Err(e) = fs::rename(&self.temp, &self.target) {
            // The writer is already taken, so `Drop` would not clean up: do it here.
            let _ = fs::remove_file(&self.temp);
            return Err(e).with_context(|| {
                format!(
                    "cannot rename {} to {}",
                    self.temp.display(),
                    self.target.display()
                )
            });
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.out.as_mut() {
            Some(out) => out.write(buf),
            None => Err(io::Error::other("atomic file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Not committed: the write failed or was abandoned; leave no partial file behind.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Writes a whole file atomically with `fill`; if `fill` fails, the old file (if any) stays
/// as it was and no temporary file is left.
pub fn write_with(
    target: impl AsRef<Path>,
    fill: impl FnOnce(&mut AtomicFile) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut file = AtomicFile::create(target)?;
    let target = file.target().to_path_buf();
    fill(&mut file).with_context(|| format!("cannot write {}", target.display()))?;
    file.commit()
}

/// Writes `bytes` to `target` atomically.
pub fn write_bytes(target: impl AsRef<Path>, bytes: &[u8]) -> anyhow::Result<()> {
    write_with(target, |f| Ok(f.write_all(bytes)?))
}

/// Checks that `dir` takes a file of `bytes` bytes (written, synced, removed): a folder on a
/// full disk is refused before the run, not after its whole load.
pub fn probe_writable(dir: &Path, bytes: usize) -> anyhow::Result<()> {
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    let result = (|| {
        let mut f = File::create(&probe)?;
        f.write_all(&vec![0u8; bytes])?;
        f.sync_all()
    })();
    let _ = fs::remove_file(&probe);
    result.with_context(|| {
        format!(
            "cannot write to the report directory {} (a {} KiB probe failed); free some space or choose another folder",
            dir.display(),
            bytes / 1024
        )
    })
}
