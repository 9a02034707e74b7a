//! `cordon policy check`: every problem of a policy file, each with its line and key.
//!
//! A TOML parser and serde both stop at the first error, which makes fixing a file a
//! slow loop. So after each schema error (unknown key, wrong type) the offending entry is
//! blanked out with spaces (keeping every byte offset and line number) and the file is
//! parsed again, until it fits the schema. The remaining entries then go through the same
//! validation as [`crate::build`], which collects every problem instead of the first.
//! TOML syntax errors cannot be stepped over reliably; only the first is reported.

use crate::build::assemble;
use crate::error::Diagnostic;
use crate::fault::Fault;
use crate::file::{line_column, read_text, PolicyFile};
use crate::flags::Flags;
use crate::model::Policy;
use std::ops::Range;
use std::path::Path;
use toml_edit::{ImDocument, Item, Table};

/// Schema errors reported per file at most; a file with more is mostly not a policy.
const MAX_SCHEMA_ERRORS: usize = 100;

/// Loads, parses and validates a policy file, reporting every problem found.
pub fn check_file(path: &Path) -> Result<Policy, Vec<Diagnostic>> {
    let at = |line, column, key: String, message: String| Diagnostic {
        file: path.into(),
        line,
        column,
        key,
        message,
    };
    let text = read_text(path).map_err(|e| vec![at(0, 0, String::new(), e.to_string())])?;
    let mut diagnostics = Vec::new();
    let Some(file) = parse_all(&text, &mut |offset, key, message| {
        let (line, column) = line_column(&text, offset);
        diagnostics.push(at(line, column, key, message));
    }) else {
        return Err(diagnostics);
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    match assemble(Some((path.into(), file)), Flags::default(), &cwd) {
        Ok(policy) if diagnostics.is_empty() => return Ok(policy),
        Ok(_) => {}
        Err(failed) => diagnostics.extend(failed.all().map(|fault| {
            let Fault { err, at: location } = fault;
            let (key, (line, column)) = match location {
                Some(l) => (l.key, line_column(&text, l.span.start)),
                None => (String::new(), (0, 0)),
            };
            at(line, column, key, err.to_string())
        })),
    }
    diagnostics.sort_by_key(|d| (d.line, d.column));
    Err(diagnostics)
}

/// Parses `text`, reporting each syntax or schema error as (byte offset, key, message)
/// and stepping over schema errors. Gives the file when what remains fits the schema.
fn parse_all(text: &str, report: &mut dyn FnMut(usize, String, String)) -> Option<PolicyFile> {
    let mut current = text.to_owned();
    for round in 0..MAX_SCHEMA_ERRORS {
        let doc = match ImDocument::parse(current.as_str()) {
            Ok(doc) => doc,
            Err(e) => {
                // A syntax error after blanking is an artefact of blanking: stay silent.
                if round == 0 {
                    let offset = e.span().map_or(0, |s| s.start);
                    report(
                        offset,
                        key_near(text, offset),
                        e.message().trim_end().into(),
                    );
                }
                return None;
            }
        };
        let err = match toml::from_str::<PolicyFile>(&current) {
            Ok(mut file) => {
                file.text = Some(text.to_owned());
                return Some(file);
            }
            Err(err) => err,
        };
        let offset = err.span().map_or(0, |s| s.start);
        let (key, ranges) = find_entry(doc.as_table(), "", offset).unwrap_or_default();
        report(offset, key, err.message().trim_end().into());
        if ranges.is_empty() {
            return None;
        }
        current = blank(&current, &ranges)?;
    }
    None
}

/// The dotted key of the entry covering `offset`, and the byte ranges that remove it.
fn find_entry(table: &Table, prefix: &str, offset: usize) -> Option<(String, Vec<Range<usize>>)> {
    for (name, item) in table.iter() {
        let key = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        let key_span = table.key(name).and_then(|k| k.span());
        let found = match item {
            Item::Value(v) => {
                let range = cover(&[key_span, v.span()]);
                range.contains(&offset).then(|| (key.clone(), vec![range]))
            }
            Item::Table(t) => find_entry(t, &key, offset).or_else(|| {
                let ranges = table_ranges(t, key_span);
                ranges
                    .iter()
                    .any(|r| r.contains(&offset))
                    .then(|| (key.clone(), ranges))
            }),
            Item::ArrayOfTables(array) => {
                let ranges: Vec<_> = array.iter().flat_map(|t| table_ranges(t, None)).collect();
                let with_key: Vec<_> = ranges.iter().cloned().chain(key_span).collect();
                with_key
                    .iter()
                    .any(|r| r.contains(&offset))
                    .then(|| (key.clone(), ranges))
            }
            Item::None => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The ranges a whole table (header and entries) occupies.
fn table_ranges(table: &Table, key_span: Option<Range<usize>>) -> Vec<Range<usize>> {
    let mut ranges: Vec<_> = [table.span(), key_span].into_iter().flatten().collect();
    for (name, item) in table.iter() {
        let key_span = table.key(name).and_then(|k| k.span());
        match item {
            Item::Table(t) => ranges.extend(table_ranges(t, key_span)),
            Item::ArrayOfTables(a) => ranges.extend(a.iter().flat_map(|t| table_ranges(t, None))),
            _ => ranges.push(cover(&[key_span, item.span()])),
        }
    }
    ranges
}

/// The smallest range covering every given span.
fn cover(spans: &[Option<Range<usize>>]) -> Range<usize> {
    let spans = spans.iter().flatten();
    let start = spans.clone().map(|s| s.start).min().unwrap_or(0);
    let end = spans.map(|s| s.end).max().unwrap_or(0);
    start..end
}

/// `text` with every byte in `ranges` but newlines replaced by a space.
fn blank(text: &str, ranges: &[Range<usize>]) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    for range in ranges {
        for b in bytes.get_mut(range.clone())? {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    }
    String::from_utf8(bytes).ok()
}

/// A best guess at the key a syntax error belongs to: the table header above it and the
/// key written before `=` on its line.
fn key_near(text: &str, offset: usize) -> String {
    let (line, _) = line_column(text, offset);
    let mut table = String::new();
    let mut key = String::new();
    for current in text.lines().take(line) {
        let t = current.trim();
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
        }
        key = t
            .split_once('=')
            .map(|(k, _)| k.trim().to_owned())
            .unwrap_or_default();
    }
    match (table.is_empty(), key.is_empty()) {
        (_, true) => table,
        (true, false) => key,
        (false, false) => format!("{table}.{key}"),
    }
}
