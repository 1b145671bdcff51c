//! Who is asking and what they may read. Datasets are classified open / internal / restricted
//! ([`Classification`]); a caller's [`Role`] decides the highest classification it sees. Anonymous callers
//! see only open data, on every path: listings, tiles and SQL all ask [`Caller::may_read`].
//!
//! Credentials are API keys ([`keys`], for ETL jobs) sent as `Authorization: Bearer <key>` or
//! `X-API-Key: <key>`, and OIDC bearer tokens ([`oidc`], for people) from the configured identity
//! provider, whose roles map to tvilling roles.

pub mod keys;
pub mod oidc;

use std::fmt;
use std::str::FromStr;

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use tvilling_core::Classification;

use crate::error::ApiError;

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Open and internal datasets (ETL jobs, staff tools).
    ReaderInternal,
    /// Every dataset, restricted included; each read of non-open data is audited.
    ReaderRestricted,
    /// Everything a reader-restricted key may do; reserved for administration endpoints.
    Admin,
}

impl Role {
    /// Every role, for help texts.
    pub const ALL: [Role; 3] = [Role::ReaderInternal, Role::ReaderRestricted, Role::Admin];

    /// The role's name as written in config, on the command line and in the key file.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReaderInternal => "reader-internal",
            Role::ReaderRestricted => "reader-restricted",
            Role::Admin => "admin",
        }
    }

    /// The highest classification this role may read.
    pub fn clearance(self) -> Classification {
        match self {
            Role::ReaderInternal => Classification::Internal,
            Role::ReaderRestricted | Role::Admin => Classification::Restricted,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "'{s}' is not a role; use one of {}",
                    Role::ALL.map(|r| r.as_str()).join(", ")
                )
            })
    }
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// A known API key.
    Key {
        /// The key's public id (never the secret), as written to the audit log.
        id: String,
        /// Its role.
        role: Role,
    },
    /// A person signed in at the identity provider (a valid OIDC token).
    Token {
        /// The token's `sub`, as written to the audit log.
        subject: String,
        /// The tvilling role their provider roles map to; none: open data only.
        role: Option<Role>,
    },
}

/// Rank of a classification: a caller sees every dataset whose rank is at most its clearance's.
fn rank(c: Classification) -> u8 {
    match c {
        Classification::Open => 0,
        Classification::Internal => 1,
        // Restricted, and any classification added later: the most careful choice.
        _ => 2,
    }
}

impl Caller {
    /// Whether this caller may read a dataset with this classification.
    pub fn may_read(&self, c: Classification) -> bool {
        match self {
            Caller::Anonymous | Caller::Token { role: None, .. } => c == Classification::Open,
            Caller::Key { role, .. }
            | Caller::Token {
                role: Some(role), ..
            } => rank(c) <= rank(role.clearance()),
        }
    }

    /// Who, for the audit log: the key id, `oidc:<sub>` for a token, or "anonymous".
    pub fn id(&self) -> String {
        match self {
            Caller::Anonymous => "anonymous".into(),
            Caller::Key { id, .. } => id.clone(),
            Caller::Token { subject, .. } => format!("oidc:{subject}"),
        }
    }

    /// Records a read of non-open data in the audit log (tracing target `audit`, one JSON-able event).
    pub fn audit(&self, dataset: &str, classification: Classification, what: &str) {
        if classification == Classification::Open {
            return;
        }
        let role = match self {
            Caller::Anonymous | Caller::Token { role: None, .. } => "anonymous",
            Caller::Key { role, .. }
            | Caller::Token {
                role: Some(role), ..
            } => role.as_str(),
        };
        tracing::info!(
            target: "audit",
            key_id = self.id().as_str(),
            role,
            dataset,
            classification = classification.as_str(),
            access = what,
            "read of {} data",
            classification.as_str()
        );
    }
}

/// The credential a request carries, if any: `X-API-Key`, else `Authorization: Bearer`.
pub fn credential(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    if let Some(v) = headers.get("x-api-key") {
        let key = v
            .to_str()
            .map_err(|_| ApiError::Unauthorized("X-API-Key is not valid text".into()))?;
        return Ok(Some(key.trim().to_string()));
    }
    let Some(v) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = v
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not valid text".into()))?;
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(ApiError::Unauthorized(
            "use `Authorization: Bearer <key>` or `X-API-Key: <key>`".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_classifications() {
        use Classification::*;
        let key = |role| Caller::Key {
            id: "k".into(),
            role,
        };
        let cases = [
            (Caller::Anonymous, [true, false, false]),
            (key(Role::ReaderInternal), [true, true, false]),
            (key(Role::ReaderRestricted), [true, true, true]),
            (key(Role::Admin), [true, true, true]),
        ];
        for (caller, want) in cases {
            let got = [Open, Internal, Restricted].map(|c| caller.may_read(c));
            assert_eq!(got, want, "{caller:?}");
        }
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
