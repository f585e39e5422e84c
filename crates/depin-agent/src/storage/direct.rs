//! Shard files written past the page cache (`O_DIRECT`): a provider keeps other people's
//! shards, which stay cold until a challenge or a download, so copying them into its page
//! cache only costs CPU and evicts what the machine does use (Ceph's BlueStore and ScyllaDB
//! write the same way). Bytes are staged in an aligned buffer of [`DIRECT_WRITE_BYTES`] and
//! written a whole buffer at a time; the unaligned tail goes through the page cache. A file
//! system without `O_DIRECT` (tmpfs, some overlays) gets ordinary writes, synced every
//! [`SYNC_EVERY_BYTES`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes of each direct write (the staging buffer's size).
pub const DIRECT_WRITE_BYTES: usize = 4 << 20;
/// Alignment of direct writes' buffer, offset and length, bytes (a multiple of every
/// logical block size in use: 512 and 4096).
pub const DIRECT_ALIGN_BYTES: usize = 4096;

/// A new file written front to back, past the page cache where the file system allows.
pub struct DirectFile {
    sink: Sink,
    path: PathBuf,
    /// The staging buffer, `DIRECT_WRITE_BYTES` from `start` on (aligned).
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// Bytes written to the file so far (a multiple of `DIRECT_ALIGN_BYTES` while direct).
    written_bytes: u64,
}

enum Sink {
    Direct(File),
    Buffered(SyncingFile),
}

impl DirectFile {
    /// Creates (or truncates) `path`, with `O_DIRECT` when the file system takes it.
    ///
    /// Errors: the file system's.
    pub fn create(path: &Path) -> std::io::Result<DirectFile> {
        DirectFile::open(path, true)
    }

    /// Creates (or truncates) `path`, with `O_DIRECT` if `direct` and the file system
    /// takes it (it refuses with `EINVAL`), else with ordinary writes.
    fn open(path: &Path, direct: bool) -> std::io::Result<DirectFile> {
        use std::os::unix::fs::OpenOptionsExt;
        let opened = direct.then(|| {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(libc::O_DIRECT)
                .open(path)
        });
        let sink = match opened {
            Some(Ok(f)) => Sink::Direct(f),
            Some(Err(e)) if e.raw_os_error() != Some(libc::EINVAL) => return Err(e),
            _ => Sink::Buffered(SyncingFile::new(File::create(path)?)),
        };
        let buf = vec![0u8; DIRECT_WRITE_BYTES + DIRECT_ALIGN_BYTES];
        let start = buf.as_ptr().align_offset(DIRECT_ALIGN_BYTES);
        assert!(start < DIRECT_ALIGN_BYTES, "a byte buffer can be aligned");
        Ok(DirectFile {
            sink,
            path: path.to_path_buf(),
            buf,
            start,
            filled: 0,
            written_bytes: 0,
        })
    }

    /// Whether writes bypass the page cache.
    pub fn is_direct(&self) -> bool {
        matches!(self.sink, Sink::Direct(_))
    }

    /// Writes the first `len` staged bytes (`len` aligned while direct) and keeps the rest.
    fn write_staged(&mut self, len: usize) -> std::io::Result<()> {
        let from = self.start;
        let bytes = &self.buf[from..from + len];
        match &mut self.sink {
            Sink::Direct(f) => {
                assert_eq!(len % DIRECT_ALIGN_BYTES, 0, "direct writes are aligned");
                f.write_all(bytes)?;
            }
            Sink::Buffered(f) => f.write_all(bytes)?,
        }
        self.buf.copy_within(from + len..from + self.filled, from);
        self.filled -= len;
        self.written_bytes += len as u64;
        Ok(())
    }

    /// Writes what is staged (the unaligned tail through the page cache), syncs data and
    /// metadata, and gives back the bytes written.
    ///
    /// Errors: the file system's.
    pub fn finish(mut self) -> std::io::Result<u64> {
        let aligned = match self.sink {
            Sink::Direct(_) => self.filled / DIRECT_ALIGN_BYTES * DIRECT_ALIGN_BYTES,
            Sink::Buffered(_) => self.filled,
        };
        self.write_staged(aligned)?;
        if self.filled > 0 {
            // The tail: an ordinary handle, at the end of what was written directly.
            use std::io::{Seek, SeekFrom};
            let mut tail = std::fs::OpenOptions::new().write(true).open(&self.path)?;
            tail.seek(SeekFrom::Start(self.written_bytes))?;
            tail.write_all(&self.buf[self.start..self.start + self.filled])?;
            self.written_bytes += self.filled as u64;
            self.filled = 0;
        }
        match self.sink {
            Sink::Direct(f) => f.sync_all()?,
            Sink::Buffered(f) => {
                f.into_synced()?;
            }
        }
        Ok(self.written_bytes)
    }
}

impl Write for DirectFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = bytes.len().min(DIRECT_WRITE_BYTES - self.filled);
        let at = self.start + self.filled;
        self.buf[at..at + n].copy_from_slice(&bytes[..n]);
        self.filled += n;
        if self.filled == DIRECT_WRITE_BYTES {
            self.write_staged(DIRECT_WRITE_BYTES)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A file being written is synced every this many bytes, so the disk writes while the rest
/// arrives instead of all at the end.
pub const SYNC_EVERY_BYTES: usize = 32 << 20;

/// A file written front to back and synced every [`SYNC_EVERY_BYTES`] (a [`DirectFile`]
/// where the file system has no `O_DIRECT`): the final sync finds little left to write.
pub struct SyncingFile {
    file: std::fs::File,
    unsynced_bytes: usize,
}

impl SyncingFile {
    /// Wraps `file`.
    pub fn new(file: std::fs::File) -> SyncingFile {
        SyncingFile {
            file,
            unsynced_bytes: 0,
        }
    }

    /// Syncs what is left (data and metadata) and gives the file back.
    ///
    /// Errors: the file system's.
    pub fn into_synced(self) -> std::io::Result<std::fs::File> {
        self.file.sync_all()?;
        Ok(self.file)
    }
}

impl std::io::Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced_bytes += n;
        if self.unsynced_bytes >= SYNC_EVERY_BYTES {
            self.file.sync_data()?;
            self.unsynced_bytes = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

const _: () = assert!(DIRECT_WRITE_BYTES % DIRECT_ALIGN_BYTES == 0);
const _: () = assert!(SYNC_EVERY_BYTES >= DIRECT_WRITE_BYTES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_written_directly_or_not_reads_back_byte_for_byte_whatever_its_length() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lens = [
            0,
            1,
            4095,
            4096,
            4097,
            DIRECT_WRITE_BYTES + 12_345,
            3 * DIRECT_WRITE_BYTES,
        ];
        for (len, direct) in lens.into_iter().flat_map(|l| [(l, true), (l, false)]) {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("{len}-{direct}.shard"));
            let mut f = DirectFile::open(&path, direct).expect("create");
            assert!(!f.is_direct() || direct, "ordinary writes when asked");
            for piece in bytes.chunks(65_537) {
                f.write_all(piece).expect("write");
            }
            assert_eq!(f.finish().expect("finish"), len as u64);
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "{len} {direct}");
        }
    }
}
