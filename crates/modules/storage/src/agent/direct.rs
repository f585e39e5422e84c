//! Shard files written and read past the page cache (`O_DIRECT`): a provider keeps other
//! people's shards, which stay cold until a challenge or a download, so copying them through
//! its page cache only costs CPU and evicts what the machine does use (Ceph's BlueStore and
//! ScyllaDB do the same). Direct I/O needs buffers, offsets and lengths aligned to the disk's
//! blocks: [`AlignedBlock`]s hold the bytes, recycled through a [`BlockPool`] (fresh memory
//! costs a page fault and zeroing per page). [`DirectFile`] writes whole blocks and the
//! unaligned tail through the page cache; [`read_block`] reads whole blocks, the last one
//! rounded up. A file system without `O_DIRECT` (tmpfs, some overlays) gets ordinary reads
//! and writes, synced every [`SYNC_EVERY_BYTES`].

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bytes of a [`DirectFile`]'s staging block (its writes are this long but the last).
pub const DIRECT_WRITE_BYTES: usize = 4 << 20;
/// Alignment of direct writes' buffer, offset and length, bytes (a multiple of every
/// logical block size in use: 512 and 4096).
pub const DIRECT_ALIGN_BYTES: usize = 4096;

/// A buffer whose bytes start at a [`DIRECT_ALIGN_BYTES`] boundary, filled front to back:
/// what a direct write takes without a copy.
pub struct AlignedBlock {
    buf: Vec<u8>,
    start: usize,
    len: usize,
    capacity: usize,
}

impl AlignedBlock {
    /// An empty block of `capacity` bytes (rounded up to [`DIRECT_ALIGN_BYTES`]); its
    /// memory is allocated, once, when first filled.
    pub fn new(capacity: usize) -> AlignedBlock {
        AlignedBlock {
            buf: Vec::new(),
            start: 0,
            len: 0,
            capacity: capacity.max(1).next_multiple_of(DIRECT_ALIGN_BYTES),
        }
    }

    /// Copies as much of `bytes` as fits; the bytes taken.
    pub fn fill_from(&mut self, bytes: &[u8]) -> usize {
        if self.buf.is_empty() {
            self.buf = vec![0u8; self.capacity + DIRECT_ALIGN_BYTES];
            self.start = self.buf.as_ptr().align_offset(DIRECT_ALIGN_BYTES);
            assert!(
                self.start < DIRECT_ALIGN_BYTES,
                "a byte buffer can be aligned"
            );
        }
        let n = bytes.len().min(self.capacity - self.len);
        let at = self.start + self.len;
        self.buf[at..at + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        n
    }

    /// Lets `fill` write into the unfilled rest of the block (aligned in memory while the
    /// block is empty) and counts the bytes it says it wrote.
    ///
    /// Errors: `fill`'s.
    pub fn fill_with(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            self.fill_from(&[]);
        }
        let at = self.start + self.len;
        let spare = &mut self.buf[at..self.start + self.capacity];
        let n = fill(spare)?;
        assert!(n <= self.capacity - self.len, "fills at most the room left");
        self.len += n;
        Ok(n)
    }

    /// Keeps only the first `len` bytes filled.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The bytes filled so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// Whether it holds its capacity.
    pub fn is_full(&self) -> bool {
        self.len == self.capacity
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties it (keeping its memory).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Drops the first `n` bytes, moving the rest to the front.
    fn consume(&mut self, n: usize) {
        assert!(n <= self.len, "consumes only what it holds");
        let from = self.start;
        self.buf.copy_within(from + n..from + self.len, from);
        self.len -= n;
    }
}

/// Most blocks a [`BlockPool`] keeps for reuse.
pub const MAX_POOLED_BLOCKS: usize = 64;

/// Aligned blocks of one size, given back when their holder drops them: reused memory is
/// warm, fresh memory costs a page fault and zeroing per page.
#[derive(Clone)]
pub struct BlockPool {
    blocks: std::sync::Arc<std::sync::Mutex<Vec<AlignedBlock>>>,
    block_bytes: usize,
}

impl BlockPool {
    /// A pool of blocks of `block_bytes`.
    pub fn new(block_bytes: usize) -> BlockPool {
        BlockPool {
            blocks: std::sync::Arc::default(),
            block_bytes,
        }
    }

    /// An empty block: a reused one if any.
    pub fn take(&self) -> PooledBlock {
        let reused = self.blocks.lock().ok().and_then(|mut b| b.pop());
        let mut block = reused.unwrap_or_else(|| AlignedBlock::new(self.block_bytes));
        block.clear();
        PooledBlock {
            block,
            pool: self.clone(),
        }
    }
}

/// A block of a [`BlockPool`], given back to it when dropped (on whatever thread).
pub struct PooledBlock {
    block: AlignedBlock,
    pool: BlockPool,
}

impl std::ops::Deref for PooledBlock {
    type Target = AlignedBlock;
    fn deref(&self) -> &AlignedBlock {
        &self.block
    }
}

impl std::ops::DerefMut for PooledBlock {
    fn deref_mut(&mut self) -> &mut AlignedBlock {
        &mut self.block
    }
}

impl AsRef<[u8]> for PooledBlock {
    fn as_ref(&self) -> &[u8] {
        self.block.bytes()
    }
}

impl Drop for PooledBlock {
    fn drop(&mut self) {
        let block = std::mem::replace(&mut self.block, AlignedBlock::new(0));
        if let Ok(mut blocks) = self.pool.blocks.lock() {
            if blocks.len() < MAX_POOLED_BLOCKS {
                blocks.push(block);
            }
        }
    }
}

/// Opens `path` for reading past the page cache where the file system allows (`O_DIRECT`;
/// reads must then be aligned in memory, offset and length, as [`read_block`] makes them),
/// and says whether it did.
///
/// Errors: the file system's.
pub fn open_direct(path: &Path) -> std::io::Result<(File, bool)> {
    open_with_fallback(std::fs::OpenOptions::new().read(true), path)
}

/// Opens `path` with `options` plus `O_DIRECT`, or with `options` alone where the file
/// system refuses `O_DIRECT` (`EINVAL`); says whether the file is direct.
fn open_with_fallback(
    options: &std::fs::OpenOptions,
    path: &Path,
) -> std::io::Result<(File, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    match options.clone().custom_flags(libc::O_DIRECT).open(path) {
        Ok(f) => Ok((f, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok((options.open(path)?, false)),
        Err(e) => Err(e),
    }
}

/// Reads the next `want` bytes of `file` (at most the block's capacity) into the empty
/// `block`: whole aligned reads, the last one rounded up (a direct read stops at the end of
/// the file). The bytes read, fewer than `want` only at the end of the file.
///
/// Errors: the file system's.
pub fn read_block(
    file: &mut File,
    block: &mut AlignedBlock,
    want: usize,
) -> std::io::Result<usize> {
    use std::io::Read;
    assert!(block.is_empty(), "reads into an empty block");
    let got = block.fill_with(|room| {
        let asked = want.next_multiple_of(DIRECT_ALIGN_BYTES).min(room.len());
        let mut got = 0;
        // Bounded: each turn reads at least one byte or stops.
        while got < want.min(asked) {
            match file.read(&mut room[got..asked]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    })?;
    block.truncate(want);
    Ok(got.min(want))
}

/// A new file written front to back, past the page cache where the file system allows.
pub struct DirectFile {
    sink: Sink,
    path: PathBuf,
    /// Bytes written but not yet handed to the file system.
    staged: AlignedBlock,
    /// Bytes handed to the file system so far (a multiple of `DIRECT_ALIGN_BYTES` while
    /// direct).
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
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        let (file, is_direct) = match direct {
            true => open_with_fallback(&options, path)?,
            false => (options.open(path)?, false),
        };
        let sink = match is_direct {
            true => Sink::Direct(file),
            false => Sink::Buffered(SyncingFile::new(file)),
        };
        Ok(DirectFile {
            sink,
            path: path.to_path_buf(),
            staged: AlignedBlock::new(DIRECT_WRITE_BYTES),
            written_bytes: 0,
        })
    }

    /// Whether writes bypass the page cache.
    pub fn is_direct(&self) -> bool {
        matches!(self.sink, Sink::Direct(_))
    }

    /// Writes `block` next: straight from its memory when nothing is staged and its length
    /// is aligned, else through the staging block.
    ///
    /// Errors: the file system's.
    pub fn write_block(&mut self, block: &AlignedBlock) -> std::io::Result<()> {
        let len = block.bytes().len();
        if self.staged.is_empty() && len % DIRECT_ALIGN_BYTES == 0 {
            hand_over(&mut self.sink, block.bytes())?;
            self.written_bytes += len as u64;
            return Ok(());
        }
        self.write_all(block.bytes())
    }

    /// Hands the first `len` staged bytes to the file system and keeps the rest staged.
    fn write_staged(&mut self, len: usize) -> std::io::Result<()> {
        hand_over(&mut self.sink, &self.staged.bytes()[..len])?;
        self.written_bytes += len as u64;
        self.staged.consume(len);
        Ok(())
    }

    /// Writes what is staged (the unaligned tail through the page cache), syncs data and
    /// metadata, and gives back the bytes written.
    ///
    /// Errors: the file system's.
    pub fn finish(mut self) -> std::io::Result<u64> {
        let held = self.staged.bytes().len();
        let aligned = match self.sink {
            Sink::Direct(_) => held / DIRECT_ALIGN_BYTES * DIRECT_ALIGN_BYTES,
            Sink::Buffered(_) => held,
        };
        self.write_staged(aligned)?;
        if !self.staged.is_empty() {
            // The tail: an ordinary handle, at the end of what was written directly.
            use std::io::{Seek, SeekFrom};
            let mut tail = std::fs::OpenOptions::new().write(true).open(&self.path)?;
            tail.seek(SeekFrom::Start(self.written_bytes))?;
            tail.write_all(self.staged.bytes())?;
            self.written_bytes += self.staged.bytes().len() as u64;
            self.staged.clear();
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

/// Hands `bytes` (aligned in memory and length when direct) to the file system.
fn hand_over(sink: &mut Sink, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    match sink {
        Sink::Direct(f) => {
            let aligned = |x: usize| x % DIRECT_ALIGN_BYTES == 0;
            assert!(
                aligned(bytes.as_ptr() as usize) && aligned(bytes.len()),
                "direct writes are aligned"
            );
            f.write_all(bytes)
        }
        Sink::Buffered(f) => f.write_all(bytes),
    }
}

impl Write for DirectFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let n = self.staged.fill_from(bytes);
        if self.staged.is_full() {
            self.write_staged(self.staged.bytes().len())?;
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
            // Whole blocks straight from their memory, then pieces through the staging.
            let whole = len / DIRECT_WRITE_BYTES / 2 * DIRECT_WRITE_BYTES;
            for part in bytes[..whole].chunks(DIRECT_WRITE_BYTES) {
                let mut block = AlignedBlock::new(DIRECT_WRITE_BYTES);
                assert_eq!(block.fill_from(part), part.len());
                f.write_block(&block).expect("write a block");
            }
            for piece in bytes[whole..].chunks(65_537) {
                f.write_all(piece).expect("write");
            }
            assert_eq!(f.finish().expect("finish"), len as u64);
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "{len} {direct}");
        }
    }

    #[test]
    fn a_file_read_in_blocks_comes_back_byte_for_byte_and_short_only_at_its_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pool = BlockPool::new(64 << 10);
        for len in [0usize, 1, 4095, 4097, (64 << 10) * 3 + 5] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 11 % 253) as u8).collect();
            let path = dir.path().join(format!("{len}.shard"));
            std::fs::write(&path, &bytes).expect("write");
            let (mut file, _) = open_direct(&path).expect("open");
            let mut back = Vec::new();
            // Bounded: each turn reads a full block, or the end.
            loop {
                let mut block = pool.take();
                let got = read_block(&mut file, &mut block, 64 << 10).expect("read");
                back.extend_from_slice(block.bytes());
                assert_eq!(got, block.bytes().len());
                if got < 64 << 10 {
                    break;
                }
            }
            assert_eq!(back, bytes, "length {len}");
        }
        assert!(
            !pool.blocks.lock().expect("pool").is_empty(),
            "blocks came back"
        );
    }
}
