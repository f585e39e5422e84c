//! The epoch's reports as compact records, taken one at a time ([`depin_module::EpochCollector`]):
//! a witness keeps its reporter (an index into the epoch's keys), time, heard frame (an index
//! into the epoch's distinct frames), signal, SNR and frequency — 40 bytes instead of a
//! ~320-byte decoded report — so a Helium-scale epoch (ten million witnesses) verifies in a
//! few hundred MB. Beacons and packets (one per hotspot and interval, or per paid packet)
//! are kept whole.

use crate::payload::{BeaconReport, CoveragePayload, PacketReport, WitnessReport};
use crate::Lookup;
use depin_types::{PublicKey, Report};

/// What a report carried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// The payload does not decode.
    Malformed,
    /// A beacon: its index in [`Records::beacons`] and its frame.
    Beacon {
        /// Index in [`Records::beacons`].
        beacon: u32,
        /// Frame index.
        frame: u32,
    },
    /// A witness of the frame `frame`.
    Witness {
        /// Frame index.
        frame: u32,
        /// Received signal strength, dBm × 10.
        signal_ddbm: i32,
        /// Signal-to-noise ratio, dB × 10.
        snr_ddb: i32,
        /// Frequency heard, Hz.
        frequency_hz: u64,
    },
    /// A packet: its index in [`Records::packets`].
    Packet(u32),
}

/// One report.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rec {
    /// Index of the reporting device in [`Records::keys`].
    pub device: u32,
    /// The report's time, ms.
    pub timestamp_ms: u64,
    /// What it carried.
    pub body: Body,
}

/// The epoch's reports, in push order.
#[derive(Default)]
pub(crate) struct Records {
    /// One record per report.
    pub recs: Vec<Rec>,
    /// Every reporting device, in order of first report.
    pub keys: Vec<PublicKey>,
    /// Index of each key in `keys`, while reports are taken ([`Records::seal`] drops it).
    key_index: Lookup<PublicKey, u32>,
    /// Index of each distinct frame (beacon payload bytes), while reports are taken.
    frames: Lookup<Vec<u8>, u32>,
    /// Distinct frames seen.
    frame_count: u32,
    /// The beacons, whole.
    pub beacons: Vec<BeaconReport>,
    /// The packets, whole.
    pub packets: Vec<PacketReport>,
    /// Whether [`Records::seal`] ran.
    sealed: bool,
}

/// `n` as a record index.
fn index(n: usize) -> u32 {
    u32::try_from(n).expect("an epoch holds fewer than 2^32 reports of a kind")
}

impl Records {
    /// Takes the next report. Panics after [`Records::seal`] (a caller's bug).
    pub fn push(&mut self, r: &Report) {
        assert!(!self.sealed, "records take no report once sealed");
        let device = self.key(r.device);
        let body = match CoveragePayload::decode(&r.payload) {
            Err(_) => Body::Malformed,
            Ok(CoveragePayload::Beacon(b)) => {
                let frame = self.frame(&b.data);
                self.beacons.push(b);
                Body::Beacon {
                    beacon: index(self.beacons.len() - 1),
                    frame,
                }
            }
            Ok(CoveragePayload::Witness(w)) => Body::Witness {
                frame: self.frame(&w.data),
                signal_ddbm: w.signal_ddbm,
                snr_ddb: w.snr_ddb,
                frequency_hz: w.frequency_hz,
            },
            Ok(CoveragePayload::Packet(p)) => {
                self.packets.push(p);
                Body::Packet(index(self.packets.len() - 1))
            }
        };
        self.recs.push(Rec {
            device,
            timestamp_ms: r.timestamp_ms,
            body,
        });
    }

    /// Distinct frames seen.
    pub fn frame_count(&self) -> usize {
        self.frame_count as usize
    }

    /// Drops the lookups only taking reports needs (about 150 MB for a million hotspots)
    /// before the epoch is verified. Taking a report after this panics.
    pub fn seal(&mut self) {
        self.key_index = Lookup::default();
        self.frames = Lookup::default();
        self.sealed = true;
    }

    /// The key of record `i`'s device.
    pub fn device(&self, i: usize) -> PublicKey {
        self.keys[self.recs[i].device as usize]
    }

    /// Record `i`'s witness, `None` if it is not one. Its heard frame is not kept: it is the
    /// frame of the beacon it was grouped with.
    pub fn witness(&self, i: usize) -> Option<WitnessReport> {
        match self.recs[i].body {
            Body::Witness {
                signal_ddbm,
                snr_ddb,
                frequency_hz,
                ..
            } => Some(WitnessReport {
                data: Vec::new(),
                signal_ddbm,
                snr_ddb,
                frequency_hz,
            }),
            _ => None,
        }
    }

    fn key(&mut self, k: PublicKey) -> u32 {
        if let Some(i) = self.key_index.get(&k) {
            return *i;
        }
        let i = index(self.keys.len());
        self.keys.push(k);
        self.key_index.insert(k, i);
        i
    }

    fn frame(&mut self, data: &[u8]) -> u32 {
        if let Some(i) = self.frames.get(data) {
            return *i;
        }
        let i = self.frame_count;
        self.frames.insert(data.to_vec(), i);
        self.frame_count = index(self.frames.len());
        i
    }
}
