//! Group commit: batches that arrive while a write is running are written together in the next one, and
//! each request still gets its own answer after the write that holds it is durable.
//!
//! Every request queues its readings and then waits for the writer lock. Whoever holds the lock takes
//! everything queued, its own batch and those of the requests that arrived meanwhile, writes it to the
//! log with one sync and answers each request from the per-reading outcome. A request whose batch was
//! taken by another holder finds its answer when it gets the lock. Under load, one sync then serves many
//! small requests instead of one each, which is what lets single-reading requests scale.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tvilling_core::iot::{AppendOutcome, IotWrite, Observation};

use crate::error::ApiResult;

/// One request's batch, waiting for a commit.
pub(crate) struct Job {
    pub obs: Vec<Observation>,
    pub how: IotWrite,
    pub done: oneshot::Sender<ApiResult<AppendOutcome>>,
}

/// The provenance of the readings one flush gives the store: the requests since the last flush, summed
/// (how many, from whom, bytes and readings), with the hash of their body hashes as the commit's.
#[derive(Default)]
pub(crate) struct Summary {
    first: Option<IotWrite>,
    users: BTreeSet<String>,
    requests: u64,
    bytes: u64,
    rows: u64,
    digest: Sha256,
}

impl std::fmt::Debug for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Summary")
            .field("requests", &self.requests)
            .finish()
    }
}

impl Summary {
    /// Counts one request.
    pub fn add(&mut self, how: &IotWrite) {
        let p = &how.provenance;
        if self.first.is_none() {
            self.first = Some(how.clone());
        }
        self.users.insert(p.user.clone());
        self.requests += 1;
        self.bytes += p.bytes;
        self.rows += p.rows_read;
        self.digest.update(p.sha256.as_bytes());
    }

    /// The provenance of everything counted (`None` when nothing was).
    pub fn finish(self) -> Option<IotWrite> {
        let mut how = self.first?;
        if self.requests == 1 {
            return Some(how);
        }
        let p = &mut how.provenance;
        p.user = self.users.into_iter().collect::<Vec<_>>().join(",");
        p.source_uri = "http-request:write-ahead-log".into();
        p.bytes = self.bytes;
        p.rows_read = self.rows;
        p.sha256 = hex::encode(self.digest.finalize());
        p.source_metadata = serde_json::json!({ "requests": self.requests });
        Some(how)
    }
}
