//! A terminal for a command Berth runs on a user's behalf (the compose CLI): a
//! pseudo-terminal, so the command draws colours and progress as it would at a
//! shell; a pipe where no terminal can be had (a container without `/dev/pts`), so
//! the command still runs and its output is still read.

use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};
use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use rustix::termios::{Winsize, tcsetwinsize};

use crate::errors::DockerError;

/// The terminal's width: the UI's output panel fits it.
pub const COLUMNS: u16 = 120;
const ROWS: u16 = 30;

/// A terminal's two sides: the one Berth reads and the one the command writes to.
pub fn open() -> Result<(OwnedFd, OwnedFd), DockerError> {
    match pseudo_terminal() {
        Ok(pair) => Ok(pair),
        Err(e) => {
            tracing::debug!(error = %e, "no pseudo-terminal; the output goes through a pipe");
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
                .map_err(|e| DockerError::Internal(format!("cannot open a pipe: {e}")))
        }
    }
}

fn pseudo_terminal() -> rustix::io::Result<(OwnedFd, OwnedFd)> {
    let main = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    grantpt(&main)?;
    unlockpt(&main)?;
    let name = ptsname(&main, Vec::new())?;
    let side = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    tcsetwinsize(
        &side,
        Winsize {
            ws_row: ROWS,
            ws_col: COLUMNS,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )?;
    Ok((main, side))
}

/// A terminal's output as log lines: escape sequences (colours, cursor moves)
/// dropped, a carriage return starting the line over (what a progress bar's last
/// state shows), blank lines skipped.
#[derive(Debug, Default)]
pub struct Lines {
    line: Vec<u8>,
    escape: Escape,
    /// A carriage return was the last byte: the next text starts the line over,
    /// unless it is the newline of a `\r\n`.
    returned: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Start,
    /// In a control sequence (`ESC [` … a final byte).
    Control,
    /// In an operating-system command (`ESC ]` … BEL or ESC \).
    Command,
}

impl Lines {
    /// The lines `bytes` completes.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut done = Vec::new();
        for &b in bytes {
            if self.returned && self.escape == Escape::None && b != b'\n' && b != b'\r' {
                self.line.clear();
            }
            if self.escape == Escape::None {
                self.returned = false;
            }
            self.escape = match (self.escape, b) {
                (Escape::None, 0x1b) => Escape::Start,
                (Escape::None, b'\n') => {
                    done.extend(self.take());
                    Escape::None
                }
                (Escape::None, b'\r') => {
                    self.returned = true;
                    Escape::None
                }
                (Escape::None, b) => {
                    if b >= 0x20 || b == b'\t' {
                        self.line.push(b);
                    }
                    Escape::None
                }
                (Escape::Start, b'[') => Escape::Control,
                (Escape::Start, b']') => Escape::Command,
                (Escape::Start, _) => Escape::None,
                (Escape::Control, 0x40..=0x7e) => Escape::None,
                (Escape::Control, _) => Escape::Control,
                (Escape::Command, 0x07) => Escape::None,
                // ESC \ ends it; the backslash goes with the escape.
                (Escape::Command, 0x1b) => Escape::Start,
                (Escape::Command, _) => Escape::Command,
            };
        }
        done
    }

    /// The last line, unfinished when the output ended.
    pub fn finish(&mut self) -> Option<String> {
        self.take()
    }

    fn take(&mut self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.line).trim_end().to_owned();
        self.line.clear();
        (!text.trim().is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_progress_become_plain_lines() {
        let mut lines = Lines::default();
        let mut out = lines.push(b"Creating web ... \x1b[32mdone\x1b[0m\r\n");
        out.extend(lines.push(b"Pulling 10%\rPulling 50%\rPulling done\r\n\r\n"));
        out.extend(lines.push(b"\x1b]0;title\x07\x1b[2K\x1b[1Aall"));
        assert_eq!(out, ["Creating web ... done", "Pulling done"]);
        assert_eq!(lines.finish().as_deref(), Some("all"));
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn a_line_split_across_reads_is_one_line() {
        let mut lines = Lines::default();
        assert!(lines.push(b"Star").is_empty());
        assert!(lines.push(b"ting \x1b[3").is_empty());
        assert_eq!(lines.push(b"3mweb\x1b[0m\n"), ["Starting web"]);
    }
}
