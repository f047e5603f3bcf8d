//! The `stack_versions` table: the files each save replaced, keyed
//! `<stack>/<replaced_ms:016>` so a stack's versions are one key range in time order;
//! the last [`KEPT`] of each stack are kept.

use berth_core::records::RecordTable;
use berth_core::store::{StoreAccess, StoreError};
use berth_protocol::api::stacks::StackVersion;

pub(crate) const VERSIONS: RecordTable<StackVersion> =
    RecordTable::new("stack_versions", "stack version");

/// Versions kept per stack.
pub const KEPT: usize = 20;

pub trait StackVersionsTable: StoreAccess {
    fn put_version(&self, stack: &str, version: &StackVersion) -> Result<(), StoreError> {
        let key = format!("{stack}/{:016}", version.replaced_ms);
        VERSIONS.put_in_group(self.db(), stack, &key, version, KEPT)
    }

    /// Newest first.
    fn versions(&self, stack: &str) -> Result<Vec<StackVersion>, StoreError> {
        VERSIONS.group_newest(self.db(), stack, KEPT)
    }
}

impl StackVersionsTable for berth_core::store::Store {}
