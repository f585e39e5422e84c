//! The durable report log: append-only segment files, fsync'd before anything in them is
//! acknowledged (group commit: one `fdatasync` covers every append waiting at that moment).
//!
//! Record framing: `len u32 LE ‖ crc32 u32 LE ‖ payload[len]` (CRC-32/ISO-HDLC of the payload).
//! Records are never empty, so an all-zero header marks the end of a segment's records.
//!
//! Segments are preallocated: each is created [`SEGMENT_MAX_BYTES`] long and zero-filled (on
//! a background thread, one segment ahead) before its first append, and appends overwrite the
//! zeros in place. An append's `fdatasync` then changes neither the file's size nor its
//! block map, so it flushes data only and never waits for a file-system journal commit —
//! PostgreSQL's WAL and TigerBeetle's data file are preallocated for the same reason.
//!
//! On open, every segment is read back; a torn or corrupt record at the end of the last
//! segment (a crash mid-append, never acknowledged) is zeroed; anywhere else it is an error,
//! because acknowledged data would be missing.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Size of a segment file, preallocated; an append that would pass it starts the next
/// segment (a single append larger than a segment extends its file).
pub const SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Zeros written per call when a segment is preallocated or a torn tail is cleared.
const ZERO_CHUNK_BYTES: usize = 1024 * 1024;
/// Extension of the segment being preallocated (not read as a segment).
const PREPARED_EXTENSION: &str = "log.next";
/// Largest record payload.
pub const MAX_RECORD_BYTES: u32 = 16 * 1024 * 1024;
const HEADER_BYTES: usize = 8;

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file system failed.
    #[error("report log i/o at {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A record before the end of the log does not check out.
    #[error("report log corrupt in {path} at byte {offset}: {reason}")]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An empty record (its header would read as the end of the segment).
    #[error("empty record")]
    Empty,
    /// A record too large to frame.
    #[error("record of {size_bytes} bytes is over the {MAX_RECORD_BYTES}-byte limit")]
    TooLarge {
        /// Its size.
        size_bytes: usize,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An open log, positioned for appends.
pub struct Log {
    dir: PathBuf,
    index: u64,
    file: File,
    /// Bytes of records in the current segment (where the next append writes).
    len_bytes: u64,
    /// End of what a failed append may have written past `len_bytes` (0: nothing).
    failed_end: u64,
    /// The next segment being preallocated.
    next: Option<std::thread::JoinHandle<Result<(), LogError>>>,
}

fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("seg-{index:010}.log"))
}

fn segment_indices(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io(dir))? {
        let name = e.map_err(io(dir))?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("seg-")
            .and_then(|s| s.strip_suffix(".log"))
        {
            if let Ok(i) = n.parse::<u64>() {
                out.push(i);
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// One segment read back.
struct SegmentRead {
    records: Vec<Vec<u8>>,
    /// Length of the valid prefix, bytes.
    valid_bytes: u64,
    /// Why reading stopped before the end, if it did.
    bad: Option<String>,
}

/// Reads one segment's records up to the first bad one.
fn read_segment(path: &Path) -> Result<SegmentRead, LogError> {
    let f = File::open(path).map_err(io(path))?;
    let total = f.metadata().map_err(io(path))?.len();
    let mut r = BufReader::new(f);
    let (mut out, mut offset) = (Vec::new(), 0u64);
    loop {
        if offset == total {
            return Ok(SegmentRead {
                records: out,
                valid_bytes: offset,
                bad: None,
            });
        }
        let mut hdr = [0u8; HEADER_BYTES];
        let have = usize::try_from(total - offset).map_or(HEADER_BYTES, |r| r.min(HEADER_BYTES));
        r.read_exact(&mut hdr[..have]).map_err(io(path))?;
        if hdr == [0u8; HEADER_BYTES] {
            // The preallocated zeros after the last record (a segment may end with fewer
            // zeros than a header).
            return Ok(SegmentRead {
                records: out,
                valid_bytes: offset,
                bad: None,
            });
        }
        if have < HEADER_BYTES {
            return Ok(SegmentRead {
                records: out,
                valid_bytes: offset,
                bad: Some("torn record header".into()),
            });
        }
        let len = u32::from_le_bytes(hdr[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(hdr[4..].try_into().expect("4 bytes"));
        if len > MAX_RECORD_BYTES || total - offset - (HEADER_BYTES as u64) < u64::from(len) {
            let bad = Some(format!("record of {len} bytes runs past the end"));
            return Ok(SegmentRead {
                records: out,
                valid_bytes: offset,
                bad,
            });
        }
        let mut payload = vec![0u8; len as usize];
        r.read_exact(&mut payload).map_err(io(path))?;
        if crc32fast::hash(&payload) != crc {
            return Ok(SegmentRead {
                records: out,
                valid_bytes: offset,
                bad: Some("checksum mismatch".into()),
            });
        }
        out.push(payload);
        offset += HEADER_BYTES as u64 + u64::from(len);
    }
}

impl Log {
    /// Opens the log in `dir` (created if missing) and returns every intact record in order.
    ///
    /// Errors: i/o, or [`LogError::Corrupt`] for damage before the last record.
    pub fn open(dir: &Path) -> Result<(Log, Vec<Vec<u8>>), LogError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let indices = segment_indices(dir)?;
        let mut records = Vec::new();
        let last = indices.last().copied().unwrap_or(0);
        let mut last_len = 0;
        for &i in &indices {
            let path = segment_path(dir, i);
            let SegmentRead {
                records: mut recs,
                valid_bytes: valid,
                bad,
            } = read_segment(&path)?;
            if let Some(reason) = bad {
                if i != last {
                    return Err(LogError::Corrupt {
                        path,
                        offset: valid,
                        reason,
                    });
                }
                tracing::warn!(path = %path.display(), offset = valid, %reason, "zeroing a torn tail of the report log");
            }
            records.append(&mut recs);
            last_len = valid;
        }
        let path = segment_path(dir, last);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        zero_after(&file, &path, last_len)?;
        sync_dir(dir)?;
        let mut log = Log {
            dir: dir.to_path_buf(),
            index: last,
            file,
            len_bytes: last_len,
            failed_end: 0,
            next: None,
        };
        log.prepare_next();
        Ok((log, records))
    }

    /// Appends `records` and makes them durable (`fdatasync`) before returning.
    ///
    /// Errors: [`LogError::Empty`], [`LogError::TooLarge`], i/o. After an error nothing of
    /// this call is acknowledged, and the next append first zeroes whatever it wrote (so no
    /// fragment of it is ever read back before later records).
    pub fn append_durable<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<(), LogError> {
        use std::os::unix::fs::FileExt;
        let mut buf = Vec::new();
        for r in records {
            frame(r, &mut buf)?;
        }
        self.clear_failed()?;
        if self.len_bytes > 0 && self.len_bytes + buf.len() as u64 > SEGMENT_MAX_BYTES {
            self.roll()?;
        }
        let path = segment_path(&self.dir, self.index);
        self.failed_end = self.len_bytes + buf.len() as u64;
        self.file
            .write_all_at(&buf, self.len_bytes)
            .map_err(io(&path))?;
        self.file.sync_data().map_err(io(&path))?;
        self.len_bytes += buf.len() as u64;
        self.failed_end = 0;
        Ok(())
    }

    /// Zeroes what a failed append wrote after the last acknowledged record.
    fn clear_failed(&mut self) -> Result<(), LogError> {
        if self.failed_end <= self.len_bytes {
            return Ok(());
        }
        let path = segment_path(&self.dir, self.index);
        write_zeros(&self.file, &path, self.len_bytes, self.failed_end)?;
        self.file.sync_data().map_err(io(&path))?;
        self.failed_end = 0;
        Ok(())
    }

    /// Starts preallocating the segment after the current one on a background thread.
    fn prepare_next(&mut self) {
        let path = segment_path(&self.dir, self.index + 1).with_extension(PREPARED_EXTENSION);
        self.next = Some(std::thread::spawn(move || preallocate(&path)));
    }

    /// Moves on to the next segment: its preallocated file (made now if that failed) is
    /// renamed into place and the one after it started.
    fn roll(&mut self) -> Result<(), LogError> {
        let next = segment_path(&self.dir, self.index + 1);
        let prepared = next.with_extension(PREPARED_EXTENSION);
        let ready = self.next.take().map(std::thread::JoinHandle::join);
        if !matches!(ready, Some(Ok(Ok(())))) {
            preallocate(&prepared)?;
        }
        std::fs::rename(&prepared, &next).map_err(io(&next))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&next)
            .map_err(io(&next))?;
        self.index += 1;
        self.len_bytes = 0;
        self.prepare_next();
        Ok(())
    }

    /// Number of segment files.
    pub fn segments(&self) -> Result<usize, LogError> {
        Ok(segment_indices(&self.dir)?.len())
    }
}

/// Appends `record` to `out` framed as `len ‖ crc32 ‖ record`.
///
/// Errors: [`LogError::Empty`], [`LogError::TooLarge`].
fn frame(record: &[u8], out: &mut Vec<u8>) -> Result<(), LogError> {
    if record.is_empty() {
        return Err(LogError::Empty);
    }
    let len = u32::try_from(record.len())
        .ok()
        .filter(|l| *l <= MAX_RECORD_BYTES)
        .ok_or(LogError::TooLarge {
            size_bytes: record.len(),
        })?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(record).to_le_bytes());
    out.extend_from_slice(record);
    Ok(())
}

/// Creates (or recreates) `path` as [`SEGMENT_MAX_BYTES`] of zeros, synced.
fn preallocate(path: &Path) -> Result<(), LogError> {
    let file = File::create(path).map_err(io(path))?;
    zero_after(&file, path, 0)
}

/// Makes every byte of `file` from `offset` on zero, and the file at least
/// [`SEGMENT_MAX_BYTES`] long, synced; reads first and writes only what is not zero.
fn zero_after(file: &File, path: &Path, offset: u64) -> Result<(), LogError> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata().map_err(io(path))?.len();
    let end = len.max(SEGMENT_MAX_BYTES);
    let mut chunk = vec![0u8; ZERO_CHUNK_BYTES];
    let (mut at, mut wrote) = (offset, false);
    while at < end {
        let n = usize::try_from(end - at).map_or(ZERO_CHUNK_BYTES, |r| r.min(ZERO_CHUNK_BYTES));
        let existing = if at < len {
            let have = usize::try_from(len - at).map_or(n, |r| r.min(n));
            file.read_exact_at(&mut chunk[..have], at)
                .map_err(io(path))?;
            have
        } else {
            0
        };
        if existing < n || chunk[..existing].iter().any(|b| *b != 0) {
            write_zeros(file, path, at, at + n as u64)?;
            wrote = true;
        }
        at += n as u64;
    }
    if wrote {
        file.sync_all().map_err(io(path))?;
    }
    Ok(())
}

/// Writes zeros over bytes `from..to` of `file`, [`ZERO_CHUNK_BYTES`] at a time (not synced).
fn write_zeros(file: &File, path: &Path, from: u64, to: u64) -> Result<(), LogError> {
    use std::os::unix::fs::FileExt;
    // Static, not on the stack: segments are preallocated on a thread with a small stack.
    static ZEROS: [u8; ZERO_CHUNK_BYTES] = [0; ZERO_CHUNK_BYTES];
    let mut at = from;
    while at < to {
        let n = usize::try_from(to - at).map_or(ZERO_CHUNK_BYTES, |r| r.min(ZERO_CHUNK_BYTES));
        file.write_all_at(&ZEROS[..n], at).map_err(io(path))?;
        at += n as u64;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_zeroed_not_resurrected() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, recs) = Log::open(dir.path()).unwrap();
            assert!(recs.is_empty());
            log.append_durable([&b"one"[..], b"two"]).unwrap();
            log.append_durable([&b"three"[..]]).unwrap();
        }
        let seg = segment_path(dir.path(), 0);
        let end = (3 * HEADER_BYTES + 3 + 3 + 5) as u64;
        let f = OpenOptions::new().write(true).open(&seg).unwrap();
        // A crash mid-header, and a whole record just where the next append will end.
        f.write_all_at(&[9, 0, 0, 0, 1], end).unwrap();
        let mut ghost = Vec::new();
        frame(b"ghost", &mut ghost).unwrap();
        f.write_all_at(&ghost, end + (HEADER_BYTES + 4) as u64)
            .unwrap();
        drop(f);
        let (mut log, recs) = Log::open(dir.path()).unwrap();
        assert_eq!(
            recs,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        log.append_durable([&b"four"[..]]).unwrap();
        drop(log);
        let (_, recs) = Log::open(dir.path()).unwrap();
        assert_eq!(recs.len(), 4, "the unacknowledged record is gone");
        assert_eq!(recs[3], b"four");
    }

    #[test]
    fn what_a_failed_append_wrote_is_zeroed_before_the_next_one() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path()).unwrap();
        log.append_durable([&b"kept"[..]]).unwrap();
        // As if an append of two records had been written and its fdatasync had failed.
        let mut failed = Vec::new();
        for r in [&b"lost"[..], b"also lost"] {
            frame(r, &mut failed).unwrap();
        }
        log.file.write_all_at(&failed, log.len_bytes).unwrap();
        log.failed_end = log.len_bytes + failed.len() as u64;
        log.append_durable([&b"next"[..]]).unwrap();
        drop(log);
        let (_, recs) = Log::open(dir.path()).unwrap();
        assert_eq!(recs, vec![b"kept".to_vec(), b"next".to_vec()]);
    }

    #[test]
    fn a_segment_ending_in_fewer_zeros_than_a_header_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, _) = Log::open(dir.path()).unwrap();
            // Four records filling the segment but for 3 bytes.
            let payload_bytes = usize::try_from(SEGMENT_MAX_BYTES).unwrap() - 4 * HEADER_BYTES - 3;
            let seg = segment_path(dir.path(), 0);
            let f = OpenOptions::new().write(true).open(&seg).unwrap();
            let mut at = 0u64;
            for i in 0..4 {
                use std::os::unix::fs::FileExt;
                let len = if i < 3 {
                    payload_bytes / 4
                } else {
                    payload_bytes - 3 * (payload_bytes / 4)
                };
                let mut rec = Vec::new();
                frame(&vec![1u8; len], &mut rec).unwrap();
                f.write_all_at(&rec, at).unwrap();
                at += rec.len() as u64;
            }
            assert_eq!(at, SEGMENT_MAX_BYTES - 3);
            log.len_bytes = SEGMENT_MAX_BYTES - 3;
            log.append_durable([&b"in the next segment"[..]]).unwrap();
            assert_eq!(log.segments().unwrap(), 2);
        }
        let (_, recs) = Log::open(dir.path()).expect("no corruption reported");
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[4], b"in the next segment");
    }

    #[test]
    fn segments_are_preallocated_and_appends_never_change_their_size() {
        let dir = tempfile::tempdir().unwrap();
        let seg = segment_path(dir.path(), 0);
        let (mut log, _) = Log::open(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), SEGMENT_MAX_BYTES);
        log.append_durable([&b"a record"[..]]).unwrap();
        assert_eq!(std::fs::metadata(&seg).unwrap().len(), SEGMENT_MAX_BYTES);
        assert!(matches!(
            log.append_durable([&b"x"[..], b""]),
            Err(LogError::Empty)
        ));
    }

    #[test]
    fn an_append_past_a_segment_rolls_into_the_prepared_one() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![7u8; MAX_RECORD_BYTES as usize];
        let per_segment = SEGMENT_MAX_BYTES / (u64::from(MAX_RECORD_BYTES) + 8);
        {
            let (mut log, _) = Log::open(dir.path()).unwrap();
            for _ in 0..=per_segment {
                log.append_durable([big.as_slice()]).unwrap();
            }
            log.append_durable([&b"small"[..]]).unwrap();
            assert_eq!(log.segments().unwrap(), 2);
        }
        let (_, recs) = Log::open(dir.path()).unwrap();
        assert_eq!(recs.len() as u64, per_segment + 2);
        assert_eq!(recs.last().unwrap(), b"small");
        for i in 0..2 {
            let len = std::fs::metadata(segment_path(dir.path(), i))
                .unwrap()
                .len();
            assert_eq!(len, SEGMENT_MAX_BYTES, "segment {i}");
        }
    }

    #[test]
    fn a_flipped_byte_in_an_earlier_segment_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, _) = Log::open(dir.path()).unwrap();
            log.append_durable([&b"abc"[..]]).unwrap();
            log.roll().unwrap();
            log.append_durable([&b"def"[..]]).unwrap();
        }
        let seg = segment_path(dir.path(), 0);
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes[9] ^= 1;
        std::fs::write(&seg, bytes).unwrap();
        assert!(matches!(
            Log::open(dir.path()),
            Err(LogError::Corrupt { .. })
        ));
    }
}
