//! Backups. Today: the encryption of backup archives ([`crypt`]) and
//! `berth backup decrypt`; the job queue, the archive writer and restore follow
//! (issue 6).

pub mod crypt;
