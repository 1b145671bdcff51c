//! API keys for ETL jobs and tools. `tvilling apikey create --role ROLE` prints a new key once; the store
//! keeps only its SHA-256 in `<store>/_tvilling/apikeys.json`, so a copy of the store does not leak keys.
//!
//! A key reads `tvk_<id>_<secret>`: the id is public (it names the key in the audit log and in
//! `tvilling apikey list`), the secret is 32 random bytes in hex.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tvilling_core::{Error, Result, Store};

use super::Role;

/// The key file's name under `<store>/_tvilling/`.
pub const KEY_FILE: &str = "apikeys.json";
const PREFIX: &str = "tvk_";

/// One stored key (without its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Public id.
    pub id: String,
    /// What the key may read.
    pub role: Role,
    /// SHA-256 of the whole key, hex.
    pub sha256: String,
    /// When the key was made.
    pub created: DateTime<Utc>,
    /// Who or what the key is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The keys of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// Every key.
    pub keys: Vec<KeyEntry>,
}

/// The key file of a store.
pub fn key_file(store: &Store) -> PathBuf {
    store.root().join("_tvilling").join(KEY_FILE)
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Compares two hex digests in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Keys {
    /// Reads a store's keys; a store without a key file has none.
    pub fn load(store: &Store) -> Result<Keys> {
        Keys::read(&key_file(store))
    }

    fn read(path: &Path) -> Result<Keys> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Keys::default()),
            Err(e) => return Err(Error::io(path, e)),
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::BadInput(format!(
                "{} is not a valid key file ({e}); restore it from a backup or remove it and create new keys",
                path.display()
            ))
        })
    }

    /// The entry of a presented key, if it is one of these.
    pub fn find(&self, key: &str) -> Option<&KeyEntry> {
        let d = digest(key);
        self.keys.iter().find(|k| same(&k.sha256, &d))
    }

    /// Makes a new key with `role`, stores its hash, and returns the key (shown once) with its entry.
    pub fn create(store: &Store, role: Role, note: Option<String>) -> Result<(String, KeyEntry)> {
        store.ensure_writable()?;
        let path = key_file(store);
        let mut keys = Keys::read(&path)?;
        let mut rng = rand::rng();
        let mut id = [0u8; 6];
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut id);
        rng.fill_bytes(&mut secret);
        let id = hex::encode(id);
        let key = format!("{PREFIX}{id}_{}", hex::encode(secret));
        let entry = KeyEntry {
            id,
            role,
            sha256: digest(&key),
            created: Utc::now(),
            note,
        };
        keys.keys.push(entry.clone());
        keys.write(&path)?;
        Ok((key, entry))
    }

    /// Removes the key with this id; false when there is none.
    pub fn revoke(store: &Store, id: &str) -> Result<bool> {
        let path = key_file(store);
        let mut keys = Keys::read(&path)?;
        let before = keys.keys.len();
        keys.keys.retain(|k| k.id != id);
        if keys.keys.len() == before {
            return Ok(false);
        }
        keys.write(&path)?;
        Ok(true)
    }

    /// Writes the file atomically (a reader never sees half a file), readable by the owner only.
    fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("serialising keys: {e}")))?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_only_the_hash_and_finds_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).unwrap();
        let (key, entry) = Keys::create(&store, Role::ReaderInternal, Some("etl".into())).unwrap();
        let text = std::fs::read_to_string(key_file(&store)).unwrap();
        assert!(
            !text.contains(&key[PREFIX.len() + 13..]),
            "secret in the file"
        );
        let keys = Keys::load(&store).unwrap();
        assert_eq!(keys.find(&key), Some(&entry));
        assert_eq!(keys.find("tvk_nope"), None);
        assert!(Keys::revoke(&store, &entry.id).unwrap());
        assert_eq!(Keys::load(&store).unwrap().find(&key), None);
    }
}
