//! The audit log: one record per mutating call, login attempt, token change and role
//! change — who, from where, what, on what, and how it ended.
//!
//! Records live in the `audit` table keyed by an increasing id (the paging cursor).
//! Queries walk newest-first from the cursor; retention prunes by age and by count
//! ([`Retention`]), at start and hourly.

use berth_protocol::api::audit::{AuditEntry, AuditFilter, CSV_HEADER};
use berth_protocol::api::{parse_rfc3339, rfc3339};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_core::store::{Store, StoreError};

pub(crate) const AUDIT: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("audit");

/// A record as stored (the id is the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub time_ms: u64,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub client: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub outcome: String,
    /// How many times this happened: repeated failures from one source are one record
    /// whose count grows ([`AuditLog`]). Absent means once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// More about what happened (an exec's command, how long it ran, its exit code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl AuditRecord {
    /// A record of `actor` doing `method` on `target`, now.
    pub fn new(
        actor: &str,
        client: &str,
        method: &str,
        target: Option<String>,
        outcome: &str,
    ) -> Self {
        Self {
            time_ms: crate::users::now_ms(),
            actor: actor.to_owned(),
            token: None,
            client: client.to_owned(),
            method: method.to_owned(),
            target,
            outcome: outcome.to_owned(),
            count: None,
            detail: None,
        }
    }

    pub fn to_entry(&self, id: u64) -> AuditEntry {
        AuditEntry {
            id,
            time: rfc3339(self.time_ms),
            actor: self.actor.clone(),
            token: self.token.clone(),
            client: self.client.clone(),
            method: self.method.clone(),
            target: self.target.clone(),
            outcome: self.outcome.clone(),
            count: self.count,
            detail: self.detail.clone(),
        }
    }
}

/// How long and how much of the log is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_ms: u64,
    pub max_entries: u64,
}

/// The setting (`settings.update`) for how many days audit entries are kept.
pub const RETENTION_DAYS_SETTING: &str = "audit_retention_days";

impl Retention {
    /// `configured`, with the age a changed setting asks for.
    pub fn effective(
        configured: Self,
        store: &(impl berth_core::store::StoreAccess + ?Sized),
    ) -> Self {
        match store.setting(RETENTION_DAYS_SETTING) {
            Ok(Some(days)) => Self {
                max_age_ms: days.saturating_mul(86_400_000),
                ..configured
            },
            _ => configured,
        }
    }
}

/// A validated [`AuditFilter`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    actor: Option<String>,
    method: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    since_ms: Option<u64>,
    until_ms: Option<u64>,
}

impl Filter {
    /// Fails with the offending field's name and why.
    pub fn new(f: &AuditFilter) -> Result<Self, (&'static str, String)> {
        let time = |field: &'static str,
                    v: &Option<String>|
         -> Result<Option<u64>, (&'static str, String)> {
            v.as_deref()
                .map(|s| parse_rfc3339(s).ok_or((field, format!("{s:?} is not an RFC 3339 time"))))
                .transpose()
        };
        Ok(Self {
            actor: f.actor.clone().filter(|s| !s.is_empty()),
            method: f.method.clone().filter(|s| !s.is_empty()),
            target: f.target.clone().filter(|s| !s.is_empty()),
            outcome: f.outcome.clone().filter(|s| !s.is_empty()),
            since_ms: time("since", &f.since)?,
            until_ms: time("until", &f.until)?,
        })
    }

    fn matches(&self, r: &AuditRecord) -> bool {
        let method_ok = self.method.as_deref().is_none_or(|m| {
            if let Some(prefix) = m.strip_suffix('*') {
                r.method.starts_with(prefix)
            } else if m.ends_with('.') {
                r.method.starts_with(m)
            } else {
                r.method == m
            }
        });
        let outcome_ok = self.outcome.as_deref().is_none_or(|o| match o {
            "error" => r.outcome != "ok",
            _ => r.outcome == o,
        });
        self.actor.as_deref().is_none_or(|a| r.actor == a)
            && method_ok
            && self
                .target
                .as_deref()
                .is_none_or(|t| r.target.as_deref() == Some(t))
            && outcome_ok
            && self.since_ms.is_none_or(|s| r.time_ms >= s)
            && self.until_ms.is_none_or(|u| r.time_ms < u)
    }
}

fn decode(bytes: &[u8]) -> Option<AuditRecord> {
    serde_json::from_slice(bytes).ok()
}

pub trait AuditTable: berth_core::store::StoreAccess {
    /// Appends a record; returns its id. The oldest records beyond `max_entries` go in
    /// the same step, so a flood cannot grow the log past its cap between prunings.
    fn audit_append(&self, rec: &AuditRecord, max_entries: u64) -> Result<u64, StoreError> {
        let tx = self.db().begin_write()?;
        let id = {
            let mut t = tx.open_table(AUDIT)?;
            let id = t.last()?.map_or(1, |(k, _)| k.value() + 1);
            t.insert(
                id,
                serde_json::to_vec(rec).expect("serialisable").as_slice(),
            )?;
            while t.len()? > max_entries.max(1) {
                t.pop_first()?;
            }
            id
        };
        tx.commit()?;
        Ok(id)
    }

    /// Sets the repeat count of record `id` (gone already: nothing to do).
    fn audit_set_count(&self, id: u64, count: u64) -> Result<(), StoreError> {
        let tx = self.db().begin_write()?;
        {
            let mut t = tx.open_table(AUDIT)?;
            let rec = t.get(id)?.and_then(|v| decode(v.value()));
            if let Some(mut rec) = rec {
                rec.count = Some(count);
                t.insert(
                    id,
                    serde_json::to_vec(&rec).expect("serialisable").as_slice(),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` matching records older than `cursor`, newest first, and the cursor
    /// of the next page when there may be one.
    fn audit_query(
        &self,
        filter: &Filter,
        cursor: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<AuditEntry>, Option<u64>), StoreError> {
        let tx = self.db().begin_read()?;
        let t = tx.open_table(AUDIT)?;
        let mut out = Vec::with_capacity(limit.min(1024));
        let range = t.range(..cursor.unwrap_or(u64::MAX))?;
        for r in range.rev() {
            let (k, v) = r?;
            let Some(rec) = decode(v.value()) else {
                continue;
            };
            if filter.since_ms.is_some_and(|s| rec.time_ms < s) {
                // Ids grow with time: everything further back is older still.
                break;
            }
            if filter.matches(&rec) {
                if out.len() == limit {
                    let next = out.last().map(|e: &AuditEntry| e.id);
                    return Ok((out, next));
                }
                out.push(rec.to_entry(k.value()));
            }
        }
        Ok((out, None))
    }

    /// Removes records older than the retention age and the oldest beyond the count.
    fn audit_prune(&self, retention: Retention, now_ms: u64) -> Result<u64, StoreError> {
        let cutoff = now_ms.saturating_sub(retention.max_age_ms);
        let tx = self.db().begin_write()?;
        let removed = {
            let mut t = tx.open_table(AUDIT)?;
            let before = t.len()?;
            let excess = before.saturating_sub(retention.max_entries);
            let mut n = 0u64;
            loop {
                let old = match t.first()? {
                    None => break,
                    Some((_, v)) => decode(v.value()).is_none_or(|r| r.time_ms < cutoff),
                };
                if n < excess || old {
                    t.pop_first()?;
                    n += 1;
                } else {
                    break;
                }
            }
            n
        };
        tx.commit()?;
        Ok(removed)
    }
}

impl AuditTable for Store {}

/// How long repeated failures of one kind from one source fold into one record.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Bound on the sources tracked for folding (a flood of distinct names stays bounded).
const REPEAT_KEYS: usize = 10_000;
/// How often a growing count is written back.
const COUNT_FLUSH: Duration = Duration::from_secs(1);

/// What makes two failures "the same": who, from where, what, on what, how it ended.
type RepeatKey = (String, String, String, Option<String>, String);

#[derive(Debug)]
struct Repeat {
    /// The record's id; 0 while it is being appended.
    id: u64,
    count: u64,
    until: Instant,
    flush_pending: bool,
}

/// The audit log's writer: appends records off the async threads, prunes by count as
/// it appends, and folds repeated failures — a locked-out client hammering the login,
/// a viewer calling an admin method in a loop — into one record per source and window
/// with a count, so they cannot push real history out of the log.
#[derive(Debug)]
pub struct AuditLog {
    max_entries: u64,
    repeats: Mutex<HashMap<RepeatKey, Repeat>>,
}

/// What [`AuditLog::fold`] decided for a record.
enum Fold {
    /// New: append it (and tell the fold its id).
    Append,
    /// A repeat of record `id`; write the count back if asked.
    Repeat { id: u64, count: u64, flush: bool },
}

impl AuditLog {
    pub fn new(retention: Retention) -> Self {
        Self {
            max_entries: retention.max_entries,
            repeats: Mutex::new(HashMap::new()),
        }
    }

    /// Writes one record: successes always; a failure like one already written from
    /// the same source within its window (`window`, default [`REPEAT_WINDOW`]) only
    /// raises that record's count.
    pub async fn record(
        self: &Arc<Self>,
        store: Arc<Store>,
        rec: AuditRecord,
        window: Option<Duration>,
    ) {
        let key: RepeatKey = (
            rec.actor.clone(),
            rec.client.clone(),
            rec.method.clone(),
            rec.target.clone(),
            rec.outcome.clone(),
        );
        let fold = if rec.outcome == "ok" {
            Fold::Append
        } else {
            self.fold(&key, window.unwrap_or(REPEAT_WINDOW))
        };
        match fold {
            Fold::Append => {
                let max = self.max_entries;
                let method = rec.method.clone();
                let appended =
                    tokio::task::spawn_blocking(move || store.audit_append(&rec, max)).await;
                let id = match appended {
                    Ok(Ok(id)) => id,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, method, "cannot write the audit log");
                        0
                    }
                    Err(e) => {
                        tracing::error!(error = %e, method, "cannot write the audit log");
                        0
                    }
                };
                if let Some(r) = self.lock().get_mut(&key) {
                    r.id = id;
                }
            }
            Fold::Repeat { id, count, flush } => {
                if flush {
                    let this = Arc::clone(self);
                    tokio::spawn(async move { this.flush_later(store, key, id, count).await });
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RepeatKey, Repeat>> {
        self.repeats.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fold(&self, key: &RepeatKey, window: Duration) -> Fold {
        let now = Instant::now();
        let mut repeats = self.lock();
        if let Some(r) = repeats.get_mut(key).filter(|r| r.until > now) {
            r.count += 1;
            let flush = r.id != 0 && !r.flush_pending;
            r.flush_pending |= flush;
            return Fold::Repeat {
                id: r.id,
                count: r.count,
                flush,
            };
        }
        if repeats.len() >= REPEAT_KEYS {
            repeats.retain(|_, r| r.until > now);
        }
        if repeats.len() >= REPEAT_KEYS {
            repeats.clear();
        }
        repeats.insert(
            key.clone(),
            Repeat {
                id: 0,
                count: 1,
                until: now + window,
                flush_pending: false,
            },
        );
        Fold::Append
    }

    /// Writes a repeat count back after [`COUNT_FLUSH`], with whatever it has grown to
    /// by then: one write a second per flooding source, not one per failure.
    async fn flush_later(&self, store: Arc<Store>, key: RepeatKey, id: u64, at_least: u64) {
        tokio::time::sleep(COUNT_FLUSH).await;
        let count = {
            let mut repeats = self.lock();
            match repeats.get_mut(&key).filter(|r| r.id == id) {
                Some(r) => {
                    r.flush_pending = false;
                    r.count
                }
                None => at_least,
            }
        };
        let written = tokio::task::spawn_blocking(move || store.audit_set_count(id, count)).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::error!(id, "cannot update an audit record's count");
        }
    }
}

/// One entry as a JSON line (with the newline).
pub fn jsonl_line(e: &AuditEntry) -> String {
    let mut s = serde_json::to_string(e).expect("serialisable");
    s.push('\n');
    s
}

/// One entry as a CSV row (RFC 4180 quoting), with the newline.
pub fn csv_row(e: &AuditEntry) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let cells = [
        e.id.to_string(),
        e.time.clone(),
        e.actor.clone(),
        e.token.clone().unwrap_or_default(),
        e.client.clone(),
        e.method.clone(),
        e.target.clone().unwrap_or_default(),
        e.outcome.clone(),
        e.count.unwrap_or(1).to_string(),
        e.detail.clone().unwrap_or_default(),
    ];
    let mut row = cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",");
    row.push('\n');
    row
}

/// The CSV header line.
pub fn csv_header() -> String {
    format!("{CSV_HEADER}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: u64, actor: &str, method: &str, outcome: &str) -> AuditRecord {
        AuditRecord {
            time_ms: t,
            actor: actor.into(),
            token: None,
            client: "127.0.0.1".into(),
            method: method.into(),
            target: Some("x".into()),
            outcome: outcome.into(),
            count: None,
            detail: None,
        }
    }

    #[test]
    fn appending_past_the_cap_drops_the_oldest_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        for i in 0..30u64 {
            s.audit_append(&rec(i, "a", "m", "ok"), 10).unwrap();
        }
        let (page, _) = s.audit_query(&Filter::default(), None, 100).unwrap();
        assert_eq!(page.len(), 10);
        assert_eq!(page.last().unwrap().time, rfc3339(20));
    }

    #[tokio::test]
    async fn repeated_failures_from_one_source_are_one_record_with_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap());
        let log = Arc::new(AuditLog::new(Retention {
            max_age_ms: u64::MAX,
            max_entries: 1_000,
        }));
        for _ in 0..500 {
            log.record(
                Arc::clone(&s),
                rec(1, "mallory", "auth.login", "rate_limited"),
                None,
            )
            .await;
        }
        // Another source and a success are their own records.
        let mut other = rec(1, "mallory", "auth.login", "rate_limited");
        other.client = "10.0.0.1".into();
        log.record(Arc::clone(&s), other, None).await;
        log.record(Arc::clone(&s), rec(1, "alice", "auth.login", "ok"), None)
            .await;
        // The count is written back within a second of the last repeat.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (page, _) = s.audit_query(&Filter::default(), None, 100).unwrap();
            assert_eq!(page.len(), 3, "{page:?}");
            if page[2].count == Some(500) {
                break;
            }
            assert!(Instant::now() < deadline, "count not written: {page:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[test]
    fn filters_pages_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb"), &[crate::tables]).unwrap();
        for i in 0..25u64 {
            let who = if i % 2 == 0 { "alice" } else { "bob" };
            let outcome = if i % 5 == 0 { "forbidden" } else { "ok" };
            s.audit_append(&rec(1000 + i, who, "users.update", outcome), 1_000)
                .unwrap();
        }
        s.audit_append(&rec(2000, "alice", "tokens.create", "ok"), 1_000)
            .unwrap();
        let all = Filter::default();
        let (page, next) = s.audit_query(&all, None, 10).unwrap();
        assert_eq!(page.len(), 10);
        assert_eq!(page[0].method, "tokens.create", "newest first");
        let (page2, _) = s.audit_query(&all, next, 10).unwrap();
        assert!(
            page2[0].id < page[9].id,
            "the cursor continues where the page ended"
        );

        let f = Filter::new(&AuditFilter {
            actor: Some("alice".into()),
            method: Some("users.".into()),
            outcome: Some("error".into()),
            ..AuditFilter::default()
        })
        .unwrap();
        let (hits, next) = s.audit_query(&f, None, 100).unwrap();
        assert_eq!(hits.iter().map(|e| e.id).collect::<Vec<_>>(), [21, 11, 1]);
        assert_eq!(next, None);
        let f = Filter::new(&AuditFilter {
            since: Some(rfc3339(1020)),
            ..AuditFilter::default()
        });
        assert!(f.is_ok());
        assert_eq!(
            Filter::new(&AuditFilter {
                until: Some("soon".into()),
                ..AuditFilter::default()
            })
            .unwrap_err()
            .0,
            "until"
        );

        let removed = s
            .audit_prune(
                Retention {
                    max_age_ms: 1000,
                    max_entries: 20,
                },
                2010,
            )
            .unwrap();
        // Count: 26 → 20 (6 oldest); age: everything before t=1010 (ids 1..=10).
        assert_eq!(removed, 10);
        let (left, _) = s.audit_query(&all, None, 100).unwrap();
        assert_eq!(left.last().unwrap().id, 11);
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let mut r = rec(0, "a,b", "m", "ok");
        r.target = Some("say \"hi\"".into());
        assert_eq!(
            csv_row(&r.to_entry(7)),
            "7,1970-01-01T00:00:00Z,\"a,b\",,127.0.0.1,m,\"say \"\"hi\"\"\",ok,1,\n"
        );
    }
}
