//! Limit values: durations, sizes and counts, exact and with the flag named in every error.

use cordon_policy::{parse_count, parse_duration, parse_size};
use proptest::prelude::*;
use std::time::Duration;

#[test]
fn durations_in_every_unit() {
    let cases = [
        ("30s", 30_000),
        ("10m", 600_000),
        ("2h", 7_200_000),
        ("1.5h", 5_400_000),
        ("250ms", 250),
        ("90", 90_000),
        ("1d", 86_400_000),
        ("2MIN", 120_000),
        (" 5s ", 5_000),
    ];
    for (text, ms) in cases {
        let got = parse_duration("--timeout", text).unwrap();
        assert_eq!(got, Some(Duration::from_millis(ms)), "{text}");
    }
}

#[test]
fn zero_and_none_mean_no_limit() {
    for text in ["0", "0s", "none", "NONE", "0.0h"] {
        assert_eq!(parse_duration("--timeout", text).unwrap(), None, "{text}");
    }
    assert_eq!(parse_size("--memory", "none").unwrap(), None);
    assert_eq!(parse_count("--pids", "None").unwrap(), None);
}

#[test]
fn sizes_are_exact_decimals() {
    let cases = [
        ("512MiB", 512 << 20),
        ("4GiB", 4 << 30),
        ("1.5GiB", 1_610_612_736),
        ("1GB", 1_000_000_000),
        ("64k", 65_536),
        ("1048576", 1_048_576),
        ("2T", 2 << 40),
    ];
    for (text, bytes) in cases {
        assert_eq!(parse_size("--memory", text).unwrap(), Some(bytes), "{text}");
    }
}

#[test]
fn bad_values_are_errors_that_name_the_flag() {
    let bad_durations = [
        "-1s",
        "nan",
        "inf",
        "+inf",
        "",
        "1.",
        ".5s",
        "1..5s",
        "5 parsecs",
    ];
    for text in bad_durations {
        let err = parse_duration("--timeout", text).unwrap_err().to_string();
        assert!(err.contains("--timeout"), "{text}: {err}");
    }
    let huge = "99999999999999999999999999999h";
    let err = parse_duration("limits.timeout", huge)
        .unwrap_err()
        .to_string();
    assert!(err.contains("limits.timeout"), "{err}");
    for text in ["0", "-5MiB", "1e9", "12 furlongs", "NaN", "99999999999TiB"] {
        let err = parse_size("--memory", text).unwrap_err().to_string();
        assert!(err.contains("--memory"), "{text}: {err}");
    }
    for text in ["0", "-1", "1.5", "many", "99999999999999999999999"] {
        let err = parse_count("--pids", text).unwrap_err().to_string();
        assert!(err.contains("--pids"), "{text}: {err}");
    }
}

proptest! {
    /// Whole seconds written in any unit come back as the same duration.
    #[test]
    fn whole_durations_round_trip(secs in 1u64..10_000_000) {
        let want = Some(Duration::from_secs(secs));
        prop_assert_eq!(parse_duration("--timeout", &format!("{secs}s")).unwrap(), want);
        prop_assert_eq!(parse_duration("--timeout", &format!("{secs}")).unwrap(), want);
        prop_assert_eq!(
            parse_duration("--timeout", &format!("{}ms", secs * 1000)).unwrap(),
            want
        );
    }

    /// A fraction of an hour is exact to the nanosecond, rounded down.
    #[test]
    fn fractional_hours_are_exact(whole in 0u64..1000, frac in 0u32..1000) {
        let text = format!("{whole}.{frac:03}h");
        let nanos = u128::from(whole) * 3_600_000_000_000 + u128::from(frac) * 3_600_000_000;
        let got = parse_duration("--timeout", &text).unwrap();
        let want = u64::try_from(nanos).ok().filter(|n| *n > 0).map(Duration::from_nanos);
        prop_assert_eq!(got, want);
    }

    /// Binary units scale exactly, and overflow is an error, never a wrap or a clamp.
    #[test]
    fn sizes_scale_or_refuse(n in 1u64..u64::MAX, unit in 0usize..4) {
        let (name, shift) = [("", 0u32), ("KiB", 10), ("MiB", 20), ("GiB", 30)][unit];
        let got = parse_size("--memory", &format!("{n}{name}"));
        match n.checked_mul(1u64 << shift) {
            Some(bytes) => prop_assert_eq!(got.unwrap(), Some(bytes)),
            None => prop_assert!(got.unwrap_err().to_string().contains("--memory")),
        }
    }

    /// Counts are whole positive numbers; anything with a sign or a point is refused.
    #[test]
    fn counts_are_whole(n in 1u64..u64::MAX) {
        prop_assert_eq!(parse_count("--pids", &n.to_string()).unwrap(), Some(n));
        let negative = format!("-{n}");
        let fraction = format!("{n}.5");
        prop_assert!(parse_count("--pids", &negative).is_err());
        prop_assert!(parse_count("--pids", &fraction).is_err());
    }

    /// No input makes the parsers panic.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,24}") {
        let _ = parse_duration("--timeout", &text);
        let _ = parse_size("--memory", &text);
        let _ = parse_count("--pids", &text);
    }
}
