//! Group commit: batches that arrive while a commit is running are committed together in the next one,
//! and each request still gets its own answer after that commit (commit-before-ack is unchanged).
//!
//! Every request queues its readings and then waits for the writer lock. Whoever holds the lock takes
//! everything queued, its own batch and those of the requests that arrived meanwhile, commits it as one
//! Delta commit and answers each request from the per-reading outcome. A request whose batch was taken by
//! another holder finds its answer when it gets the lock. Under load, one commit then serves many small
//! requests instead of one each, which is what lets single-reading requests scale.

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

/// The provenance of a commit that holds `jobs`: the single request's own, or a summary naming every
/// request (caller, body hash, readings), with the hash of their hashes as the commit's.
pub(crate) fn merged(jobs: &[Job]) -> Option<IotWrite> {
    let first = jobs.first()?;
    if jobs.len() == 1 {
        return Some(first.how.clone());
    }
    let mut how = first.how.clone();
    let p = &mut how.provenance;
    let mut users: Vec<&str> = jobs
        .iter()
        .map(|j| j.how.provenance.user.as_str())
        .collect();
    users.sort_unstable();
    users.dedup();
    p.user = users.join(",");
    p.source_uri = "http-request:group-commit".into();
    p.bytes = jobs.iter().map(|j| j.how.provenance.bytes).sum();
    p.rows_read = jobs.iter().map(|j| j.how.provenance.rows_read).sum();
    let mut digest = Sha256::new();
    for j in jobs {
        digest.update(j.how.provenance.sha256.as_bytes());
    }
    p.sha256 = hex::encode(digest.finalize());
    p.source_metadata = serde_json::json!({
        "requests": jobs.iter().map(|j| serde_json::json!({
            "source": j.how.provenance.source_uri,
            "user": j.how.provenance.user,
            "sha256": j.how.provenance.sha256,
            "readings": j.obs.len(),
        })).collect::<Vec<_>>()
    });
    Some(how)
}
