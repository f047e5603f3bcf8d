//! The granted directory through `wasi:filesystem` descriptors directly, for the two
//! operations where std on wasm32-wasip2 costs extra host calls.
//!
//! - Writing upload data: std writes a file through an output stream, at most 64 KiB
//!   per `write` (`check-write`), and wasmtime-wasi runs each stream write on tokio's
//!   blocking pool — a 1 MiB chunk became 16 host calls, 16 `pwrite`s and 16 thread
//!   hops (seen with `strace`). `descriptor.write` takes the whole chunk in one call and
//!   does one `pwrite` on the calling thread (plugin stores allow blocking there).
//! - `stat`: std's `symlink_metadata` is `stat-at` plus `metadata-hash-at` (wasi-libc
//!   fills `st_ino` from it), two sandboxed lookups where one answers the question.
//!
//! docs/BENCHMARKS.md has the effect of both.

use std::io;

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, OpenFlags, PathFlags,
};

fn err(e: ErrorCode) -> io::Error {
    let kind = match e {
        ErrorCode::NoEntry => io::ErrorKind::NotFound,
        ErrorCode::Exist => io::ErrorKind::AlreadyExists,
        ErrorCode::Access | ErrorCode::NotPermitted | ErrorCode::ReadOnly => {
            io::ErrorKind::PermissionDenied
        }
        ErrorCode::InsufficientSpace => io::ErrorKind::StorageFull,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e.to_string())
}

/// The preopened directory mounted at one guest path, held open for the instance.
pub struct Granted(Descriptor);

/// What `stat` tells about a path.
pub struct Stat {
    pub is_file: bool,
    pub size: u64,
    pub modified_ms: u64,
}

impl Granted {
    /// The preopen mounted at `root` (e.g. `/data`).
    pub fn open(root: &str) -> io::Result<Self> {
        get_directories()
            .into_iter()
            .find_map(|(dir, at)| (at == root).then_some(Granted(dir)))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{root}: not a granted directory"),
                )
            })
    }

    /// Creates `rel` (a path inside the directory), failing if it exists.
    pub fn create(&self, rel: &str) -> io::Result<DataFile> {
        self.0
            .open_at(
                PathFlags::empty(),
                rel,
                OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                DescriptorFlags::WRITE,
            )
            .map(DataFile)
            .map_err(err)
    }

    /// Stats `rel` without following a final symlink.
    pub fn stat(&self, rel: &str) -> io::Result<Stat> {
        let s = self.0.stat_at(PathFlags::empty(), rel).map_err(err)?;
        Ok(Stat {
            is_file: s.type_ == DescriptorType::RegularFile,
            size: s.size,
            modified_ms: s.data_modification_timestamp.map_or(0, |t| {
                t.seconds * 1000 + u64::from(t.nanoseconds / 1_000_000)
            }),
        })
    }
}

/// A new file opened for writing at explicit offsets.
pub struct DataFile(Descriptor);

impl DataFile {
    /// Writes all of `buf` at `offset`.
    pub fn write_at(&mut self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.0.write(buf, offset).map_err(err)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n as usize..];
            offset += n;
        }
        Ok(())
    }

    /// Flushes data and metadata to the disk (`fsync`).
    pub fn sync(&self) -> io::Result<()> {
        self.0.sync().map_err(err)
    }
}
