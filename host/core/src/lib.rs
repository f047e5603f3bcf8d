//! Berth's base, below everything else: the store (redb) and its typed tables, the
//! installation key that seals secrets, the data directory and its lock, the fan-out of
//! one source to many subscribers, the broadcast of Berth's own activity, and small
//! helpers (time, text, the allocator).
//! It knows nothing of Docker, plugins or the wire.

// Host functions stay short enough to read whole (threshold in clippy.toml);
// a longer one is split by phase, or carries a reasoned `#[expect]`.
#![warn(clippy::too_many_lines)]

pub mod activity;
pub mod alloc;
pub mod datadir;
pub mod error;
pub mod fanout;
pub mod records;
pub mod secrets;
pub mod store;
pub mod text;
pub mod time;
