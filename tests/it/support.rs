//! Helpers shared by the integration tests: running the `bench` binary as a user would, and
//! small file conveniences. Each test module keeps only what is its own.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (where `scenarios/` and `prices/` are).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `bench` binary with `args`, run from `dir`, without colour codes in its output.
pub fn bench_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the bench binary runs")
}

/// The `bench` binary with `args`, run from the repository root.
pub fn bench(args: &[&str]) -> Output {
    bench_in(&repo(), args)
}

/// The `bench` binary with `args` and `stdin` as its standard input.
pub fn bench_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the bench binary starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("bench reads its stdin");
    child.wait_with_output().expect("the bench binary runs")
}

/// Text of a byte stream (stdout or stderr), invalid UTF-8 replaced.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard output then standard error, as one text.
pub fn all_text(o: &Output) -> String {
    format!("{}{}", text(&o.stdout), text(&o.stderr))
}

/// Writes `contents` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("the test directory is writable");
    path
}
