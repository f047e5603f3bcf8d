//! Passphrases for the commands that seal or open things: the first line of a file,
//! else an environment variable — never a flag (flags show in `ps`).

use std::path::Path;

use anyhow::Context;

/// The first line of `file`, else the variable `env`.
pub fn read(file: Option<&Path>, env: &str) -> anyhow::Result<String> {
    if let Some(file) = file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    std::env::var(env).map_err(|_| anyhow::anyhow!("give --passphrase-file or {env}"))
}
