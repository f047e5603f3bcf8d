//! A volume's tar moved under one directory, so Docker's archive API extracts it at the
//! container's root instead of at the volume's mount point.
//!
//! Why: Docker refuses to extract a symlink whose target, read relative to the link's
//! directory, climbs above the extraction directory (`link -> ../../etc/passwd`, an
//! ordinary thing in real volumes; its target is only text). Extracted at `/` with
//! every path under `vol/`, no target can climb above `/`, and every link restores
//! exactly. Only entry paths (and hard links' targets, which name entries) change;
//! symlink targets, metadata, extended headers and data pass through byte for byte.
//!
//! The rewrite works on the raw 512-byte blocks rather than through a tar library,
//! because libraries normalise what they write (`a//b` → `a/b` in link targets), which
//! would change what the restore must reproduce exactly.

use std::io::{self, Read, Write};

const BLOCK: usize = 512;
/// Bounds on extension records held while rewriting (a path is at most a few KiB).
const MAX_PAX: u64 = 1 << 20;
const MAX_LONG_NAME: u64 = 64 << 10;

/// Why an entry cannot be restored: a path Docker would refuse whatever Berth did.
pub fn check_path(path: &[u8]) -> io::Result<()> {
    let bad = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "entry {:?} cannot be restored: {why}",
                String::from_utf8_lossy(path)
            ),
        ))
    };
    if path.starts_with(b"/") {
        return bad("an absolute path");
    }
    if path.contains(&0) {
        return bad("a NUL in its name");
    }
    if path.split(|b| *b == b'/').any(|c| c == b"..") {
        return bad("`..` in its path");
    }
    Ok(())
}

/// `./a/b` → `<prefix>/a/b`; `./` → `<prefix>/`.
fn under(prefix: &[u8], path: &[u8]) -> Vec<u8> {
    let mut p = path;
    while let Some(rest) = p.strip_prefix(b"./") {
        p = rest;
    }
    if p == b"." {
        p = b"";
    }
    let mut out = prefix.to_vec();
    out.push(b'/');
    out.extend_from_slice(p);
    out
}

fn field(h: &[u8]) -> &[u8] {
    let end = h.iter().position(|b| *b == 0).unwrap_or(h.len());
    &h[..end]
}

/// A numeric header field: octal text, or GNU base-256 when the top bit is set.
fn number(f: &[u8]) -> io::Result<u64> {
    if f.first().is_some_and(|b| b & 0x80 != 0) {
        let mut n: u64 = u64::from(f[0] & 0x7f);
        for b in &f[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(u64::from(*b)))
                .ok_or_else(|| damaged("a size too large"))?;
        }
        return Ok(n);
    }
    let text = std::str::from_utf8(f).map_err(|_| damaged("a size that is not a number"))?;
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| damaged("a size that is not a number"))
}

fn damaged(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the volume's tar holds {what}"),
    )
}

fn padded(n: u64) -> u64 {
    n.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Whether an entry of this type carries data (Go's and GNU tar's rule).
fn has_data(typeflag: u8) -> bool {
    !matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

/// PAX records as (key, value) pairs, in order.
fn pax_records(data: &[u8]) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() && rest[0] != 0 {
        let sp = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or_else(|| damaged("a broken extended header"))?;
        let len: usize = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|l| *l > sp + 1 && *l <= rest.len())
            .ok_or_else(|| damaged("a broken extended header"))?;
        let record = &rest[sp + 1..len - 1];
        let eq = record
            .iter()
            .position(|b| *b == b'=')
            .ok_or_else(|| damaged("a broken extended header"))?;
        out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        rest = &rest[len..];
    }
    Ok(out)
}

fn pax_encode(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut data = Vec::new();
    for (k, v) in records {
        let rest = 3 + k.len() + v.len();
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(len.to_string().as_bytes());
        data.push(b' ');
        data.extend_from_slice(k);
        data.push(b'=');
        data.extend_from_slice(v);
        data.push(b'\n');
    }
    data
}

/// A header block for an extension entry (`x` PAX or `L`/`K` GNU) of `size` bytes.
fn extension_header(typeflag: u8, size: u64, gnu: bool) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    let name: &[u8] = if gnu { b"././@LongLink" } else { b"PaxHeader" };
    h[..name.len()].copy_from_slice(name);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = typeflag;
    if gnu {
        h[257..265].copy_from_slice(b"ustar  \0");
    } else {
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
    }
    checksum(&mut h);
    h
}

fn checksum(h: &mut [u8; BLOCK]) {
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

fn read_block(r: &mut impl Read, b: &mut [u8; BLOCK]) -> io::Result<bool> {
    let mut got = 0;
    while got < BLOCK {
        match r.read(&mut b[got..])? {
            0 if got == 0 => return Ok(false),
            0 => return Err(damaged("a cut-off block")),
            n => got += n,
        }
    }
    Ok(true)
}

fn read_data(r: &mut impl Read, size: u64, max: u64) -> io::Result<Vec<u8>> {
    if size > max {
        return Err(damaged("an oversized extended header"));
    }
    let mut data = vec![0u8; usize::try_from(padded(size)).expect("bounded")];
    r.read_exact(&mut data)?;
    data.truncate(usize::try_from(size).expect("bounded"));
    Ok(data)
}

fn write_padded(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    w.write_all(data)?;
    let pad = usize::try_from(padded(data.len() as u64)).expect("small") - data.len();
    w.write_all(&[0u8; BLOCK][..pad])
}

/// Extension entries seen before the entry they describe.
#[derive(Default)]
struct Pending {
    pax: Option<Vec<(Vec<u8>, Vec<u8>)>>,
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
}

/// Copies the tar `r` to `w` with every entry's path (and every hard link's target)
/// under `prefix/`. Refuses (as damaged data) what no restore could write: absolute
/// paths, `..`, NULs in names. Everything after the end-of-archive marker is copied as
/// it is.
pub fn rebase(mut r: impl Read, mut w: impl Write, prefix: &str) -> io::Result<()> {
    let prefix = prefix.as_bytes();
    let mut block = [0u8; BLOCK];
    let mut pending = Pending::default();
    loop {
        if !read_block(&mut r, &mut block)? {
            // A stream without the end marker: the archive API's own output always
            // has one, so this is a cut-off tar.
            return Err(damaged("no end-of-archive marker"));
        }
        if block.iter().all(|b| *b == 0) {
            w.write_all(&block)?;
            io::copy(&mut r, &mut w)?;
            return Ok(());
        }
        let typeflag = block[156];
        let size = number(&block[124..136])?;
        match typeflag {
            b'x' => {
                pending.pax = Some(pax_records(&read_data(&mut r, size, MAX_PAX)?)?);
                continue;
            }
            b'L' => {
                let data = read_data(&mut r, size, MAX_LONG_NAME)?;
                pending.long_name = Some(field(&data).to_vec());
                continue;
            }
            b'K' => {
                let data = read_data(&mut r, size, MAX_LONG_NAME)?;
                pending.long_link = Some(field(&data).to_vec());
                continue;
            }
            b'g' => {
                w.write_all(&block)?;
                io::copy(&mut (&mut r).take(padded(size)), &mut w)?;
                continue;
            }
            _ => {}
        }
        let taken = std::mem::take(&mut pending);
        let data_size = entry(&mut w, &mut block, taken, prefix)?;
        let n = if has_data(typeflag) {
            padded(data_size)
        } else {
            0
        };
        let copied = io::copy(&mut (&mut r).take(n), &mut w)?;
        if copied != n {
            return Err(damaged("a cut-off entry"));
        }
    }
}

/// Writes one main entry's extensions and header with the paths moved; returns its
/// data size.
fn entry(
    w: &mut impl Write,
    block: &mut [u8; BLOCK],
    pending: Pending,
    prefix: &[u8],
) -> io::Result<u64> {
    let typeflag = block[156];
    let posix = &block[257..263] == b"ustar\0";
    let pax_get = |k: &[u8]| {
        pending.pax.as_ref().and_then(|p| {
            p.iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        })
    };
    let name = pax_get(b"path")
        .or_else(|| pending.long_name.clone())
        .unwrap_or_else(|| {
            let mut n = Vec::new();
            let pre = field(&block[345..500]);
            if posix && !pre.is_empty() {
                n.extend_from_slice(pre);
                n.push(b'/');
            }
            n.extend_from_slice(field(&block[..100]));
            n
        });
    let hard = typeflag == b'1';
    let link = pax_get(b"linkpath")
        .or_else(|| pending.long_link.clone())
        .unwrap_or_else(|| field(&block[157..257]).to_vec());
    check_path(&name)?;
    if hard {
        check_path(&link)?;
    }
    let new_name = under(prefix, &name);
    let new_link = if hard { under(prefix, &link) } else { link };
    let size = match pax_get(b"size") {
        Some(s) => std::str::from_utf8(&s)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| damaged("a bad size record"))?,
        None => number(&block[124..136])?,
    };

    // Extensions: the PAX records as they were, with the paths replaced (and added
    // when a path no longer fits its header field).
    let mut records = pending.pax.unwrap_or_default();
    records.retain(|(k, _)| k != b"path" && !(hard && k == b"linkpath"));
    if new_name.len() > 100 {
        records.push((b"path".to_vec(), new_name.clone()));
    }
    if hard && new_link.len() > 100 {
        records.push((b"linkpath".to_vec(), new_link.clone()));
    }
    if !records.is_empty() {
        let data = pax_encode(&records);
        w.write_all(&extension_header(b'x', data.len() as u64, false))?;
        write_padded(w, &data)?;
    }
    // A long symlink target came as a GNU record: it passes on unchanged.
    if let (false, Some(l)) = (hard, &pending.long_link) {
        let mut data = l.clone();
        data.push(0);
        w.write_all(&extension_header(b'K', data.len() as u64, true))?;
        write_padded(w, &data)?;
    }

    block[..100].fill(0);
    let shown = &new_name[..new_name.len().min(100)];
    block[..shown.len()].copy_from_slice(shown);
    if posix {
        block[345..500].fill(0);
    }
    if hard {
        block[157..257].fill(0);
        let shown = &new_link[..new_link.len().min(100)];
        block[157..157 + shown.len()].copy_from_slice(shown);
    }
    checksum(block);
    w.write_all(&block[..])?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o640);
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_mtime(981_173_106);
        h
    }

    /// A volume tar as Docker's archive API writes them, with the hard cases.
    fn volume() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        b.append_data(&mut header(tar::EntryType::Directory, 0), "./", &[][..])
            .unwrap();
        b.append_data(
            &mut header(tar::EntryType::Regular, 5),
            "./a.txt",
            &b"hello"[..],
        )
        .unwrap();
        for (name, target) in [
            ("./climbs", "../../etc/passwd"),
            ("./doubled", "a//b/./c"),
            ("./absolute", "/nowhere"),
        ] {
            let mut h = header(tar::EntryType::Symlink, 0);
            h.set_link_name_literal(target).unwrap();
            b.append_data(&mut h, name, &[][..]).unwrap();
        }
        let mut h = header(tar::EntryType::Link, 0);
        h.set_link_name_literal("./a.txt").unwrap();
        b.append_data(&mut h, "./hard", &[][..]).unwrap();
        let long = format!("./{}/f", "d".repeat(120));
        b.append_data(&mut header(tar::EntryType::Regular, 3), &long, &b"xyz"[..])
            .unwrap();
        b.append_pax_extensions([("SCHILY.xattr.user.note", &b"kept"[..])])
            .unwrap();
        b.append_data(&mut header(tar::EntryType::Regular, 2), "./x", &b"ok"[..])
            .unwrap();
        let long_target = format!("../{}", "t".repeat(150));
        let mut h = header(tar::EntryType::Symlink, 0);
        b.append_link(&mut h, "./longlink", &long_target).unwrap();
        b.into_inner().unwrap()
    }

    #[test]
    fn paths_move_under_the_prefix_and_nothing_else_changes() {
        let src = volume();
        let mut out = Vec::new();
        rebase(&src[..], &mut out, "vol").unwrap();
        let mut got = Vec::new();
        let mut a = tar::Archive::new(&out[..]);
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let link = e
                .link_name_bytes()
                .map(|l| String::from_utf8(l.into_owned()).unwrap());
            let xattr = e
                .pax_extensions()
                .unwrap()
                .and_then(|mut x| {
                    x.find(|r| r.as_ref().unwrap().key() == Ok("SCHILY.xattr.user.note"))
                })
                .map(|r| r.unwrap().value_bytes().to_vec());
            let (mode, uid, mtime) = (
                e.header().mode().unwrap(),
                e.header().uid().unwrap(),
                e.header().mtime().unwrap(),
            );
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            assert_eq!((mode, uid, mtime), (0o640, 1234, 981_173_106), "{path}");
            got.push((path, link, data, xattr));
        }
        let names: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        let long = format!("vol/{}/f", "d".repeat(120));
        assert_eq!(
            names,
            [
                "vol/",
                "vol/a.txt",
                "vol/climbs",
                "vol/doubled",
                "vol/absolute",
                "vol/hard",
                long.as_str(),
                "vol/x",
                "vol/longlink"
            ]
        );
        let link = |n: &str| got.iter().find(|g| g.0 == n).unwrap().1.clone();
        assert_eq!(link("vol/climbs").as_deref(), Some("../../etc/passwd"));
        assert_eq!(
            link("vol/doubled").as_deref(),
            Some("a//b/./c"),
            "byte for byte"
        );
        assert_eq!(link("vol/absolute").as_deref(), Some("/nowhere"));
        assert_eq!(
            link("vol/hard").as_deref(),
            Some("vol/a.txt"),
            "hard links name entries"
        );
        assert_eq!(
            link("vol/longlink"),
            Some(format!("../{}", "t".repeat(150)))
        );
        assert_eq!(got[1].2, b"hello");
        assert_eq!(got[6].2, b"xyz");
        assert_eq!(
            got[7].3.as_deref(),
            Some(&b"kept"[..]),
            "extended records kept"
        );
    }

    #[test]
    fn what_no_restore_could_write_is_refused() {
        for bad in ["../up", "/abs", "a/../../b"] {
            let mut b = tar::Builder::new(Vec::new());
            let mut h = header(tar::EntryType::Regular, 0);
            h.as_old_mut().name[..bad.len()].copy_from_slice(bad.as_bytes());
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
            let src = b.into_inner().unwrap();
            let e = rebase(&src[..], &mut Vec::new(), "vol").unwrap_err();
            assert!(e.to_string().contains("cannot be restored"), "{bad}: {e}");
        }
        let src = volume();
        let cut = &src[..src.len() - 1024 - 512];
        assert!(rebase(cut, &mut Vec::new(), "vol").is_err(), "cut off");
    }
}
