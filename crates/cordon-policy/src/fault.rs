//! Problems found while building a policy, with where in the policy file they sit.
//!
//! Validation never stops at the first problem: [`crate::check_file`] reports them all,
//! and [`crate::build`] reports the first. Each problem remembers the key and byte span
//! of the file value it came from (none for flags), which becomes a line and column.

use crate::error::PolicyError;
use crate::file::line_column;
use std::ops::Range;
use std::path::PathBuf;
use toml::Spanned;

/// Where a value sits in the policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct At {
    pub(crate) key: String,
    pub(crate) span: Range<usize>,
}

impl At {
    /// The location of a spanned file value under `key`.
    pub(crate) fn of<T>(key: impl Into<String>, value: &Spanned<T>) -> Option<At> {
        Some(At {
            key: key.into(),
            span: value.span(),
        })
    }
}

/// One problem and where it came from.
#[derive(Debug)]
pub(crate) struct Fault {
    pub(crate) err: PolicyError,
    pub(crate) at: Option<At>,
}

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Faults(Vec<Fault>);

impl Faults {
    /// Keeps the value of `result`, or records its error (located at `at`) and gives
    /// `None`.
    pub(crate) fn check<T>(&mut self, at: Option<At>, result: Result<T, PolicyError>) -> Option<T> {
        result.map_err(|err| self.push(err, at)).ok()
    }

    pub(crate) fn push(&mut self, err: PolicyError, at: Option<At>) {
        self.0.push(Fault { err, at });
    }

    /// `value` if nothing went wrong, else every fault in the order found.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, Failed> {
        let mut faults = self.0.into_iter();
        match faults.next() {
            None => Ok(value),
            Some(first) => Err(Failed {
                first: Box::new(first),
                rest: faults.collect(),
            }),
        }
    }
}

/// A failed build: at least one fault.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) first: Box<Fault>,
    pub(crate) rest: Vec<Fault>,
}

impl Failed {
    /// The first fault as an error, prefixed with its file location when the file's text
    /// is known.
    pub(crate) fn into_error(self, file: Option<&(PathBuf, String)>) -> PolicyError {
        let Fault { err, at } = *self.first;
        match (at, file) {
            (Some(at), Some((path, text))) => {
                let (line, column) = line_column(text, at.span.start);
                PolicyError::InFile {
                    path: path.clone(),
                    line,
                    column,
                    key: at.key,
                    source: Box::new(err),
                }
            }
            _ => err,
        }
    }

    /// Every fault, in the order found.
    pub(crate) fn all(self) -> impl Iterator<Item = Fault> {
        std::iter::once(*self.first).chain(self.rest)
    }
}
