//! The raw policy file: TOML as written, before validation.
//!
//! Every value keeps its byte span (`toml::Spanned`) so that validation, which happens
//! later in [`crate::build`], can still say on which line and under which key a bad value
//! sits. Unknown keys are errors (`deny_unknown_fields`): a misspelt `rw` or `limits`
//! entry must never be silently ignored. Numbers are read as wide as TOML allows and
//! range-checked during validation, which gives better messages than serde's own.

use crate::error::PolicyError;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Policy files larger than this are refused before parsing: a policy is a few hundred
/// bytes, and a huge one is a mistake or an attack on the parser.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// A parsed but unvalidated policy file. See the crate docs for the schema.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub mode: Option<Spanned<String>>,
    pub net: Option<Spanned<String>>,
    pub tenant: Option<Spanned<String>>,
    #[serde(default)]
    pub ro: Vec<Spanned<String>>,
    #[serde(default)]
    pub rw: Vec<Spanned<String>>,
    #[serde(default)]
    pub env: Vec<Spanned<String>>,
    pub namespaces: Option<Spanned<bool>>,
    #[serde(default)]
    pub identity: RawIdentity,
    #[serde(default)]
    pub limits: RawLimits,
    /// The text the spans index into, kept to turn spans into lines.
    #[serde(skip)]
    pub(crate) text: Option<String>,
}

/// The `[identity]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    pub uid: Option<Spanned<i64>>,
    pub gid: Option<Spanned<i64>>,
    pub tenant_uids: Option<Spanned<Vec<i64>>>,
}

/// The `[limits]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub timeout: Option<Spanned<Scalar>>,
    pub cpu: Option<Spanned<Scalar>>,
    pub memory: Option<Spanned<Scalar>>,
    pub pids: Option<Spanned<Scalar>>,
    pub file_size: Option<Spanned<Scalar>>,
    pub open_files: Option<Spanned<Scalar>>,
    pub disk: Option<Spanned<Scalar>>,
}

/// A limit as written: `pids = 256`, `timeout = 1.5` or `memory = "4GiB"`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Integer(i64),
    Float(f64),
    Text(String),
}

impl fmt::Display for Scalar {
    /// The text the unit parsers read: numbers print as written, so `pids = -1` is
    /// reported as the negative it is and `timeout = nan` as non-finite.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Integer(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Text(s) => f.write_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl Visitor<'_> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        i64::try_from(v)
            .map(Scalar::Integer)
            .map_err(|_| E::custom("integer out of range"))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.into()))
    }
}

impl PolicyFile {
    /// Parses policy TOML; `origin` names the source in errors.
    pub fn from_toml(origin: &Path, text: &str) -> Result<PolicyFile, PolicyError> {
        let mut file: PolicyFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
            PolicyError::ParseFile {
                path: origin.into(),
                line,
                column,
                message: e.message().trim_end().into(),
            }
        })?;
        file.text = Some(text.into());
        Ok(file)
    }
}

/// Reads and parses a policy file (at most [`MAX_FILE_SIZE`] bytes). Values are checked
/// later, by [`crate::build`].
pub fn load_file(path: &Path) -> Result<PolicyFile, PolicyError> {
    PolicyFile::from_toml(path, &read_text(path)?)
}

/// Reads a policy file's text, refusing files over [`MAX_FILE_SIZE`].
pub(crate) fn read_text(path: &Path) -> Result<String, PolicyError> {
    use std::io::Read;
    let read_error = |source| PolicyError::ReadFile {
        path: PathBuf::from(path),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    // Read one byte past the limit instead of trusting metadata (pipes, /proc files).
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if u64::try_from(bytes.len()).map_or(true, |size| size > MAX_FILE_SIZE) {
        return Err(PolicyError::FileTooLarge {
            path: path.into(),
            limit: MAX_FILE_SIZE,
        });
    }
    let text = String::from_utf8(bytes)
        .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    Ok(text)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}
