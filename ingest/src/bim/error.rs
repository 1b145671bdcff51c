//! Errors of the IFC reader: where in the STEP file (line, byte offset, entity id) and what to do.

use std::fmt;

/// Where a problem sits in a STEP file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 0-based byte offset.
    pub byte: usize,
    /// The entity instance (`#id`) being read, when there is one.
    pub entity: Option<u64>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entity {
            Some(id) => write!(f, "line {}, byte {} (entity #{id})", self.line, self.byte),
            None => write!(f, "line {}, byte {}", self.line, self.byte),
        }
    }
}

/// Why a STEP file or one of its entities cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The file has no bytes at all.
    #[error("the file is empty (0 bytes): not an IFC file; re-export it from the authoring tool")]
    Empty,
    /// The file does not start like ISO 10303-21.
    #[error("not an IFC STEP file (ISO 10303-21): it does not start with 'ISO-10303-21;'")]
    NotStep,
    /// The file ends in the middle of something.
    #[error(
        "the file is truncated: it ends at {at} {inside}; the copy is incomplete, fetch or export it again"
    )]
    Truncated {
        /// Where it ends.
        at: Location,
        /// What was open (e.g. "inside a string of entity #12", "before END-ISO-10303-21;").
        inside: String,
    },
    /// The syntax is wrong.
    #[error("STEP syntax error at {at}: {what}")]
    Syntax {
        /// Where.
        at: Location,
        /// What was found.
        what: String,
    },
    /// An entity refers to an instance the file does not have.
    #[error("entity #{from} ({ty}) refers to #{to}, which is not in the file (dangling reference)")]
    Dangling {
        /// The referring entity.
        from: u64,
        /// Its type.
        ty: String,
        /// The missing instance.
        to: u64,
    },
    /// An entity does not have the attribute a reader expects, or it has the wrong type.
    #[error("entity #{id} ({ty}): {what}")]
    Attribute {
        /// The entity.
        id: u64,
        /// Its type.
        ty: String,
        /// What is wrong.
        what: String,
    },
    /// A geometric construct tvilling does not read (yet).
    #[error("entity #{id} ({ty}) is not supported: {what}")]
    Unsupported {
        /// The entity.
        id: u64,
        /// Its type.
        ty: String,
        /// What would be needed.
        what: String,
    },
}

/// Result alias of the IFC reader's internals.
pub type StepResult<T> = std::result::Result<T, StepError>;
