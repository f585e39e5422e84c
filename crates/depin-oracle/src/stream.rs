//! An epoch's `inputs.bin` streamed into settlement: the header is read first, then the
//! reports go one batch at a time from a reading thread (decoding, and hashing the bytes for
//! the inputs digest) to settlement (module collectors). Only the header, the modules'
//! compact records and 3 bytes per report (its module and verdict) are ever held, so an
//! epoch of ten million reports (≈ 2 GB of borsh) settles in a fraction of its size. Report
//! ids are not needed to settle; [`crate::settle::ReportVerdicts::of`] pairs them with the
//! verdicts where they are published. The result equals
//! [`crate::settle::settle`] on the same inputs decoded whole.

use crate::settle::{EpochHeader, SettleError, Settlement, Settler};
use borsh::BorshDeserialize;
use depin_module::ResourceModule;
use depin_types::{Hash32, SignedReport};
use std::io::{BufReader, Read};
use std::sync::Arc;

/// Reports decoded per batch handed from the reading thread to settlement.
pub const REPORTS_PER_BATCH: usize = 4_096;

/// Batches in flight between the reading thread and settlement (bounds what is decoded but
/// not yet settled to `QUEUE_BATCHES × REPORTS_PER_BATCH` reports).
pub const QUEUE_BATCHES: usize = 4;

/// Read buffer, bytes.
pub const READ_BUFFER_BYTES: usize = 1 << 20;

/// Why a streamed epoch could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The bytes could not be read, or do not decode as an epoch's inputs.
    #[error("cannot read the epoch's inputs: {source}")]
    Read {
        /// The read or decode error.
        #[from]
        source: std::io::Error,
    },
    /// Bytes follow the last report.
    #[error("the epoch's inputs continue after their {reports} reports")]
    TrailingBytes {
        /// Reports the header announced.
        reports: u32,
    },
    /// The epoch itself does not settle.
    #[error(transparent)]
    Settle(#[from] SettleError),
}

/// A reader that hashes what it reads (BLAKE3, the inputs digest).
struct Hashing<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Settles the epoch whose `inputs.bin` bytes `reader` yields, streaming its reports.
/// Returns the header with the settlement.
///
/// Errors: [`StreamError::Read`] for bytes that cannot be read or decoded,
/// [`StreamError::TrailingBytes`] for bytes after the last report, [`StreamError::Settle`]
/// when settlement fails.
pub fn settle_reader<R: Read + Send>(
    reader: R,
    modules: &[Arc<dyn ResourceModule>],
) -> Result<(EpochHeader, Settlement), StreamError> {
    let hashing = Hashing {
        inner: reader,
        hasher: blake3::Hasher::new(),
    };
    let mut r = BufReader::with_capacity(READ_BUFFER_BYTES, hashing);
    let header = EpochHeader::deserialize_reader(&mut r)?;
    let count = u32::deserialize_reader(&mut r)?;
    let settlement = {
        let mut settler = Settler::new(&header, modules, count as usize)?;
        let mut r = stream_into(&mut settler, r, count)?;
        let mut probe = [0u8; 1];
        if r.read(&mut probe)? != 0 {
            return Err(StreamError::TrailingBytes { reports: count });
        }
        let digest = Hash32(*r.into_inner().hasher.finalize().as_bytes());
        settler.finish(digest)?
    };
    Ok((header, settlement))
}

/// Feeds `count` reports decoded from `r` (on a reading thread) to `settler`; returns the
/// reader after the last one.
fn stream_into<R: Read + Send>(
    settler: &mut Settler<'_>,
    mut r: R,
    count: u32,
) -> Result<R, StreamError> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<SignedReport>>(QUEUE_BATCHES);
        let reading = scope.spawn(move || -> std::io::Result<R> {
            let mut left = count as usize;
            while left > 0 {
                let n = left.min(REPORTS_PER_BATCH);
                let mut batch = Vec::with_capacity(n);
                for _ in 0..n {
                    batch.push(SignedReport::deserialize_reader(&mut r)?);
                }
                left -= n;
                if tx.send(batch).is_err() {
                    break; // settlement stopped taking reports
                }
            }
            Ok(r)
        });
        for batch in rx {
            for report in &batch {
                settler.push(report);
            }
        }
        let r = reading
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))?;
        Ok(r)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settle::settle;
    use crate::settle::tests::{inputs, Fake};

    fn modules() -> Vec<Arc<dyn ResourceModule>> {
        vec![Arc::new(Fake)]
    }

    #[test]
    fn a_streamed_epoch_settles_exactly_as_the_same_epoch_in_memory() {
        let i = inputs(1_000);
        let whole = settle(&i, &modules()).expect("settles");
        let bytes = i.to_bytes();
        let (header, streamed) = settle_reader(bytes.as_slice(), &modules()).expect("settles");
        assert_eq!(header, i.header);
        assert_eq!(streamed, whole);
        assert_eq!(
            streamed.manifest.inputs_digest,
            crate::settle::inputs_digest(&bytes).to_hex()
        );
    }

    #[test]
    fn trailing_or_missing_bytes_are_errors_not_a_settlement() {
        let mut bytes = inputs(7).to_bytes();
        bytes.push(0);
        let err = settle_reader(bytes.as_slice(), &modules()).expect_err("trailing");
        assert!(
            matches!(err, StreamError::TrailingBytes { reports: 4 }),
            "{err}"
        );
        bytes.truncate(bytes.len() - 10);
        let err = settle_reader(bytes.as_slice(), &modules()).expect_err("truncated");
        assert!(matches!(err, StreamError::Read { .. }), "{err}");
    }
}
