//! Test support: SoftHSM2 tokens created on the fly, for the PKCS#11 suites of this crate and of
//! the server. A suite that needs one calls [`test_token`]; `None` means SoftHSM2 is not installed,
//! which the suite must treat as a failure when `ARCA_REQUIRE_PKCS11=1` (CI sets it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use secrecy::SecretString;

use crate::{KeystoreError, Pkcs11Config, init_token};

/// Debian's SoftHSM2 module.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Whether the environment demands that PKCS#11 suites run (`ARCA_REQUIRE_PKCS11=1`).
pub fn required() -> bool {
    std::env::var("ARCA_REQUIRE_PKCS11").is_ok_and(|v| v == "1")
}

/// The module to test with: `ARCA_PKCS11_MODULE`, else Debian's path; `None` if absent.
pub fn module() -> Option<PathBuf> {
    let path = std::env::var_os("ARCA_PKCS11_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODULE));
    path.exists().then_some(path)
}

/// Makes sure the file named by `SOFTHSM2_CONF` exists and points at a token directory beside it.
/// (The workspace's `.cargo/config.toml` sets `SOFTHSM2_CONF` for cargo commands.)
fn ensure_conf() -> Result<(), KeystoreError> {
    let conf = std::env::var_os("SOFTHSM2_CONF").ok_or_else(|| {
        KeystoreError::Hsm("SOFTHSM2_CONF is not set (run the tests through cargo)".into())
    })?;
    let conf = PathBuf::from(conf);
    if conf.exists() {
        return Ok(());
    }
    let dir = conf.parent().unwrap_or(Path::new("."));
    let tokens = dir.join("tokens");
    let io = |e: std::io::Error| KeystoreError::Hsm(format!("cannot prepare SoftHSM2 config: {e}"));
    std::fs::create_dir_all(&tokens).map_err(io)?;
    let body = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
        tokens.display()
    );
    // Write then rename: test binaries may race to create it.
    let tmp = dir.join(format!("softhsm2.conf.{}", std::process::id()));
    std::fs::write(&tmp, body).map_err(io)?;
    std::fs::rename(&tmp, &conf).map_err(io)?;
    Ok(())
}

/// A token for this test process (created on first use, with PINs unique to the process) and a
/// configuration naming a sealing key label of its own (`key_label` plus a counter), so tests
/// sharing the token never share a key. `None` when no PKCS#11 module is installed.
///
/// One token per process, not per test: SoftHSM2 keeps every token in the token directory, and
/// slot bookkeeping degrades as they pile up.
pub fn test_token(key_label: &str) -> Result<Option<Pkcs11Config>, KeystoreError> {
    static TOKEN: std::sync::Mutex<Option<(String, SecretString)>> = std::sync::Mutex::new(None);
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let Some(module) = module() else {
        return Ok(None);
    };
    let mut token = TOKEN.lock().unwrap_or_else(|p| p.into_inner());
    let (label, pin) = match token.as_ref() {
        Some(t) => t.clone(),
        None => {
            ensure_conf()?;
            // Token labels are at most 32 bytes.
            let label = format!("arca-{}", std::process::id());
            let so_pin = SecretString::from(format!("so-{}", std::process::id()));
            let pin = SecretString::from(format!("user-{}", std::process::id()));
            init_token(&module, &label, &so_pin, &pin)?;
            *token = Some((label.clone(), pin.clone()));
            (label, pin)
        }
    };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(Some(Pkcs11Config {
        module,
        token_label: label,
        pin,
        key_label: format!("{key_label}-{n}"),
    }))
}
