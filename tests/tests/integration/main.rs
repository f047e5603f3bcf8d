//! The integration suites, one module per area, in one test binary: each binary
//! links the host, wasmtime and bollard, and 22 of them took minutes to link and
//! gigabytes of disk. Run one area with `cargo test --test integration <area>::`.

mod activity;
mod backup_decrypt;
mod backup_restore;
mod browser;
mod browser_docker;
mod browser_identity;
mod browser_layout;
mod browser_schedules;
mod browser_stacks;
mod container_create;
mod ctl;
mod docker_api;
mod docker_harness;
mod docker_outage;
mod host;
mod identity;
mod identity_api;
mod image;
mod image_pull;
mod login;
mod metrics;
mod offsite;
mod plugin_install;
mod plugin_notify;
mod plugin_sandbox;
mod plugin_storage;
mod plugin_template;
mod reverse_proxy;
/// The S3 plugin's pure logic (part sizes, the age of a stale upload), compiled here
/// from the plugin's source (plugins build only for wasm32) so that its unit tests run
/// on the host.
#[path = "../../../plugins/storage-s3/src/parts.rs"]
mod s3_parts;
#[path = "../../../plugins/storage-s3/src/age.rs"]
mod s3_stale_age;
mod schedules;
mod security;
mod self_protection;
mod settings;
mod stacks;
mod stacks_backup;
mod stacks_convert;
mod state;
mod tls;
mod upgrade;
mod web;
mod ws_protocol;
