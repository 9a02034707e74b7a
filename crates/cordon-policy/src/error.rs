//! Errors of policy loading and validation.
//!
//! One variant per thing that failed, each carrying the flag or key, the value and the
//! reason, so a message alone tells the user what to fix. The reasons are small enums of
//! their own: tests match on them instead of on message text.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a policy could not be loaded or built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy file could not be read.
    #[error("failed to read policy file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The policy file is larger than [`crate::MAX_FILE_SIZE`].
    #[error("policy file {path} is larger than the limit of {limit} bytes")]
    FileTooLarge { path: PathBuf, limit: u64 },
    /// The policy file is not valid TOML or does not fit the schema.
    #[error("{path}:{line}:{column}: {message}")]
    ParseFile {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A value of the policy file failed validation; `source` says how.
    #[error("{path}:{line}:{column}: {key}: {source}")]
    InFile {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        #[source]
        source: Box<PolicyError>,
    },
    /// A duration, size or count could not be parsed.
    #[error("invalid value {value:?} for {flag}: {problem}")]
    InvalidValue {
        flag: String,
        value: String,
        problem: ValueProblem,
    },
    /// A mode other than auto, strict or off.
    #[error("unknown mode {value:?}: expected auto, strict or off")]
    UnknownMode { value: String },
    /// A network rule other than deny or allow.
    #[error("unknown network rule {value:?}: expected deny or allow")]
    UnknownNet { value: String },
    /// A read-only or read-write path is unusable.
    #[error("invalid path {path:?} for {flag}: {problem}")]
    InvalidPath {
        flag: String,
        path: PathBuf,
        problem: PathProblem,
    },
    /// A read-write grant on a directory that must never be handed to a run.
    #[error(
        "refused read-write path {path:?} for {flag}: {reason}; the run's uid takes \
         ownership of a read-write tree, so grant a dedicated subdirectory instead"
    )]
    RwRefused {
        flag: String,
        path: PathBuf,
        reason: RwRefusal,
    },
    /// A read-only grant inside a read-write grant: it could not stay read-only.
    #[error(
        "read-only path {ro:?} ({ro_flag}) lies inside read-write path {rw:?} ({rw_flag}); \
         the read-write grant would make it writable, so drop one of them"
    )]
    RoInsideRw {
        ro: PathBuf,
        ro_flag: String,
        rw: PathBuf,
        rw_flag: String,
    },
    /// An environment entry is malformed.
    #[error("invalid environment entry {entry:?} for {flag}: {problem}")]
    InvalidEnv {
        flag: String,
        entry: String,
        problem: EnvProblem,
    },
    /// A tenant name outside `[a-z0-9][a-z0-9_-]{0,62}`.
    #[error(
        "invalid tenant {value:?} for {flag}: expected 1 to 63 characters from a-z, 0-9, \
         '_' and '-', starting with a letter or digit"
    )]
    InvalidTenant { flag: String, value: String },
    /// The identity table is unusable.
    #[error("invalid identity for {key}: {problem}")]
    InvalidIdentity {
        key: String,
        problem: IdentityProblem,
    },
}

/// Why a duration, size or count was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueProblem {
    #[error("the value is empty")]
    Empty,
    #[error("negative {0} are not allowed")]
    Negative(&'static str),
    #[error("non-finite numbers are not allowed")]
    NonFinite,
    #[error("expected a number")]
    NotANumber,
    #[error("expected a whole number")]
    NotWhole,
    #[error("unknown unit {0:?}")]
    UnknownUnit(String),
    #[error("the value is too large")]
    Overflow,
    #[error("too many decimal places (at most {0})")]
    TooPrecise(u32),
    #[error("zero is not a usable limit; use \"none\" for no limit")]
    Zero,
}

/// Why a granted path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    #[error("the path is empty")]
    Empty,
    #[error("the path contains a NUL byte")]
    Nul,
    #[error("\"..\" components are not allowed; name the target directly")]
    ParentDir,
    #[error("the path does not exist")]
    Missing,
    #[error("the path cannot be resolved: {0}")]
    Unresolvable(String),
    #[error("read-write paths must be directories")]
    NotDirectory,
}

/// Why a read-write grant was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RwRefusal {
    #[error("it is a system or shared directory")]
    Protected,
    #[error("it lies inside the system directory {}", .0.display())]
    InsideSystem(PathBuf),
    #[error("it is the home directory of user {0:?}")]
    UserHome(String),
    #[error("it contains the home directory of user {0:?}")]
    ContainsHome(String),
    #[error("it lies inside {}, which holds the host's logs, mail, spools or caches", .0.display())]
    InsideHostData(PathBuf),
    #[error(
        "the path goes through the symbolic link {} owned by uid {owner}, which is neither \
         root nor the caller: a run could have planted it to aim the grant elsewhere",
        link.display()
    )]
    UntrustedSymlink { link: PathBuf, owner: u32 },
}

/// Why an environment entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvProblem {
    #[error("the name must match [A-Za-z_][A-Za-z0-9_]*")]
    BadName,
    #[error("the value contains a NUL byte")]
    Nul,
}

/// Why an identity setting was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityProblem {
    #[error("{0} is not a usable id (expected 1 to 4294967294)")]
    OutOfRange(i64),
    #[error("0 is root; runs never get root's id")]
    Root,
    #[error("expected [first, last]")]
    RangeShape,
    #[error("the range {0}..={1} is empty")]
    EmptyRange(u32, u32),
    #[error("uid {0} lies inside the tenant range, so untenanted runs would share a tenant's uid")]
    UidInTenantRange(u32),
}

/// One problem found by [`crate::check_file`], located in the file.
///
/// `line` and `column` are 1-based; both are 0 for a problem with the whole file (it
/// cannot be read, or is too large).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted key the problem belongs to (`limits.memory`, `ro[1]`); empty when unknown.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.file.display())?;
        if self.line > 0 {
            write!(f, "{}:{}:", self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, " {}:", self.key)?;
        }
        write!(f, " {}", self.message)
    }
}
