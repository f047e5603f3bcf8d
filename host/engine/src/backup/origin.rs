//! Which installation wrote a backup. A backup's manifest is the configuration a
//! restore recreates — with the Docker socket, that is root on the host — so a restore
//! must know whether this installation wrote it or somebody handed it in. Every
//! manifest Berth writes carries a [`ManifestSeal`]: HMAC-SHA256 over the manifest's
//! JSON without the seal, keyed by a key derived from the installation key
//! (`secret.key`, never served over the API). The manifest pins every other part of
//! the archive by its checksum, so a valid seal vouches for the whole backup. An
//! encrypted backup's passphrase proves nothing here: anyone can encrypt.

use berth_protocol::api::backups::{BackupOrigin, Manifest, ManifestSeal};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use berth_core::secrets::SecretKey;

/// What the manifest key is derived for; a new scheme gets a new name.
const PURPOSE: &str = "berth backup manifest v1";

fn mac_key(key: &SecretKey) -> [u8; 32] {
    key.derive(PURPOSE)
}

/// A short public name of this installation's manifest key.
pub fn key_id(key: &SecretKey) -> String {
    hex::encode(&Sha256::digest(mac_key(key))[..8])
}

/// The bytes the MAC covers: the manifest as JSON, without its seal. Serialising the
/// parsed manifest again gives the same bytes (maps are ordered, numbers round-trip),
/// so a reader checks what it parsed, not the file's formatting.
fn covered(m: &Manifest) -> Vec<u8> {
    let mut bare = m.clone();
    bare.seal = None;
    serde_json::to_vec(&bare).expect("manifests serialise")
}

fn mac(key: &SecretKey, m: &Manifest) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&mac_key(key)).expect("HMAC takes any key");
    mac.update(&covered(m));
    mac
}

/// Seals a manifest this installation is about to write.
pub fn seal(key: &SecretKey, m: &mut Manifest) {
    m.seal = None;
    let tag = mac(key, m).finalize().into_bytes();
    m.seal = Some(ManifestSeal {
        key_id: key_id(key),
        hmac_sha256: hex::encode(tag),
    });
}

/// Whether this installation wrote the manifest (in constant time).
pub fn origin(key: &SecretKey, m: &Manifest) -> BackupOrigin {
    let Some(seal) = &m.seal else {
        return BackupOrigin::Foreign;
    };
    let Ok(tag) = hex::decode(&seal.hmac_sha256) else {
        return BackupOrigin::Foreign;
    };
    match mac(key, m).verify_slice(&tag) {
        Ok(()) => BackupOrigin::ThisInstallation,
        Err(_) => BackupOrigin::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_protocol::api::backups::{BackupTarget, Consistency, Trigger};

    fn manifest() -> Manifest {
        Manifest {
            format: 1,
            berth_version: "t".into(),
            id: "b-1".into(),
            host: "h".into(),
            created_ms: 1,
            trigger: Trigger::Manual,
            consistency: Consistency::Stop,
            target: BackupTarget::Container { name: "web".into() },
            container: Some(serde_json::json!({
                "Id": "ééé", "HostConfig": {"Binds": ["data:/data"], "Memory": 1.5e9}
            })),
            network: None,
            was_running: true,
            image_id: None,
            volumes: vec![],
            image: None,
            binds_not_included: vec![],
            members: vec![],
            networks: vec![],
            seal: None,
        }
    }

    #[test]
    fn a_sealed_manifest_is_ours_through_a_json_round_trip_and_no_one_elses() {
        let key = SecretKey::ephemeral();
        let mut m = manifest();
        assert_eq!(origin(&key, &m), BackupOrigin::Foreign, "unsealed");
        seal(&key, &mut m);
        // As stored (pretty) and read back.
        let read: Manifest =
            serde_json::from_slice(&serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        assert_eq!(origin(&key, &read), BackupOrigin::ThisInstallation);
        assert_eq!(
            origin(&SecretKey::ephemeral(), &read),
            BackupOrigin::Foreign,
            "another installation's key"
        );
        // Any change to what the seal covers voids it: the attack is a manifest
        // whose configuration was edited to bind the host's root.
        let mut forged = read.clone();
        forged.container.as_mut().unwrap()["HostConfig"]["Binds"] = serde_json::json!(["/:/host"]);
        assert_eq!(origin(&key, &forged), BackupOrigin::Foreign);
        let mut forged = read;
        forged.seal.as_mut().unwrap().hmac_sha256 = "zz".into();
        assert_eq!(origin(&key, &forged), BackupOrigin::Foreign);
    }
}
