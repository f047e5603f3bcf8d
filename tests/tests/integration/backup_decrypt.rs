//! `berth backup decrypt`, the real binary: an encrypted backup (sealed by the host's
//! own writer) turns back into exactly the bytes that were sealed, with a passphrase
//! from the environment or a file, or a key file; a wrong passphrase or a flipped byte
//! fails with a clear message and leaves no output behind.

use std::io::Write;

use berth_engine::backup::crypt::{EncryptWriter, Secret};
use berth_tests::server::berth_command;

fn sealed(data: &[u8], secret: &Secret) -> Vec<u8> {
    let mut w = EncryptWriter::new(Vec::new(), secret).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

fn decrypt(args: &[&str], env: Option<&str>) -> (bool, String) {
    let mut cmd = berth_command();
    cmd.arg("backup").arg("decrypt").args(args);
    if let Some(p) = env {
        cmd.env("BERTH_BACKUP_PASSPHRASE", p);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decrypts_with_passphrase_or_key_file_and_refuses_wrong_or_damaged_input() {
    let tmp = tempfile::tempdir().unwrap();
    let p = |n: &str| tmp.path().join(n).to_str().unwrap().to_owned();
    // Not a multiple of the chunk size, several chunks.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(
        p("a.tar.gz.enc"),
        sealed(&data, &Secret::Passphrase("hunter2 hunter2".into())),
    )
    .unwrap();

    let (ok, err) = decrypt(
        &[&p("a.tar.gz.enc"), "-o", &p("a.tar.gz")],
        Some("hunter2 hunter2"),
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(p("a.tar.gz")).unwrap(), data);

    std::fs::write(p("pass"), "hunter2 hunter2\n").unwrap();
    let (ok, err) = decrypt(
        &[
            &p("a.tar.gz.enc"),
            "-o",
            &p("b.tar.gz"),
            "--passphrase-file",
            &p("pass"),
        ],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(p("b.tar.gz")).unwrap(), data);

    let (ok, err) = decrypt(&[&p("a.tar.gz.enc"), "-o", &p("c.tar.gz")], Some("wrong"));
    assert!(!ok && err.contains("wrong passphrase"), "{err}");
    assert!(!tmp.path().join("c.tar.gz").exists());

    let mut bad = std::fs::read(p("a.tar.gz.enc")).unwrap();
    let n = bad.len();
    bad[n - 100] ^= 0x40;
    std::fs::write(p("bad.enc"), bad).unwrap();
    let (ok, err) = decrypt(
        &[&p("bad.enc"), "-o", &p("d.tar.gz")],
        Some("hunter2 hunter2"),
    );
    assert!(!ok && err.contains("damaged"), "{err}");
    assert!(
        !tmp.path().join("d.tar.gz").exists() && !tmp.path().join("d.partial").exists(),
        "nothing is left of a damaged backup"
    );

    let key = "5a".repeat(32);
    std::fs::write(p("key"), &key).unwrap();
    std::fs::write(p("k.enc"), sealed(&data, &Secret::Key([0x5a; 32]))).unwrap();
    let (ok, err) = decrypt(
        &[&p("k.enc"), "-o", &p("k.tar.gz"), "--key-file", &p("key")],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(p("k.tar.gz")).unwrap(), data);
    let (ok, err) = decrypt(
        &[&p("k.enc"), "-o", &p("k2.tar.gz")],
        Some("hunter2 hunter2"),
    );
    assert!(!ok && err.contains("key file"), "{err}");
}
