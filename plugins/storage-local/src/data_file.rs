//! Upload data files written through `wasi:filesystem` descriptors directly.
//!
//! Why not `std::fs::File`: on wasm32-wasip2 std writes a file through an output
//! stream, at most 64 KiB per `write` (`check-write`), and wasmtime-wasi runs each
//! stream write on tokio's blocking pool — a 1 MiB chunk became 16 host calls, 16
//! `pwrite`s and 16 thread hops (seen with `strace`). `descriptor.write` takes the
//! whole chunk in one call and does one `pwrite` on the calling thread (plugin stores
//! allow blocking there). docs/BENCHMARKS.md has the effect.

use std::io;
use std::path::Path;

use wasip2::filesystem::preopens::get_directories;
use wasip2::filesystem::types::{Descriptor, DescriptorFlags, ErrorCode, OpenFlags, PathFlags};

/// A new file opened for writing at explicit offsets.
pub struct DataFile(Descriptor);

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

/// Creates `path` (absolute, under one of the preopened directories), failing if it
/// exists.
pub fn create(path: &Path) -> io::Result<DataFile> {
    let path = path
        .to_str()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "a non-UTF-8 path"))?;
    for (dir, root) in get_directories() {
        let Some(rel) = path
            .strip_prefix(root.as_str())
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        return dir
            .open_at(
                PathFlags::empty(),
                rel,
                OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                DescriptorFlags::WRITE,
            )
            .map(DataFile)
            .map_err(err);
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{path}: not under a granted directory"),
    ))
}

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
