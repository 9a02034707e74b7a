//! Resource limits: file values, overridden by flags, completed by strict-mode defaults.
//!
//! Each limit is unset, `none`, or a value. A flag replaces the file's setting. What is
//! still unset takes [`STRICT_DEFAULTS`] in strict mode, because strict mode promises a
//! bounded run; in auto and off modes unset means no limit, as the user asked for none.
//! `none` always means no limit, so a strict policy can lift one bound deliberately.

use crate::defaults::STRICT_DEFAULTS;
use crate::error::PolicyError;
use crate::fault::{At, Faults};
use crate::file::{RawLimits, Scalar};
use crate::flags::Flags;
use crate::model::Limits;
use crate::units::{parse_count, parse_duration, parse_size};
use toml::Spanned;

type Parser<T> = fn(&str, &str) -> Result<Option<T>, PolicyError>;

/// One limit's sources.
struct Field<'a, T> {
    key: &'static str,
    flag: &'static str,
    file: Option<&'a Spanned<Scalar>>,
    given: Option<&'a str>,
    parse: Parser<T>,
}

impl<T> Field<'_, T> {
    /// The setting: `None` when unset, `Some(None)` for `none`.
    fn setting(self, faults: &mut Faults) -> Option<Option<T>> {
        let from_file = self.file.and_then(|v| {
            let parsed = (self.parse)(self.key, &v.get_ref().to_string());
            faults.check(At::of(self.key, v), parsed)
        });
        let from_flag = self
            .given
            .and_then(|s| faults.check(None, (self.parse)(self.flag, s)));
        from_flag.or(from_file)
    }

    fn resolve(self, faults: &mut Faults, strict: bool, default: Option<T>) -> Option<T> {
        match self.setting(faults) {
            Some(value) => value,
            None if strict => default,
            None => None,
        }
    }
}

/// The limits of a run.
pub(crate) fn limits(faults: &mut Faults, raw: &RawLimits, flags: &Flags, strict: bool) -> Limits {
    let d = STRICT_DEFAULTS;
    Limits {
        timeout: duration("limits.timeout", "--timeout", &raw.timeout, &flags.timeout)
            .resolve(faults, strict, d.timeout),
        cpu: duration("limits.cpu", "--cpu", &raw.cpu, &flags.cpu).resolve(faults, strict, d.cpu),
        memory: field(
            "limits.memory",
            "--memory",
            &raw.memory,
            &flags.memory,
            parse_size,
        )
        .resolve(faults, strict, d.memory),
        pids: field("limits.pids", "--pids", &raw.pids, &flags.pids, parse_count)
            .resolve(faults, strict, d.pids),
        file_size: field(
            "limits.file_size",
            "--file-size",
            &raw.file_size,
            &flags.file_size,
            parse_size,
        )
        .resolve(faults, strict, d.file_size),
        open_files: field(
            "limits.open_files",
            "--open-files",
            &raw.open_files,
            &flags.open_files,
            parse_count,
        )
        .resolve(faults, strict, d.open_files),
        disk: field("limits.disk", "--disk", &raw.disk, &flags.disk, parse_size)
            .resolve(faults, strict, d.disk),
    }
}

fn duration<'a>(
    key: &'static str,
    flag: &'static str,
    file: &'a Option<Spanned<Scalar>>,
    given: &'a Option<String>,
) -> Field<'a, std::time::Duration> {
    field(key, flag, file, given, parse_duration)
}

fn field<'a, T>(
    key: &'static str,
    flag: &'static str,
    file: &'a Option<Spanned<Scalar>>,
    given: &'a Option<String>,
    parse: Parser<T>,
) -> Field<'a, T> {
    Field {
        key,
        flag,
        file: file.as_ref(),
        given: given.as_deref(),
        parse,
    }
}
