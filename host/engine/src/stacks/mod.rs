//! Compose stacks kept as folders in the stacks directory (`stacks_dir`): one folder
//! per stack with a compose file, an optional `.env`, and whatever the stack
//! bind-mounts relatively.
//!
//! - `folder`: stack names (compose project names), the folder confined to the
//!   directory (no `..`, no symlinked folder or file), reading and atomic writing.
//! - `validate`: YAML with line and column, the compose shape, then the compose CLI's
//!   own `config` check.
//! - `versions`: the files each save replaced, kept in the store (the last 20).
//! - `actions`: the compose CLI run on a stack (`up`, `down`, …) for `stack.output`.
//! - `manage`: list (folders beside external projects found by their labels, each
//!   with its services' states), get, create, save, delete, history.
//!
//! Writing a compose file is root on the host (it may bind-mount `/`): the server
//! lets only admins call what writes.

pub mod actions;
pub mod convert;
pub mod external;
pub mod folder;
pub mod manage;
pub mod validate;
pub mod versions;
