//! The embedded store: one SQLite file in WAL mode.
//!
//! `synchronous = NORMAL` with WAL keeps every committed transaction atomic and the file
//! consistent after a crash of the process; only a power loss can take back the last
//! transactions, which for a run queue means a few runs re-queued or forgotten, never a
//! torn record. That trade buys a submit path without an fsync per insert.
//!
//! The schema version lives in `PRAGMA user_version`; a file from a newer cordon is
//! refused rather than misread.

use super::{Ending, NewRun, Page, Store, StoreError, StoredRun};
use crate::api::{RunState, RunView, TenantName};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// The schema this code reads and writes.
pub const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    argv TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    kill_reason TEXT,
    tier TEXT,
    error TEXT,
    usage TEXT,
    report TEXT,
    stdout_bytes INTEGER NOT NULL DEFAULT 0,
    stderr_bytes INTEGER NOT NULL DEFAULT 0,
    stdout_truncated INTEGER NOT NULL DEFAULT 0,
    stderr_truncated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_tenant ON runs (tenant, seq);
CREATE INDEX runs_by_state ON runs (state, seq);
";

const COLUMNS: &str = "id, tenant, argv, request, state, created_at, started_at, ended_at, \
    exit_code, kill_reason, tier, error, usage, report, stdout_bytes, stderr_bytes, \
    stdout_truncated, stderr_truncated";

/// How often the background thread moves the WAL into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The SQLite store: one connection that writes, one that reads (WAL lets reads proceed
/// beside a write), and a thread that checkpoints the WAL so that no commit on the
/// submit path pays for a checkpoint's fsyncs.
///
/// Known cost: after a checkpoint has moved the whole WAL, the next commit starts the WAL
/// over and, with `synchronous=NORMAL`, fsyncs its new header; that commit is often a
/// submission's (at most once per checkpoint, every 500 ms).
pub struct SqliteStore {
    write: Mutex<Connection>,
    read: Mutex<Connection>,
    stop: Arc<AtomicBool>,
}

fn query(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Query { op, source }
}

/// One connection with the store's settings.
fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints happen on the store's own thread, never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the store file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let name = path.display().to_string();
        let open = |source| StoreError::Open {
            path: name.clone(),
            source,
        };
        let mut write = connect(path).map_err(open)?;
        migrate(&mut write, &name)?;
        let read = connect(path).map_err(open)?;
        let checkpoints = connect(path).map_err(open)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpoints, &stopped))
            .map_err(StoreError::Thread)?;
        Ok(SqliteStore {
            write: Mutex::new(write),
            read: Mutex::new(read),
            stop,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions
        // roll back on drop), so a poisoned lock is still safe to use.
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Creates the schema in a new file; refuses a file of another version.
fn migrate(conn: &mut Connection, name: &str) -> Result<(), StoreError> {
    let open = |source| StoreError::Open {
        path: name.to_owned(),
        source,
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(open)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open)?;
    match found {
        0 => {
            tx.execute_batch(SCHEMA).map_err(open)?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(open)?;
        }
        SCHEMA_VERSION => {}
        _ => {
            return Err(StoreError::Schema {
                path: name.to_owned(),
                found,
                known: SCHEMA_VERSION,
            })
        }
    }
    tx.commit().map_err(open)
}

/// Moves committed pages from the WAL into the database file, without blocking writers
/// (`PASSIVE`), until the store is dropped.
fn checkpoint_loop(conn: &Connection, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(CHECKPOINT_EVERY);
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        if let Err(e) = done {
            tracing::warn!(error = %e, "failed to checkpoint the store's write-ahead log");
        }
    }
}

/// A row as read, before its JSON columns are decoded.
struct RawRow {
    id: String,
    tenant: String,
    argv: String,
    request: String,
    state: String,
    times: [Option<String>; 3],
    exit_code: Option<i32>,
    kill_reason: Option<String>,
    tier: Option<String>,
    error: Option<String>,
    usage: Option<String>,
    report: Option<String>,
    bytes: [i64; 2],
    truncated: [bool; 2],
}

fn raw_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        tenant: r.get(1)?,
        argv: r.get(2)?,
        request: r.get(3)?,
        state: r.get(4)?,
        times: [r.get(5)?, r.get(6)?, r.get(7)?],
        exit_code: r.get(8)?,
        kill_reason: r.get(9)?,
        tier: r.get(10)?,
        error: r.get(11)?,
        usage: r.get(12)?,
        report: r.get(13)?,
        bytes: [r.get(14)?, r.get(15)?],
        truncated: [r.get(16)?, r.get(17)?],
    })
}

impl RawRow {
    fn decode(self) -> Result<StoredRun, StoreError> {
        let id = self.id.clone();
        let bad = |field: &'static str, why: String| StoreError::Decode {
            id: id.clone(),
            field,
            why,
        };
        let json = |field, text: Option<String>| {
            text.map(|t| serde_json::from_str(&t).map_err(|e| bad(field, e.to_string())))
                .transpose()
        };
        let argv = serde_json::from_str(&self.argv).map_err(|e| bad("argv", e.to_string()))?;
        let state = RunState::parse(&self.state)
            .ok_or_else(|| bad("state", format!("unknown state {:?}", self.state)))?;
        let [created_at, started_at, ended_at] = self.times;
        let view = RunView {
            id: self.id,
            tenant: TenantName(self.tenant),
            argv,
            state,
            created_at: created_at.unwrap_or_default(),
            started_at,
            ended_at,
            exit_code: self.exit_code,
            kill_reason: self.kill_reason,
            tier: self.tier,
            error: self.error,
            usage: json("usage", self.usage)?,
            report: json("report", self.report)?,
            stdout_bytes: u64::try_from(self.bytes[0]).unwrap_or(0),
            stderr_bytes: u64::try_from(self.bytes[1]).unwrap_or(0),
            stdout_truncated: self.truncated[0],
            stderr_truncated: self.truncated[1],
        };
        Ok(StoredRun {
            view,
            request: self.request,
        })
    }
}

fn decode_all(rows: Vec<RawRow>) -> Result<Vec<StoredRun>, StoreError> {
    rows.into_iter().map(RawRow::decode).collect()
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn select_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<RawRow>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, raw_row)?;
    rows.collect()
}

impl Store for SqliteStore {
    fn insert(&self, run: &NewRun) -> Result<StoredRun, StoreError> {
        let argv = serde_json::to_string(&run.argv).map_err(|e| StoreError::Decode {
            id: run.id.clone(),
            field: "argv",
            why: e.to_string(),
        })?;
        let conn = self.conn();
        conn.prepare_cached(
            "INSERT INTO runs (id, tenant, argv, request, state, created_at) \
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                run.id,
                run.tenant.0,
                argv,
                run.request,
                run.created_at
            ])
        })
        .map_err(query("insert a run"))?;
        Ok(StoredRun {
            view: RunView {
                id: run.id.clone(),
                tenant: run.tenant.clone(),
                argv: run.argv.clone(),
                state: RunState::Queued,
                created_at: run.created_at.clone(),
                started_at: None,
                ended_at: None,
                exit_code: None,
                kill_reason: None,
                tier: None,
                error: None,
                usage: None,
                report: None,
                stdout_bytes: 0,
                stderr_bytes: 0,
                stdout_truncated: false,
                stderr_truncated: false,
            },
            request: run.request.clone(),
        })
    }

    fn get(&self, tenant: &TenantName, id: &str) -> Result<Option<StoredRun>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM runs WHERE id = ?1 AND tenant = ?2");
        let conn = self.reader();
        let row = conn
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row(params![id, tenant.0], raw_row).optional())
            .map_err(query("read a run"))?;
        drop(conn);
        row.map(RawRow::decode).transpose()
    }

    fn list(
        &self,
        tenant: &TenantName,
        page: &Page<'_>,
    ) -> Result<Option<Vec<StoredRun>>, StoreError> {
        let conn = self.reader();
        let before: i64 = match page.before {
            None => i64::MAX,
            Some(id) => {
                let seq = conn
                    .prepare_cached("SELECT seq FROM runs WHERE id = ?1 AND tenant = ?2")
                    .and_then(|mut s| s.query_row(params![id, tenant.0], |r| r.get(0)).optional())
                    .map_err(query("find a run"))?;
                match seq {
                    Some(seq) => seq,
                    None => return Ok(None),
                }
            }
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM runs WHERE tenant = ?1 AND seq < ?2 \
             AND (?3 IS NULL OR state = ?3) ORDER BY seq DESC LIMIT ?4"
        );
        let state = page.state.map(RunState::as_str);
        let rows = select_rows(&conn, &sql, params![tenant.0, before, state, page.limit])
            .map_err(query("list runs"))?;
        drop(conn);
        decode_all(rows).map(Some)
    }

    fn claim(&self, id: &str, started_at: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let n = conn
            .prepare_cached(
                "UPDATE runs SET state = 'running', started_at = ?2 \
                 WHERE id = ?1 AND state = 'queued'",
            )
            .and_then(|mut s| s.execute(params![id, started_at]))
            .map_err(query("start a run"))?;
        Ok(n == 1)
    }

    fn finish(&self, id: &str, end: &Ending) -> Result<(), StoreError> {
        let text = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        let state = end.state.unwrap_or(RunState::Failed).as_str();
        let conn = self.conn();
        conn.prepare_cached(
            "UPDATE runs SET state = ?2, ended_at = ?3, exit_code = ?4, kill_reason = ?5, \
             tier = ?6, error = ?7, usage = ?8, report = ?9, stdout_bytes = ?10, \
             stderr_bytes = ?11, stdout_truncated = ?12, stderr_truncated = ?13 \
             WHERE id = ?1 AND state IN ('queued', 'running')",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                state,
                end.ended_at,
                end.exit_code,
                end.kill_reason,
                end.tier,
                end.error,
                text(&end.usage),
                text(&end.report),
                to_i64(end.stdout_bytes),
                to_i64(end.stderr_bytes),
                end.stdout_truncated,
                end.stderr_truncated,
            ])
        })
        .map_err(query("finish a run"))?;
        Ok(())
    }

    fn cancel_queued(&self, tenant: &TenantName, id: &str, at: &str) -> Result<bool, StoreError> {
        let conn = self.conn();
        let n = conn
            .prepare_cached(
                "UPDATE runs SET state = 'cancelled', ended_at = ?3, \
                 error = 'cancelled before it started' \
                 WHERE id = ?1 AND tenant = ?2 AND state = 'queued'",
            )
            .and_then(|mut s| s.execute(params![id, tenant.0, at]))
            .map_err(query("cancel a run"))?;
        Ok(n == 1)
    }

    fn recover(
        &self,
        reason: &str,
        at: &str,
    ) -> Result<(Vec<StoredRun>, Vec<StoredRun>), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(query("begin recovery"))?;
        let running = format!("SELECT {COLUMNS} FROM runs WHERE state = 'running' ORDER BY seq");
        let lost = select_rows(&tx, &running, []).map_err(query("find running runs"))?;
        tx.execute(
            "UPDATE runs SET state = 'lost', ended_at = ?2, error = ?1 WHERE state = 'running'",
            params![reason, at],
        )
        .map_err(query("mark runs lost"))?;
        let queued = format!("SELECT {COLUMNS} FROM runs WHERE state = 'queued' ORDER BY seq");
        let queued = select_rows(&tx, &queued, []).map_err(query("find queued runs"))?;
        tx.commit().map_err(query("commit recovery"))?;
        drop(conn);
        let mut lost = decode_all(lost)?;
        for run in &mut lost {
            run.view.state = RunState::Lost;
            run.view.ended_at = Some(at.to_owned());
            run.view.error = Some(reason.to_owned());
        }
        Ok((lost, decode_all(queued)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(id: &str, tenant: &str) -> NewRun {
        NewRun {
            id: id.into(),
            tenant: TenantName(tenant.into()),
            argv: vec!["/bin/true".into()],
            request: r#"{"argv":["/bin/true"]}"#.into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("state.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_run_goes_from_queued_to_its_ending() {
        let (_dir, s) = store();
        let alice = TenantName("alice".into());
        s.insert(&new_run("r1", "alice")).unwrap();
        assert!(s.claim("r1", "t1").unwrap());
        assert!(!s.claim("r1", "t1").unwrap(), "a run is claimed once");
        let end = Ending {
            state: Some(RunState::Succeeded),
            ended_at: "t2".into(),
            exit_code: Some(0),
            stdout_bytes: 5,
            usage: Some(serde_json::json!({"wall_ms": 1.0})),
            ..Ending::default()
        };
        s.finish("r1", &end).unwrap();
        let got = s.get(&alice, "r1").unwrap().unwrap().view;
        assert_eq!(got.state, RunState::Succeeded);
        assert_eq!(got.exit_code, Some(0));
        assert_eq!(got.stdout_bytes, 5);
        assert_eq!(got.usage, Some(serde_json::json!({"wall_ms": 1.0})));
        let again = Ending {
            state: Some(RunState::Failed),
            ..end
        };
        s.finish("r1", &again).unwrap();
        let got = s.get(&alice, "r1").unwrap().unwrap().view;
        assert_eq!(
            got.state,
            RunState::Succeeded,
            "an ended run never changes again"
        );
    }

    #[test]
    fn another_tenants_run_is_not_found() {
        let (_dir, s) = store();
        s.insert(&new_run("r1", "alice")).unwrap();
        assert!(s.get(&TenantName("bob".into()), "r1").unwrap().is_none());
        assert!(!s
            .cancel_queued(&TenantName("bob".into()), "r1", "t")
            .unwrap());
        let page = Page {
            limit: 10,
            ..Page::default()
        };
        assert!(s
            .list(&TenantName("bob".into()), &page)
            .unwrap()
            .unwrap()
            .is_empty());
        let bob_before = Page {
            before: Some("r1"),
            limit: 10,
            ..Page::default()
        };
        assert!(s
            .list(&TenantName("bob".into()), &bob_before)
            .unwrap()
            .is_none());
    }

    #[test]
    fn recovery_marks_running_lost_and_returns_queued_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let s = SqliteStore::open(&path).unwrap();
            for id in ["a", "b", "c"] {
                s.insert(&new_run(id, "alice")).unwrap();
            }
            assert!(s.claim("b", "t1").unwrap());
        }
        let s = SqliteStore::open(&path).unwrap();
        let (lost, queued) = s.recover("the runner stopped", "t2").unwrap();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].view.id, "b");
        let ids: Vec<_> = queued.iter().map(|r| r.view.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        let b = s
            .get(&TenantName("alice".into()), "b")
            .unwrap()
            .unwrap()
            .view;
        assert_eq!(b.state, RunState::Lost);
        assert_eq!(b.error.as_deref(), Some("the runner stopped"));
    }

    #[test]
    fn pages_go_newest_first() {
        let (_dir, s) = store();
        let alice = TenantName("alice".into());
        for i in 0..5 {
            s.insert(&new_run(&format!("r{i}"), "alice")).unwrap();
        }
        let first = Page {
            limit: 2,
            ..Page::default()
        };
        let ids = |v: Vec<StoredRun>| v.into_iter().map(|r| r.view.id).collect::<Vec<_>>();
        assert_eq!(ids(s.list(&alice, &first).unwrap().unwrap()), ["r4", "r3"]);
        let next = Page {
            before: Some("r3"),
            limit: 2,
            ..Page::default()
        };
        assert_eq!(ids(s.list(&alice, &next).unwrap().unwrap()), ["r2", "r1"]);
        let queued_only = Page {
            state: Some(RunState::Running),
            limit: 10,
            ..Page::default()
        };
        assert!(s.list(&alice, &queued_only).unwrap().unwrap().is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::Schema { found: 99, .. })
        ));
    }
}
