//! Parsing of limit values: durations, sizes and counts.
//!
//! Every function takes the name of the flag or key the value came from (`--timeout`,
//! `limits.timeout`) and puts it in its error, so a message always says where to look.
//! Numbers are parsed as exact decimals (no floating point): `1.5GiB` is exactly
//! 1610612736 bytes, and a fractional result is rounded down to whole bytes or nanoseconds.
//! `none` (any case) means no limit. Non-finite, negative, empty, unknown-unit and
//! overflowing values are errors, never clamped.

use crate::error::{PolicyError, ValueProblem};
use std::time::Duration;

const NANOS: u128 = 1_000_000_000;
const MAX_DECIMALS: u32 = 18;

/// Duration units, matched without regard to case; no unit means seconds.
const DURATION_UNITS: &[(&str, u128)] = &[
    ("", NANOS),
    ("ms", NANOS / 1000),
    ("s", NANOS),
    ("m", 60 * NANOS),
    ("min", 60 * NANOS),
    ("h", 3600 * NANOS),
    ("d", 86400 * NANOS),
];

/// Size units, matched without regard to case: IEC (binary), SI (decimal), and single
/// letters as binary because that is what `ulimit` and most people mean by them.
const SIZE_UNITS: &[(&str, u128)] = &[
    ("", 1),
    ("b", 1),
    ("k", 1 << 10),
    ("kib", 1 << 10),
    ("kb", 1_000),
    ("m", 1 << 20),
    ("mib", 1 << 20),
    ("mb", 1_000_000),
    ("g", 1 << 30),
    ("gib", 1 << 30),
    ("gb", 1_000_000_000),
    ("t", 1 << 40),
    ("tib", 1 << 40),
    ("tb", 1_000_000_000_000),
];

/// Parses a duration such as `30s`, `10m`, `1.5h`, `250ms` or `90` (seconds).
///
/// `none` and any zero duration (`0`, `0s`) mean no limit.
pub fn parse_duration(flag: &str, s: &str) -> Result<Option<Duration>, PolicyError> {
    let nanos = match parse_scaled(s, DURATION_UNITS, "durations") {
        Ok(None) | Ok(Some(0)) => return Ok(None),
        Ok(Some(n)) => n,
        Err(problem) => return Err(invalid(flag, s, problem)),
    };
    let nanos = u64::try_from(nanos).map_err(|_| invalid(flag, s, ValueProblem::Overflow))?;
    Ok(Some(Duration::from_nanos(nanos)))
}

/// Parses a size such as `4GiB`, `512M`, `1.5GB` or `1048576` (bytes); `none` means no
/// limit. Zero is refused: no run can work within it.
pub fn parse_size(flag: &str, s: &str) -> Result<Option<u64>, PolicyError> {
    let bytes = match parse_scaled(s, SIZE_UNITS, "sizes") {
        Ok(None) => return Ok(None),
        Ok(Some(0)) => return Err(invalid(flag, s, ValueProblem::Zero)),
        Ok(Some(n)) => n,
        Err(problem) => return Err(invalid(flag, s, problem)),
    };
    let bytes = u64::try_from(bytes).map_err(|_| invalid(flag, s, ValueProblem::Overflow))?;
    Ok(Some(bytes))
}

/// Parses a whole, positive count such as `256`; `none` means no limit.
pub fn parse_count(flag: &str, s: &str) -> Result<Option<u64>, PolicyError> {
    match count(s) {
        Ok(Some(0)) => Err(invalid(flag, s, ValueProblem::Zero)),
        Ok(n) => Ok(n),
        Err(problem) => Err(invalid(flag, s, problem)),
    }
}

fn invalid(flag: &str, s: &str, problem: ValueProblem) -> PolicyError {
    PolicyError::InvalidValue {
        flag: flag.into(),
        value: s.into(),
        problem,
    }
}

fn count(s: &str) -> Result<Option<u64>, ValueProblem> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    screen(t, "counts")?;
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        let decimal = t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        return Err(if decimal {
            ValueProblem::NotWhole
        } else {
            ValueProblem::NotANumber
        });
    }
    t.parse().map(Some).map_err(|_| ValueProblem::Overflow)
}

/// Rejects the shapes no unit can rescue: empty, negative, non-finite.
fn screen(t: &str, kind: &'static str) -> Result<(), ValueProblem> {
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.strip_prefix('+').unwrap_or(&lower);
    if t.is_empty() {
        Err(ValueProblem::Empty)
    } else if t.starts_with('-') {
        Err(ValueProblem::Negative(kind))
    } else if unsigned.starts_with("inf") || unsigned.starts_with("nan") {
        Err(ValueProblem::NonFinite)
    } else {
        Ok(())
    }
}

/// Splits `s` into a decimal number and a unit, and returns number × unit, rounded down.
/// `Ok(None)` means `none`.
fn parse_scaled(
    s: &str,
    units: &[(&str, u128)],
    kind: &'static str,
) -> Result<Option<u128>, ValueProblem> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    screen(t, kind)?;
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim_start();
    let (mantissa, decimals) = decimal(number)?;
    let per = units
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
        .map(|&(_, per)| per)
        .ok_or_else(|| ValueProblem::UnknownUnit(unit.into()))?;
    let scaled = mantissa.checked_mul(per).ok_or(ValueProblem::Overflow)?;
    Ok(Some(scaled / 10u128.pow(decimals)))
}

/// Parses `digits[.digits]` into a mantissa and its number of decimal places.
fn decimal(number: &str) -> Result<(u128, u32), ValueProblem> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let dangling_point = number.contains('.') && fraction.is_empty();
    if whole.is_empty() || dangling_point || fraction.contains('.') {
        return Err(ValueProblem::NotANumber);
    }
    let decimals = u32::try_from(fraction.len()).unwrap_or(u32::MAX);
    if decimals > MAX_DECIMALS {
        return Err(ValueProblem::TooPrecise(MAX_DECIMALS));
    }
    let mantissa = whole
        .bytes()
        .chain(fraction.bytes())
        .try_fold(0u128, |acc, b| {
            acc.checked_mul(10)?.checked_add(u128::from(b - b'0'))
        });
    Ok((mantissa.ok_or(ValueProblem::Overflow)?, decimals))
}
