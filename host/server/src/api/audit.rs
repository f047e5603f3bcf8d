//! `audit.list` and `audit.export` (admin).

use berth_protocol::api::audit::{AuditExportPage, AuditPage, AuditQuery, ExportFormat};
use berth_protocol::api::catalogue::{AuditExport, AuditList};
use berth_protocol::error::ErrorBody;

use std::sync::Arc;

use crate::ws::registry::{Registry, bad_field, blocking, internal};
use berth_core::store::Store;
use berth_identity::audit::{Filter, csv_header, csv_row, jsonl_line};
use berth_identity::prelude::*;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

async fn query(
    store: Arc<Store>,
    q: AuditQuery,
) -> Result<(Vec<berth_protocol::api::audit::AuditEntry>, Option<u64>), ErrorBody> {
    let filter = Filter::new(&q.filter).map_err(|(field, why)| bad_field(field, why))?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(bad_field("limit", format!("between 1 and {MAX_LIMIT}")));
    }
    let cursor = q.cursor;
    blocking(move || {
        store
            .audit_query(&filter, cursor, limit as usize)
            .map_err(|e| internal(&e))
    })
    .await
}

pub fn register(r: &mut Registry) {
    r.method(AuditList, list);
    r.method(AuditExport, export);
}

async fn list(store: Arc<Store>, q: AuditQuery) -> Result<AuditPage, ErrorBody> {
    let (entries, next_cursor) = query(store, q).await?;
    Ok(AuditPage {
        entries,
        next_cursor,
    })
}

async fn export(
    store: Arc<Store>,
    params: berth_protocol::api::audit::AuditExport,
) -> Result<AuditExportPage, ErrorBody> {
    let first = params.query.cursor.is_none();
    let (entries, next_cursor) = query(store, params.query).await?;
    let mut content = String::new();
    if params.format == ExportFormat::Csv && first {
        content.push_str(&csv_header());
    }
    for e in &entries {
        content.push_str(&match params.format {
            ExportFormat::Jsonl => jsonl_line(e),
            ExportFormat::Csv => csv_row(e),
        });
    }
    Ok(AuditExportPage {
        format: params.format,
        content,
        count: entries.len() as u32,
        next_cursor,
    })
}
