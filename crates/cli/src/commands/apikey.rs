//! `tvilling apikey create|list|revoke`: the server's API keys, kept as SHA-256 hashes in the store.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use tvilling_core::Store;
use tvilling_web::auth::Role;
use tvilling_web::auth::keys::Keys;

use crate::args::{ApikeyCommand, OutputFormat};
use crate::output;

pub fn run(store: &Store, command: ApikeyCommand) -> anyhow::Result<ExitCode> {
    match command {
        ApikeyCommand::Create { role, note, format } => {
            let role: Role = role.parse().map_err(|e: String| anyhow!(e))?;
            let (key, entry) = Keys::create(store, role, note)?;
            match format {
                OutputFormat::Json => output::json(&serde_json::json!({
                    "key": key, "id": entry.id, "role": entry.role, "created": entry.created, "note": entry.note,
                }))?,
                OutputFormat::Table => {
                    output::line(&key)?;
                    eprintln!(
                        "key {} ({role}) created; it is shown only this once. Send it as \
                         `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
                        entry.id
                    );
                }
            }
        }
        ApikeyCommand::List { format } => {
            let keys = Keys::load(store)?;
            match format {
                OutputFormat::Json => output::json(
                    &keys
                        .keys
                        .iter()
                        .map(|k| serde_json::json!({ "id": k.id, "role": k.role, "created": k.created, "note": k.note }))
                        .collect::<Vec<_>>(),
                )?,
                OutputFormat::Table => output::table(
                    &["id", "role", "created", "note"],
                    keys.keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.id.clone(),
                                k.role.to_string(),
                                k.created.to_rfc3339(),
                                output::opt(&k.note),
                            ]
                        })
                        .collect(),
                )?,
            }
        }
        ApikeyCommand::Revoke { id } => {
            if !Keys::revoke(store, &id)? {
                bail!("there is no API key '{id}'; `tvilling apikey list` shows the ids");
            }
            output::line(&format!("key {id} revoked"))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
