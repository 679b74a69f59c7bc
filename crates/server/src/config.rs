//! Configuration: a TOML file, overridden by `ARCA_*` environment variables (nested keys joined
//! by `__`, e.g. `ARCA_KEYSTORE__PKCS11__PIN`), overridden by command-line flags. Read into an
//! all-optional raw form, then validated into [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_keystore::{DEFAULT_KEY_LABEL, Pkcs11Config};
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;

use crate::ServerError;

/// The validated configuration of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where the database (and, in dev mode, keys and certificates) live.
    pub data_dir: PathBuf,
    /// Region named in CRNs.
    pub region: String,
    /// Server certificate chain (PEM).
    pub tls_cert: PathBuf,
    /// Server private key (PEM).
    pub tls_key: PathBuf,
    /// The root of trust.
    pub keystore: KeystoreConfig,
    /// Where the data lives.
    pub store: StoreConfig,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Period of the key lifecycle jobs (expiry, rotation by policy, scheduled purges).
    pub jobs_interval: Duration,
    /// Lifecycle events may go to `http://` callback URLs on any host (`[events] allow_http`);
    /// by default only to loopback hosts.
    pub events_allow_http: bool,
    /// How long a deleted instance can be restored (`[instances] reclamation_hours`).
    pub reclamation_period: Duration,
    /// The audit trail's spool (`[audit]`).
    pub audit: arca_services::audit::AuditSettings,
    /// Scheduled backups (`[backup]`), off unless `dir` is set.
    pub backup: Option<arca_services::backup::BackupSchedule>,
}

/// Which root of trust protects the master key.
#[derive(Debug, Clone)]
pub enum KeystoreConfig {
    /// Shamir shares; operators unseal after every start.
    Shamir,
    /// A key in a PKCS#11 token; unseals itself at start.
    Pkcs11(Pkcs11Config),
}

/// Which database holds the data.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// SQLite in `data_dir/arca.db`: one node (the default).
    Sqlite,
    /// PostgreSQL: one database that every node of a cluster shares.
    Postgres {
        /// The connection URL, e.g. `postgres://arca@db:5432/arca?sslmode=verify-full&
        /// sslrootcert=/etc/arca/db-ca.pem` (TLS modes: [`arca_store::PostgresStore`]). It may
        /// carry a password: set `ARCA_STORE__URL` to keep it out of the file.
        url: SecretString,
        /// Connections in this node's pool.
        max_connections: u32,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    tls: Option<RawTls>,
    keystore: Option<RawKeystore>,
    store: Option<RawStore>,
    limits: Option<RawLimits>,
    jobs: Option<RawJobs>,
    instances: Option<RawInstances>,
    events: Option<RawEvents>,
    backup: Option<RawBackup>,
    audit: Option<RawAudit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    spool_capacity: Option<usize>,
    batch_max: Option<usize>,
    commit_wait_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackup {
    dir: Option<PathBuf>,
    interval_hours: Option<u64>,
    keep: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    allow_http: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstances {
    reclamation_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJobs {
    interval_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeystore {
    kind: String,
    pkcs11: Option<RawPkcs11>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    kind: String,
    url: Option<SecretString>,
    max_connections: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPkcs11 {
    module: PathBuf,
    token_label: String,
    pin: Option<SecretString>,
    key_label: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_body_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
}

/// Flags that override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data`.
    pub data_dir: Option<PathBuf>,
}

/// Top-level settings. Only `ARCA_<SETTING>[__...]` variables are read as configuration: others
/// share the prefix (the client's `ARCA_URL`, `ARCA_API_KEY`, test switches) and are no settings.
const SETTINGS: [&str; 12] = [
    "listen",
    "data_dir",
    "region",
    "tls",
    "keystore",
    "store",
    "limits",
    "jobs",
    "instances",
    "events",
    "backup",
    "audit",
];

/// Default time between scheduled backups, in hours.
pub const DEFAULT_BACKUP_INTERVAL_HOURS: u64 = 24;

/// Default number of scheduled backups kept.
pub const DEFAULT_BACKUP_KEEP: usize = 7;

/// Default reclamation period of deleted instances (7 days), in hours.
pub const DEFAULT_RECLAMATION_HOURS: u64 = 7 * 24;

/// Default period of the key lifecycle jobs, in seconds.
pub const DEFAULT_JOBS_INTERVAL_SECS: u64 = 60;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8200";

impl Config {
    /// Reads the file (if any) and the environment, applies `overrides`, validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ServerError> {
        Self::validate(Self::extract(file)?, overrides)
    }

    fn extract(file: Option<&Path>) -> Result<RawConfig, ServerError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ServerError::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        figment = figment.merge(Env::prefixed("ARCA_").split("__").filter(|k| {
            let top = k.as_str().split('.').next().unwrap_or_default();
            SETTINGS.iter().any(|s| top.eq_ignore_ascii_case(s))
        }));
        figment
            .extract()
            .map_err(|e| ServerError::Config(e.to_string()))
    }

    /// Reads only what offline tools need (`arca operator restore`, `backup verify`): the data
    /// directory, the store and the root of trust, from the same file and environment as the
    /// server. TLS and the other settings may be absent.
    pub fn load_storage(
        file: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<(PathBuf, StoreConfig, KeystoreConfig), ServerError> {
        let raw = Self::extract(file)?;
        let data_dir = overrides
            .data_dir
            .clone()
            .or(raw.data_dir)
            .ok_or_else(|| ServerError::Config("data_dir is required (or --data)".into()))?;
        Ok((
            data_dir,
            store_config(raw.store)?,
            keystore_config(raw.keystore)?,
        ))
    }

    fn validate(raw: RawConfig, overrides: &Overrides) -> Result<Self, ServerError> {
        let listen_text = overrides
            .listen
            .clone()
            .or(raw.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            ServerError::Config(format!("listen: {listen_text:?} is not an IP:port address"))
        })?;
        let data_dir = overrides
            .data_dir
            .clone()
            .or(raw.data_dir)
            .ok_or_else(|| ServerError::Config("data_dir is required (or --data)".into()))?;
        let tls = raw.tls.ok_or_else(|| {
            ServerError::Config(
                "[tls] cert and key are required: Arca serves HTTPS only (use --dev to try it)"
                    .into(),
            )
        })?;
        let keystore = keystore_config(raw.keystore)?;
        let store = store_config(raw.store)?;
        let limits = raw.limits.unwrap_or_default();
        let max_body_bytes = limits.max_body_bytes.unwrap_or(1024 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            return Err(ServerError::Config(
                "limits.max_body_bytes must be between 1 KiB and 64 MiB".into(),
            ));
        }
        let timeout = limits.request_timeout_secs.unwrap_or(30);
        if !(1..=3600).contains(&timeout) {
            return Err(ServerError::Config(
                "limits.request_timeout_secs must be between 1 and 3600".into(),
            ));
        }
        let jobs_interval = raw
            .jobs
            .unwrap_or_default()
            .interval_secs
            .unwrap_or(DEFAULT_JOBS_INTERVAL_SECS);
        if !(1..=86_400).contains(&jobs_interval) {
            return Err(ServerError::Config(
                "jobs.interval_secs must be between 1 and 86400".into(),
            ));
        }
        let reclamation_hours = raw
            .instances
            .unwrap_or_default()
            .reclamation_hours
            .unwrap_or(DEFAULT_RECLAMATION_HOURS);
        if !(1..=24 * 365).contains(&reclamation_hours) {
            return Err(ServerError::Config(
                "instances.reclamation_hours must be between 1 and 8760".into(),
            ));
        }
        let backup = match raw.backup.unwrap_or_default() {
            RawBackup {
                dir: None,
                interval_hours: None,
                keep: None,
            } => None,
            RawBackup { dir: None, .. } => {
                return Err(ServerError::Config(
                    "[backup] needs dir: where scheduled backups are written".into(),
                ));
            }
            RawBackup {
                dir: Some(dir),
                interval_hours,
                keep,
            } => {
                let hours = interval_hours.unwrap_or(DEFAULT_BACKUP_INTERVAL_HOURS);
                if !(1..=24 * 365).contains(&hours) {
                    return Err(ServerError::Config(
                        "backup.interval_hours must be between 1 and 8760".into(),
                    ));
                }
                let keep = keep.unwrap_or(DEFAULT_BACKUP_KEEP);
                if !(1..=10_000).contains(&keep) {
                    return Err(ServerError::Config(
                        "backup.keep must be between 1 and 10000".into(),
                    ));
                }
                Some(arca_services::backup::BackupSchedule {
                    // A relative directory is under the data directory.
                    dir: data_dir.join(dir),
                    interval: Duration::from_secs(hours * 3600),
                    keep,
                })
            }
        };
        let raw_audit = raw.audit.unwrap_or_default();
        let defaults = arca_services::audit::AuditSettings::default();
        let audit = arca_services::audit::AuditSettings {
            spool_capacity: raw_audit.spool_capacity.unwrap_or(defaults.spool_capacity),
            batch_max: raw_audit.batch_max.unwrap_or(defaults.batch_max),
            commit_wait: raw_audit
                .commit_wait_secs
                .map_or(defaults.commit_wait, Duration::from_secs),
        };
        if !(100..=10_000_000).contains(&audit.spool_capacity) {
            return Err(ServerError::Config(
                "audit.spool_capacity must be between 100 and 10000000".into(),
            ));
        }
        if !(1..=10_000).contains(&audit.batch_max) {
            return Err(ServerError::Config(
                "audit.batch_max must be between 1 and 10000".into(),
            ));
        }
        if !(1..=600).contains(&audit.commit_wait.as_secs()) {
            return Err(ServerError::Config(
                "audit.commit_wait_secs must be between 1 and 600".into(),
            ));
        }
        Ok(Self {
            audit,
            backup,
            reclamation_period: Duration::from_secs(reclamation_hours * 3600),
            listen,
            data_dir,
            region: raw.region.unwrap_or_else(|| "local".into()),
            tls_cert: tls.cert,
            tls_key: tls.key,
            keystore,
            store,
            max_body_bytes,
            request_timeout: Duration::from_secs(timeout),
            jobs_interval: Duration::from_secs(jobs_interval),
            events_allow_http: raw.events.unwrap_or_default().allow_http.unwrap_or(false),
        })
    }
}

fn keystore_config(raw: Option<RawKeystore>) -> Result<KeystoreConfig, ServerError> {
    Ok(match raw {
        None => KeystoreConfig::Shamir,
        Some(k) => match k.kind.as_str() {
            "shamir" => KeystoreConfig::Shamir,
            "pkcs11" => {
                let p = k.pkcs11.ok_or_else(|| {
                    ServerError::Config("keystore.kind = \"pkcs11\" needs [keystore.pkcs11]".into())
                })?;
                let pin = p.pin.ok_or_else(|| {
                    ServerError::Config(
                        "keystore.pkcs11.pin is required (set ARCA_KEYSTORE__PKCS11__PIN to keep it out of the file)"
                            .into(),
                    )
                })?;
                KeystoreConfig::Pkcs11(Pkcs11Config {
                    module: p.module,
                    token_label: p.token_label,
                    pin,
                    key_label: p.key_label.unwrap_or_else(|| DEFAULT_KEY_LABEL.to_owned()),
                })
            }
            other => {
                return Err(ServerError::Config(format!(
                    "keystore.kind {other:?}: expected \"shamir\" or \"pkcs11\""
                )));
            }
        },
    })
}

fn store_config(raw: Option<RawStore>) -> Result<StoreConfig, ServerError> {
    Ok(match raw {
        None => StoreConfig::Sqlite,
        Some(s) => match s.kind.as_str() {
            "sqlite" if s.url.is_none() && s.max_connections.is_none() => StoreConfig::Sqlite,
            "sqlite" => {
                return Err(ServerError::Config(
                    "store.url and store.max_connections are for kind = \"postgres\"".into(),
                ));
            }
            "postgres" => {
                let url = s.url.ok_or_else(|| {
                    ServerError::Config(
                        "store.kind = \"postgres\" needs store.url (or ARCA_STORE__URL)".into(),
                    )
                })?;
                let max_connections = s.max_connections.unwrap_or(10);
                if !(1..=1000).contains(&max_connections) {
                    return Err(ServerError::Config(
                        "store.max_connections must be between 1 and 1000".into(),
                    ));
                }
                StoreConfig::Postgres {
                    url,
                    max_connections,
                }
            }
            other => {
                return Err(ServerError::Config(format!(
                    "store.kind {other:?}: expected \"sqlite\" or \"postgres\""
                )));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(toml: &str) -> Result<Config, ServerError> {
        let raw: RawConfig = Figment::new()
            .merge(Toml::string(toml))
            .extract()
            .map_err(|e| ServerError::Config(e.to_string()))?;
        Config::validate(raw, &Overrides::default())
    }

    #[test]
    fn minimal_file() {
        let c = raw("data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n").unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(matches!(c.keystore, KeystoreConfig::Shamir));
        assert_eq!(c.jobs_interval, Duration::from_secs(60));
        let c =
            raw("data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n[jobs]\ninterval_secs = 5\n")
                .unwrap();
        assert_eq!(c.jobs_interval, Duration::from_secs(5));
        assert!(
            raw("data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n[jobs]\ninterval_secs = 0\n")
                .is_err()
        );
    }

    #[test]
    fn pkcs11_needs_pin_and_section() {
        let base = "data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n";
        assert!(raw(&format!("{base}[keystore]\nkind = \"pkcs11\"\n")).is_err());
        let err = raw(&format!(
            "{base}[keystore]\nkind = \"pkcs11\"\n[keystore.pkcs11]\nmodule = \"m\"\ntoken_label = \"t\"\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("pin"), "{err}");
        let ok = raw(&format!(
            "{base}[keystore]\nkind = \"pkcs11\"\n[keystore.pkcs11]\nmodule = \"m\"\ntoken_label = \"t\"\npin = \"1234\"\n"
        ))
        .unwrap();
        let KeystoreConfig::Pkcs11(p) = ok.keystore else {
            panic!("pkcs11 expected")
        };
        assert_eq!(p.key_label, DEFAULT_KEY_LABEL);
        assert!(!format!("{p:?}").contains("1234"));
    }

    #[test]
    fn store_kinds() {
        use secrecy::ExposeSecret;
        let base = "data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n";
        assert!(matches!(raw(base).unwrap().store, StoreConfig::Sqlite));
        let sqlite = raw(&format!("{base}[store]\nkind = \"sqlite\"\n")).unwrap();
        assert!(matches!(sqlite.store, StoreConfig::Sqlite));
        assert!(
            raw(&format!(
                "{base}[store]\nkind = \"sqlite\"\nurl = \"postgres://x\"\n"
            ))
            .is_err()
        );
        let err = raw(&format!("{base}[store]\nkind = \"postgres\"\n")).unwrap_err();
        assert!(err.to_string().contains("ARCA_STORE__URL"), "{err}");
        let pg = raw(&format!(
            "{base}[store]\nkind = \"postgres\"\nurl = \"postgres://arca:pw@db/arca?sslmode=verify-full\"\n"
        ))
        .unwrap();
        let StoreConfig::Postgres {
            url,
            max_connections,
        } = &pg.store
        else {
            panic!("postgres expected")
        };
        assert_eq!(*max_connections, 10);
        assert!(url.expose_secret().starts_with("postgres://arca:pw@db/"));
        assert!(
            !format!("{pg:?}").contains("pw@"),
            "the URL stays out of Debug"
        );
        assert!(
            raw(&format!(
                "{base}[store]\nkind = \"postgres\"\nurl = \"u\"\nmax_connections = 0\n"
            ))
            .is_err()
        );
        assert!(raw(&format!("{base}[store]\nkind = \"mysql\"\n")).is_err());
    }

    #[test]
    fn backup_and_audit_sections() {
        let base = "data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n";
        let c = raw(base).unwrap();
        assert!(c.backup.is_none());
        assert_eq!(c.audit.spool_capacity, 10_000);
        let c = raw(&format!(
            "{base}[backup]\ndir = \"b\"\nkeep = 3\n[audit]\nspool_capacity = 500\nbatch_max = 64\ncommit_wait_secs = 2\n"
        ))
        .unwrap();
        let b = c.backup.unwrap();
        assert_eq!(b.dir, Path::new("/d/b"), "relative to data_dir");
        assert_eq!((b.keep, b.interval), (3, Duration::from_secs(24 * 3600)));
        assert_eq!(
            (
                c.audit.spool_capacity,
                c.audit.batch_max,
                c.audit.commit_wait
            ),
            (500, 64, Duration::from_secs(2))
        );
        let abs = raw(&format!(
            "{base}[backup]\ndir = \"/bk\"\ninterval_hours = 6\n"
        ))
        .unwrap();
        let b = abs.backup.unwrap();
        assert_eq!(
            (b.dir.to_str(), b.interval),
            (Some("/bk"), Duration::from_secs(6 * 3600))
        );
        for bad in [
            "[backup]\nkeep = 3\n",
            "[backup]\ndir = \"b\"\nkeep = 0\n",
            "[backup]\ndir = \"b\"\ninterval_hours = 0\n",
            "[audit]\nspool_capacity = 1\n",
            "[audit]\nbatch_max = 0\n",
            "[audit]\ncommit_wait_secs = 0\n",
            "[audit]\nbogus = 1\n",
        ] {
            assert!(raw(&format!("{base}{bad}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_clear() {
        assert!(
            raw("data_dir = \"/d\"\n")
                .unwrap_err()
                .to_string()
                .contains("tls")
        );
        assert!(
            raw("listen = \"nope\"\ndata_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n")
                .unwrap_err()
                .to_string()
                .contains("listen")
        );
        assert!(raw("bogus = 1\n").is_err());
        assert!(
            raw("data_dir = \"/d\"\n[tls]\ncert = \"c\"\nkey = \"k\"\n[keystore]\nkind = \"x\"\n")
                .is_err()
        );
    }
}
