//! The heartbeat agent: one signed, empty report of the `heartbeat` module every interval.

use depin_api::ReportAck;
use depin_client::{ClientError, OracleClient};
use depin_types::{Report, SecretKey};

/// A heartbeat agent's settings.
#[derive(Clone)]
pub struct HeartbeatAgent {
    /// The device key.
    pub device: SecretKey,
    /// Chain id written into reports.
    pub chain_id: String,
    /// Time between heartbeats, ms (the module counts one per epoch interval).
    pub interval_ms: u64,
}

/// What an agent did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Reports the oracle acknowledged.
    pub acknowledged: u64,
    /// Reports the oracle refused, or that could not be delivered.
    pub failed: u64,
}

impl HeartbeatAgent {
    /// One signed heartbeat stamped `now_ms`.
    pub fn heartbeat(&self, now_ms: u64) -> depin_types::SignedReport {
        let r = Report {
            chain_id: self.chain_id.clone(),
            module: crate::NAME.into(),
            device: self.device.public(),
            timestamp_ms: now_ms,
            payload: Vec::new(),
        };
        r.sign(&self.device)
    }

    /// Sends one heartbeat.
    ///
    /// Errors: the oracle's refusal (with its reason code) or a transport error.
    pub async fn beat(&self, oracle: &OracleClient, now_ms: u64) -> Result<ReportAck, ClientError> {
        oracle.submit(&self.heartbeat(now_ms)).await
    }

    /// Sends a heartbeat every `interval_ms` until `stop` turns true or `max_beats` were sent.
    pub async fn run(
        self,
        oracle: OracleClient,
        clock: fn() -> u64,
        max_beats: u64,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> AgentStats {
        let mut stats = AgentStats::default();
        let mut tick =
            tokio::time::interval(std::time::Duration::from_millis(self.interval_ms.max(1)));
        for _ in 0..max_beats {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            match self.beat(&oracle, clock()).await {
                Ok(_) => stats.acknowledged += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat not acknowledged");
                    stats.failed += 1;
                }
            }
        }
        stats
    }
}
