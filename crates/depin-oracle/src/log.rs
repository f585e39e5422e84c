//! The durable report log: append-only segment files, fsync'd before anything in them is
//! acknowledged (group commit: one `fdatasync` covers every append waiting at that moment).
//!
//! Record framing: `len u32 LE ‖ crc32 u32 LE ‖ payload[len]` (CRC-32/ISO-HDLC of the payload).
//! A segment rolls over at [`SEGMENT_MAX_BYTES`]. On open, every segment is read back; a torn
//! or corrupt record at the end of the last segment (a crash mid-append, never acknowledged)
//! is cut off; anywhere else it is an error, because acknowledged data would be missing.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A segment is closed and a new one started past this size.
pub const SEGMENT_MAX_BYTES: u64 = 64 * 1024 * 1024;
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
    len_bytes: u64,
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
        if total - offset < HEADER_BYTES as u64 || r.read_exact(&mut hdr).is_err() {
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
                tracing::warn!(path = %path.display(), offset = valid, %reason, "cutting a torn tail off the report log");
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                f.set_len(valid).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
            }
            records.append(&mut recs);
            last_len = valid;
        }
        let path = segment_path(dir, last);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        file.seek(SeekFrom::End(0)).map_err(io(&path))?;
        sync_dir(dir)?;
        let log = Log {
            dir: dir.to_path_buf(),
            index: last,
            file,
            len_bytes: last_len,
        };
        Ok((log, records))
    }

    /// Appends `records` and makes them durable (`fdatasync`) before returning.
    ///
    /// Errors: [`LogError::TooLarge`], i/o. After an error nothing of this call is
    /// acknowledged; the next open cuts a partial record.
    pub fn append_durable<'r>(
        &mut self,
        records: impl IntoIterator<Item = &'r [u8]>,
    ) -> Result<(), LogError> {
        if self.len_bytes >= SEGMENT_MAX_BYTES {
            self.roll()?;
        }
        let mut buf = Vec::new();
        for r in records {
            let len = u32::try_from(r.len())
                .ok()
                .filter(|l| *l <= MAX_RECORD_BYTES);
            let len = len.ok_or(LogError::TooLarge {
                size_bytes: r.len(),
            })?;
            buf.extend_from_slice(&len.to_le_bytes());
            buf.extend_from_slice(&crc32fast::hash(r).to_le_bytes());
            buf.extend_from_slice(r);
        }
        let path = segment_path(&self.dir, self.index);
        self.file.write_all(&buf).map_err(io(&path))?;
        self.file.sync_data().map_err(io(&path))?;
        self.len_bytes += buf.len() as u64;
        Ok(())
    }

    fn roll(&mut self) -> Result<(), LogError> {
        self.index += 1;
        let path = segment_path(&self.dir, self.index);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        self.len_bytes = 0;
        sync_dir(&self.dir)
    }

    /// Number of segment files.
    pub fn segments(&self) -> Result<usize, LogError> {
        Ok(segment_indices(&self.dir)?.len())
    }
}

fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, recs) = Log::open(dir.path()).unwrap();
            assert!(recs.is_empty());
            log.append_durable([&b"one"[..], b"two"]).unwrap();
            log.append_durable([&b"three"[..]]).unwrap();
        }
        let seg = segment_path(dir.path(), 0);
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[9, 0, 0, 0, 1]).unwrap(); // a crash mid-header
        drop(f);
        let (mut log, recs) = Log::open(dir.path()).unwrap();
        assert_eq!(
            recs,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        log.append_durable([&b"four"[..]]).unwrap();
        drop(log);
        let (_, recs) = Log::open(dir.path()).unwrap();
        assert_eq!(recs.len(), 4);
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
