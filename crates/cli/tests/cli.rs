//! End-to-end tests of the `arca` binary: dev mode, the operator workflow, TLS versions,
//! graceful shutdown and the PKCS#11 root of trust, each against a real server process on
//! 127.0.0.1:0 driven through the real CLI.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arca_services::Clock as _;
use secrecy::ExposeSecret as _;
use serde_json::Value;

/// A server process, killed if the test ends early.
struct Server {
    child: Child,
    url: String,
    /// Kept so the reader thread keeps draining the server's stdout.
    _lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `arca server ARGS` and waits for the line announcing the URL.
    #[allow(clippy::zombie_processes)] // the child is killed and waited for in Drop
    fn start(args: &[&str], envs: &[(&str, &str)]) -> (Self, Duration) {
        let started = Instant::now();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arca"));
        cmd.arg("server")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn arca server");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("server did not announce its URL; args {args:?}"));
            if let Some(rest) = line.split("listening on ").nth(1) {
                let url = rest.split_whitespace().next().unwrap().to_owned();
                return (
                    Self {
                        child,
                        url,
                        _lines: rx,
                    },
                    started.elapsed(),
                );
            }
        }
    }

    fn addr(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    /// SIGTERM, then waits for a clean exit.
    fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "server exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::park_timeout(Duration::from_millis(50));
        }
    }
}

/// The CLI pointed at one server: `ARCA_URL`, `ARCA_CACERT` and optionally `ARCA_API_KEY`.
struct Cli<'a> {
    server: &'a Server,
    ca: &'a Path,
    api_key: Option<&'a str>,
}

impl<'a> Cli<'a> {
    fn new(server: &'a Server, ca: &'a Path) -> Self {
        Self {
            server,
            ca,
            api_key: None,
        }
    }

    fn with_key(&self, api_key: &'a str) -> Self {
        Self {
            api_key: Some(api_key),
            ..*self
        }
    }

    /// Runs `arca ARGS`, feeding `stdin` when given.
    fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_arca"));
        cmd.args(args)
            .env("ARCA_URL", &self.server.url)
            .env("ARCA_CACERT", self.ca)
            .env_remove("ARCA_API_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(key) = self.api_key {
            cmd.env("ARCA_API_KEY", key);
        }
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }

    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs `arca ARGS -o json`, which must succeed, and parses its output.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        json(&self.run(&all))
    }

    /// `arca operator init` with `shares`/`threshold`: the shares and the admin API key.
    fn init(&self, shares: u8, threshold: u8) -> (Vec<String>, String) {
        let (n, t) = (shares.to_string(), threshold.to_string());
        let init = self.json(&["operator", "init", "--shares", &n, "--threshold", &t]);
        let shares = init["shares"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        (shares, init["api_key"].as_str().unwrap().to_owned())
    }

    /// `arca operator unseal` with one share on stdin.
    fn unseal(&self, share: &str) -> Output {
        self.run_with_stdin(
            &["operator", "unseal", "-o", "json"],
            Some(&format!("{share}\n")),
        )
    }
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_dev_json(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("dev.json")).unwrap()).unwrap()
}

#[test]
fn dev_mode_starts_writes_dev_json_and_keeps_state_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let dev_args = ["--dev", "--listen", "127.0.0.1:0", "--data", data_s];
    let (server, took) = Server::start(&dev_args, &[]);
    println!("dev server announced its URL after {} ms", took.as_millis());
    let info = read_dev_json(&data);
    assert_eq!(info["url"], Value::String(server.url.clone()));
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    assert!(ca.is_absolute() && ca.exists());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let account = info["account_id"].as_str().unwrap().to_owned();
    let instance = info["kms_instance_id"].as_str().unwrap().to_owned();
    assert!(api_key.len() >= 40);
    assert_eq!(account.len(), 32);
    assert_eq!(instance.len(), 36);

    let cli = Cli::new(&server, &ca);
    let health = cli.json(&["health"]);
    assert_eq!(health["status"], "ready");
    assert_eq!(health["sealed"], false);
    let admin = cli.with_key(&api_key);
    // Dev mode's two instances may be created in the same millisecond, so their order is the
    // order of their random ids: look the key-service instance up rather than take the first.
    let listed = admin.json(&["instance", "list"]);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == Value::String(instance.clone()) && i["service"] == "kms"),
        "{listed}"
    );
    let created = admin.json(&[
        "instance",
        "create",
        "--name",
        "second",
        "--service",
        "secrets-manager",
    ]);
    let second = created["id"].as_str().unwrap().to_owned();
    server.terminate();

    let (again, _) = Server::start(&dev_args, &[]);
    let info2 = read_dev_json(&data);
    assert_eq!(info2["api_key"], Value::String(api_key.clone()));
    assert_eq!(info2["account_id"], Value::String(account));
    assert_eq!(info2["kms_instance_id"], Value::String(instance));
    assert_eq!(info2["url"], Value::String(again.url.clone()));
    let got = Cli::new(&again, &ca)
        .with_key(&api_key)
        .json(&["instance", "get", &second]);
    assert_eq!(got["name"], "second");
    assert_eq!(got["service"], "secrets-manager");
    again.terminate();
}

fn s_client(addr: &str, ca: &Path, version: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", addr, version, "-CAfile"])
        .arg(ca)
        // Let OpenSSL offer old versions, so that a refusal is the server's doing.
        .args(["-cipher", "DEFAULT@SECLEVEL=0"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl is needed for this test (apt-get install openssl)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn only_tls_1_2_and_1_3_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let ca = data.join("ca.pem");
    let v11 = s_client(server.addr(), &ca, "-tls1_1");
    assert!(
        v11.contains("Cipher is (NONE)"),
        "TLS 1.1 was accepted:\n{v11}"
    );
    let v12 = s_client(server.addr(), &ca, "-tls1_2");
    assert!(
        v12.contains("New, TLSv1.2, Cipher is"),
        "TLS 1.2 refused:\n{v12}"
    );
    assert!(v12.contains("Verify return code: 0 (ok)"), "{v12}");
    let v13 = s_client(server.addr(), &ca, "-tls1_3");
    assert!(
        v13.contains("New, TLSv1.3, Cipher is"),
        "TLS 1.3 refused:\n{v13}"
    );
    server.terminate();
}

/// A config file for a non-dev server in `dir`, with dev certificates.
fn write_config(dir: &Path, keystore: &str) -> PathBuf {
    let certs =
        arca_server::tls::ensure_dev_certificates(dir, arca_services::SystemClock.now()).unwrap();
    let path = dir.join("arca.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n{keystore}",
        dir.join("data").display(),
        certs.server_cert.display(),
        certs.server_key.display(),
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn operator_init_unseal_seal_with_shamir_shares() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let ca = dir.path().join("ca.pem");
    let args = ["--config", config.to_str().unwrap()];
    let (server, _) = Server::start(&args, &[]);
    let cli = Cli::new(&server, &ca);

    assert_eq!(cli.json(&["operator", "status"])["initialized"], false);
    let (shares, key) = cli.init(5, 3);
    assert_eq!(shares.len(), 5);
    let admin = cli.with_key(&key);
    // Initialized once only.
    let again = cli.run(&["operator", "init"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already initialized"),
        "{}",
        stderr(&again)
    );

    // Sealed: data requests are refused with a clear message.
    let sealed = admin.run(&["instance", "list"]);
    assert!(!sealed.status.success());
    assert!(stderr(&sealed).contains("sealed"), "{}", stderr(&sealed));

    assert_eq!(json(&cli.unseal(&shares[0]))["progress"], 1);
    // A wrong share is rejected and not counted; a repeated one is not counted twice.
    let wrong = cli.unseal("arca-share-v1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAh");
    assert!(!wrong.status.success());
    assert!(stderr(&wrong).contains("not counted"), "{}", stderr(&wrong));
    assert!(!cli.unseal(&shares[0]).status.success());
    let status = cli.json(&["operator", "status"]);
    assert_eq!(
        (&status["sealed"], &status["progress"]),
        (&Value::Bool(true), &Value::from(1))
    );
    assert_eq!(json(&cli.unseal(&shares[3]))["progress"], 2);
    assert_eq!(json(&cli.unseal(&shares[4]))["sealed"], false);

    admin.json(&["instance", "create", "--name", "prod"]);
    // Seal needs an admin key.
    assert!(!cli.run(&["operator", "seal"]).status.success());
    assert_eq!(admin.json(&["operator", "seal"])["sealed"], true);
    server.terminate();

    // After a restart the software keystore is sealed again; 3 shares open it.
    let (server, _) = Server::start(&args, &[]);
    let cli = Cli::new(&server, &ca);
    let status = cli.json(&["operator", "status"]);
    assert_eq!(
        (&status["initialized"], &status["sealed"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    json(&cli.unseal(&shares[2]));
    json(&cli.unseal(&shares[1]));
    assert_eq!(cli.json(&["operator", "status"])["sealed"], true);
    assert_eq!(json(&cli.unseal(&shares[0]))["sealed"], false);
    let list = cli.with_key(&key).json(&["instance", "list"]);
    assert_eq!(list[0]["name"], "prod");
    server.terminate();
}

#[test]
fn pkcs11_server_unseals_itself_at_start() {
    let config = match arca_keystore::softhsm::test_token("arca-master-seal").unwrap() {
        Some(c) => c,
        None if arca_keystore::softhsm::required() => {
            panic!("ARCA_REQUIRE_PKCS11=1 but SoftHSM2 is not installed")
        }
        None => {
            eprintln!("SKIPPED: SoftHSM2 not installed");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let keystore = format!(
        "[keystore]\nkind = \"pkcs11\"\n[keystore.pkcs11]\nmodule = \"{}\"\ntoken_label = \"{}\"\nkey_label = \"{}\"\n",
        config.module.display(),
        config.token_label,
        config.key_label,
    );
    let path = write_config(dir.path(), &keystore);
    let ca = dir.path().join("ca.pem");
    let args = ["--config", path.to_str().unwrap()];
    // The PIN comes from the environment, not the file.
    let pin = config.pin.expose_secret().to_owned();
    let envs = [("ARCA_KEYSTORE__PKCS11__PIN", pin.as_str())];
    let (server, _) = Server::start(&args, &envs);
    let init = Cli::new(&server, &ca).json(&["operator", "init"]);
    assert!(init["shares"].as_array().unwrap().is_empty());
    let key = init["api_key"].as_str().unwrap().to_owned();
    Cli::new(&server, &ca)
        .with_key(&key)
        .json(&["instance", "create", "--name", "hsm"]);
    server.terminate();

    let (server, _) = Server::start(&args, &envs);
    let cli = Cli::new(&server, &ca);
    let health = cli.json(&["health"]);
    assert_eq!(health["status"], "ready");
    assert_eq!(health["keystore"], "pkcs11");
    assert_eq!(
        cli.with_key(&key).json(&["instance", "list"])[0]["name"],
        "hsm"
    );
    server.terminate();
}

#[test]
fn kp_create_wrap_unwrap_rotate_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let instance = info["kms_instance_id"].as_str().unwrap().to_owned();
    let cli = Cli::new(&server, &ca);
    let admin = cli.with_key(&api_key);
    let kp = |args: &[&str]| {
        let mut all = vec!["kp"];
        all.extend_from_slice(args);
        all.extend(["--instance-id", instance.as_str()]);
        admin.json(&all)
    };

    let created = kp(&["create", "cli-root", "--description", "from the CLI"]);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], 1);
    assert_eq!(created["extractable"], false);
    assert!(created.get("payload").is_none());
    let v1 = created["keyVersion"]["id"].as_str().unwrap().to_owned();

    // Wrap with a generated DEK: the DEK is printed (that is the point), with the ciphertext.
    let wrapped = kp(&["wrap", &id]);
    let dek = wrapped["plaintext"].as_str().unwrap().to_owned();
    let ciphertext = wrapped["ciphertext"].as_str().unwrap().to_owned();
    assert_eq!(dek.len(), 44, "32 bytes in base64: {dek}");
    assert_eq!(wrapped["keyVersion"]["id"], Value::String(v1.clone()));
    let unwrapped = kp(&["unwrap", &id, "--ciphertext", &ciphertext]);
    assert_eq!(unwrapped["plaintext"], Value::String(dek.clone()));
    // The human form prints the same DEK.
    let text = admin.run(&[
        "kp",
        "unwrap",
        &id,
        "--ciphertext",
        &ciphertext,
        "--instance-id",
        &instance,
    ]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(String::from_utf8_lossy(&text.stdout).contains(&dek));

    // Rotate: two versions, newest first; the old ciphertext still unwraps, rewrapped.
    let rotated = kp(&["rotate", &id]);
    let v2 = rotated["keyVersion"]["id"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    let versions = kp(&["key", "versions", &id]);
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(versions["totalCount"], 2);
    assert_eq!(list[0]["id"], Value::String(v2.clone()));
    assert_eq!(list[1]["id"], Value::String(v1));
    let again = kp(&["unwrap", &id, "--ciphertext", &ciphertext]);
    assert_eq!(again["plaintext"], Value::String(dek));
    assert_eq!(again["rewrappedKeyVersion"]["id"], Value::String(v2));

    // Listed; a standard key's material is shown only when asked for.
    let keys = kp(&["keys"]);
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == Value::String(id.clone())),
        "{keys}"
    );
    let standard = kp(&["create", "cli-standard", "--standard"]);
    assert!(standard.get("payload").is_none(), "{standard}");
    let sid = standard["id"].as_str().unwrap();
    assert!(kp(&["key", "show", sid]).get("payload").is_none());
    assert!(kp(&["key", "show", sid, "--payload"])["payload"].is_string());
    // Errors reach the user with the server's message.
    let refused = admin.run(&["kp", "wrap", sid, "--instance-id", &instance]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("root key"),
        "{}",
        stderr(&refused)
    );
    server.terminate();
}

#[test]
fn kp_rings_aliases_import_token_and_secure_import_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let instance = info["kms_instance_id"].as_str().unwrap().to_owned();
    let cli = Cli::new(&server, &ca);
    let admin = cli.with_key(&api_key);
    let with_instance = |args: &[&str]| {
        let mut all = vec!["kp"];
        all.extend_from_slice(args);
        all.extend(["--instance-id", instance.as_str()]);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let kp = |args: &[&str]| {
        let all = with_instance(args);
        admin.json(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let text = |args: &[&str]| {
        let all = with_instance(args);
        let out = admin.run(&all.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Key rings: created, listed (table and JSON), a key moved in and out, deleted.
    assert_eq!(kp(&["ring", "create", "cli-ring"])["id"], "cli-ring");
    let rings = kp(&["rings"]);
    let ids: Vec<&str> = rings
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"default") && ids.contains(&"cli-ring"),
        "{rings}"
    );
    assert!(text(&["rings"]).contains("cli-ring"));
    let id = kp(&["create", "ringed"])["id"].as_str().unwrap().to_owned();
    let moved = kp(&["key", "move", &id, "--ring", "cli-ring"]);
    assert_eq!(moved["keyRingID"], "cli-ring");
    assert!(text(&["key", "move", &id, "--ring", "default"]).contains("default"));
    let deleted = kp(&["ring", "delete", "cli-ring", "--force"]);
    assert_eq!(deleted["result"], "deleted");
    assert!(!text(&["rings"]).contains("cli-ring"));

    // Aliases.
    let alias = kp(&["alias", "create", &id, "cli-alias"]);
    assert_eq!(alias["alias"], "cli-alias");
    assert_eq!(alias["keyId"], Value::String(id.clone()));
    assert_eq!(kp(&["key", "show", &id])["aliases"][0], "cli-alias");
    assert!(text(&["alias", "delete", &id, "cli-alias"]).contains("deleted"));
    assert_eq!(kp(&["key", "show", &id])["aliases"], Value::Array(vec![]));

    // Import token, then a secure import of a 32-byte key through it.
    let token = kp(&[
        "import-token",
        "create",
        "--expiration",
        "900",
        "--max-retrievals",
        "2",
    ]);
    assert_eq!(token["remainingRetrievals"], 2);
    assert_eq!(token["expiration"], 900);
    let shown = text(&["import-token", "show"]);
    assert!(shown.contains("-----BEGIN PUBLIC KEY-----"), "{shown}");
    assert!(shown.contains("Nonce"), "{shown}");
    let material = dir.path().join("material.bin");
    std::fs::write(&material, [0x42u8; 32]).unwrap();
    let created = kp(&[
        "create",
        "cli-secure",
        "--secure-import-file",
        material.to_str().unwrap(),
    ]);
    assert_eq!(created["imported"], true);
    assert_eq!(created["extractable"], false);
    let sid = created["id"].as_str().unwrap().to_owned();
    let wrapped = kp(&["wrap", &sid]);
    let unwrapped = kp(&[
        "unwrap",
        &sid,
        "--ciphertext",
        wrapped["ciphertext"].as_str().unwrap(),
    ]);
    assert_eq!(unwrapped["plaintext"], wrapped["plaintext"]);
    // `show` and the import used both retrievals: the token is spent.
    let spent = admin.run(
        &with_instance(&["import-token", "show"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(!spent.status.success());
    let refused = admin.run(
        &with_instance(&[
            "create",
            "again",
            "--secure-import-file",
            material.to_str().unwrap(),
        ])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>(),
    );
    assert!(!refused.status.success(), "a spent token imports nothing");
    server.terminate();
}

#[test]
fn iam_service_to_service_authorizations_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let kms = info["kms_instance_id"].as_str().unwrap().to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);
    let secrets = admin.json(&[
        "instance",
        "create",
        "--name",
        "secrets",
        "--service",
        "secrets-manager",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = admin.json(&["kp", "create", "crk", "--instance-id", &kms])["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Create: one key (JSON), then all keys (table).
    let one = admin.json(&[
        "iam",
        "authorization-create",
        "--source-instance",
        &secrets,
        "--target-instance",
        &kms,
        "--key",
        &key,
        "--role",
        "Reader",
    ]);
    let one_id = one["id"].as_str().unwrap().to_owned();
    assert_eq!(one["source_service_name"], "secrets-manager");
    assert_eq!(one["target_key_id"], Value::String(key.clone()));
    assert_eq!(one["role"], "Reader");
    let out = admin.run(&[
        "iam",
        "authorization-create",
        "--source-instance",
        &secrets,
        "--target-instance",
        &kms,
        "--role",
        "Writer",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("all keys") && said.contains("Writer"),
        "{said}"
    );

    // List: JSON and the table.
    let list = admin.json(&["iam", "authorizations"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], Value::String(one_id.clone()));
    assert_eq!(list[1]["target_key_id"], Value::Null);
    let table = admin.run(&["iam", "authorizations"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&one_id) && table.contains(&key) && table.contains("secrets-manager"),
        "{table}"
    );

    // Delete; errors reach the user with the server's message and a failing exit.
    let out = admin.run(&["iam", "authorization-delete", &one_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        admin
            .json(&["iam", "authorizations"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let again = admin.run(&["iam", "authorization-delete", &one_id]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not found"), "{}", stderr(&again));
    let bad_role = admin.run(&[
        "iam",
        "authorization-create",
        "--source-instance",
        &secrets,
        "--target-instance",
        &kms,
        "--role",
        "Owner",
    ]);
    assert!(!bad_role.status.success());
    assert!(
        stderr(&bad_role).contains("role must be"),
        "{}",
        stderr(&bad_role)
    );
    server.terminate();
}

#[test]
fn sm_secrets_versions_and_locks_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let instance = info["secrets_manager_instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);
    let args = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["sm".to_owned()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all.extend(["--instance".to_owned(), instance.clone()]);
        all
    };
    let sm = |a: &[&str]| {
        let all = args(a);
        admin.json(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let run = |a: &[&str]| {
        let all = args(a);
        admin.run(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let stdout = |out: &Output| {
        assert!(out.status.success(), "{}", stderr(out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // A group, shown in the table.
    let group = sm(&["secret-group-create", "team-a", "--description", "Team A"]);
    let group_id = group["id"].as_str().unwrap().to_owned();
    assert_eq!(group["name"], "team-a");
    let groups = stdout(&run(&["secret-groups"]));
    assert!(
        groups.starts_with("ID") && groups.contains("team-a"),
        "{groups}"
    );

    // An arbitrary secret from a file, in the group (given by name), a kv secret and a
    // username_password secret.
    let payload = "line one\nline two: the arbitrary payload\n";
    let payload_file = dir.path().join("payload.txt");
    std::fs::write(&payload_file, payload).unwrap();
    let arb = sm(&[
        "secret-create",
        "--type",
        "arbitrary",
        "--name",
        "cli-arbitrary",
        "--group",
        "team-a",
        "--labels",
        "dev,blue",
        "--description",
        "from a file",
        "--payload-file",
        payload_file.to_str().unwrap(),
    ]);
    let arb_id = arb["id"].as_str().unwrap().to_owned();
    assert_eq!(arb["secret_group_id"], Value::String(group_id.clone()));
    assert_eq!(arb["payload"], payload);
    assert_eq!(arb["labels"], serde_json::json!(["dev", "blue"]));
    let kv_data = serde_json::json!({"user": "svc", "nested": {"port": 5432}});
    let kv = sm(&[
        "secret-create",
        "--type",
        "kv",
        "--name",
        "cli-kv",
        "--data",
        &kv_data.to_string(),
        "--custom-metadata",
        r#"{"owner":"ops"}"#,
    ]);
    let kv_id = kv["id"].as_str().unwrap().to_owned();
    assert_eq!(kv["secret_group_id"], "default");
    let up = sm(&[
        "secret-create",
        "--type",
        "username_password",
        "--name",
        "cli-login",
        "--username",
        "alice",
        "--password",
        "first-password-1",
    ]);
    let up_id = up["id"].as_str().unwrap().to_owned();

    // Listing: JSON (metadata only, filters, --limit) and the table (no data in it).
    let all = sm(&["secrets"]);
    assert_eq!(all["total_count"], 3);
    let listed = all["secrets"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|s| s.get("payload").is_none() && s.get("data").is_none())
    );
    assert_eq!(
        sm(&["secrets", "--types", "kv"])["secrets"][0]["id"],
        Value::String(kv_id.clone())
    );
    let by_label = sm(&["secrets", "--labels", "dev,blue", "--groups", "team-a"]);
    assert_eq!(by_label["total_count"], 1);
    assert_eq!(by_label["secrets"][0]["id"], Value::String(arb_id.clone()));
    let limited = sm(&["secrets", "--limit", "2", "--sort", "name"]);
    assert_eq!(limited["secrets"].as_array().unwrap().len(), 2);
    assert_eq!(limited["total_count"], 3);
    assert_eq!(limited["secrets"][0]["name"], "cli-arbitrary");
    let table = stdout(&run(&["secrets"]));
    assert!(table.starts_with("ID"), "{table}");
    for id in [&arb_id, &kv_id, &up_id] {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(table.contains("3 secret(s)"), "{table}");
    assert!(!table.contains("line one") && !table.contains("first-password-1"));

    // Reading back: JSON carries the data; the table only with --show-data.
    assert_eq!(sm(&["secret", &arb_id])["payload"], payload);
    assert_eq!(sm(&["secret", &kv_id])["data"], kv_data);
    let login = sm(&["secret", &up_id]);
    assert_eq!(
        (&login["username"], &login["password"]),
        (&Value::from("alice"), &Value::from("first-password-1"))
    );
    let shown = stdout(&run(&["secret", &arb_id]));
    assert!(
        shown.contains("cli-arbitrary") && !shown.contains("line one"),
        "{shown}"
    );
    let shown = stdout(&run(&["secret", &arb_id, "--show-data"]));
    assert!(shown.contains("line two: the arbitrary payload"), "{shown}");
    assert!(sm(&["secret-metadata", &kv_id]).get("data").is_none());
    let by_name = sm(&[
        "secret-by-name",
        "--group",
        "team-a",
        "--type",
        "arbitrary",
        "cli-arbitrary",
    ]);
    assert_eq!(by_name["id"], Value::String(arb_id.clone()));
    let updated = sm(&[
        "secret-update",
        &kv_id,
        "--name",
        "cli-kv-2",
        "--labels",
        "xy",
    ]);
    assert_eq!(updated["name"], "cli-kv-2");
    assert_eq!(updated["labels"], serde_json::json!(["xy"]));

    // Rotation: new versions; `previous` keeps the old data.
    let v2 = sm(&[
        "secret-version-create",
        &arb_id,
        "--payload",
        "second payload",
    ]);
    assert_eq!(v2["alias"], "current");
    assert_eq!(sm(&["secret", &arb_id])["payload"], "second payload");
    assert_eq!(
        sm(&["secret-version", &arb_id, "previous"])["payload"],
        payload
    );
    assert_eq!(
        sm(&["secret-versions", &arb_id])["versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let rotated = sm(&["secret-version-create", &up_id]);
    assert_eq!(rotated["username"], "alice");
    assert_ne!(rotated["password"], "first-password-1");
    assert_eq!(
        sm(&["secret-version", &up_id, "previous"])["password"],
        "first-password-1"
    );
    let kv2 = sm(&[
        "secret-version-create",
        &kv_id,
        "--data",
        r#"{"user":"svc2"}"#,
    ]);
    assert_eq!(kv2["data"]["user"], "svc2");

    // Locks: a locked secret cannot be deleted (412, exit code 1); unlock, then delete.
    let locked = sm(&[
        "secret-locks-create",
        &arb_id,
        "--lock",
        "keep:held by the CLI test",
        "--lock",
        "audit",
    ]);
    let names: Vec<&str> = locked["versions"][0]["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"keep") && names.contains(&"audit"),
        "{locked}"
    );
    let locks = sm(&["secret-locks", &arb_id]);
    assert_eq!(locks["total_count"], 2);
    let keep = locks["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "keep")
        .unwrap();
    assert_eq!(keep["description"], "held by the CLI test");
    let instance_locks = stdout(&run(&["instance-locks"]));
    assert!(instance_locks.contains(&arb_id), "{instance_locks}");
    let refused = run(&["secret-delete", &arb_id]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("412") && stderr(&refused).contains("locked"),
        "{}",
        stderr(&refused)
    );
    let unlocked = sm(&["secret-locks-delete", &arb_id, "--name", "keep,audit"]);
    assert_eq!(unlocked["secret_id"], Value::String(arb_id.clone()));
    assert_eq!(sm(&["secret-locks", &arb_id])["total_count"], 0);
    assert_eq!(sm(&["secret-delete", &arb_id])["result"], "deleted");
    let gone = run(&["secret", &arb_id]);
    assert!(!gone.status.success());
    assert!(stderr(&gone).contains("404"), "{}", stderr(&gone));
    assert_eq!(sm(&["secret-group-delete", &group_id])["result"], "deleted");

    // Bad input fails cleanly, before any request, naming the flag and never echoing the data.
    let bad = run(&[
        "secret-create",
        "--type",
        "kv",
        "--name",
        "bad",
        "--data",
        "{\"not-shown\": oops",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let said = stderr(&bad);
    assert!(said.contains("--data is not valid JSON"), "{said}");
    assert!(
        !said.contains("panicked") && !said.contains("oops"),
        "{said}"
    );
    let bad = run(&[
        "secret-create",
        "--type",
        "kv",
        "--name",
        "bad",
        "--data",
        "[1]",
    ]);
    assert!(
        stderr(&bad).contains("must be a JSON object"),
        "{}",
        stderr(&bad)
    );
    let missing = dir.path().join("missing.txt");
    let bad = run(&[
        "secret-create",
        "--type",
        "arbitrary",
        "--name",
        "bad",
        "--payload-file",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("cannot read --payload-file"),
        "{}",
        stderr(&bad)
    );
    let bad = run(&[
        "secret-create",
        "--type",
        "kv",
        "--name",
        "bad",
        "--payload",
        "x",
    ]);
    assert!(
        stderr(&bad).contains("does not apply to kv"),
        "{}",
        stderr(&bad)
    );
    let bad = run(&["configuration-create", "--json", "{oops"]);
    assert!(
        stderr(&bad).contains("--json is not valid JSON"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(
        sm(&["secrets"])["total_count"],
        2,
        "nothing bad was created"
    );

    // Notifications registration, and the instance from ARCA_SM_INSTANCE.
    let crn = "crn:v1:bluemix:public:event-notifications:local:a/x:y::";
    let reg = sm(&[
        "notifications-register",
        "--crn",
        crn,
        "--source-name",
        "arca",
    ]);
    assert_eq!(reg["event_notifications_instance_crn"], crn);
    assert_eq!(
        sm(&["notifications"])["event_notifications_instance_crn"],
        crn
    );
    sm(&["notifications-delete"]);
    let out = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args(["sm", "secrets", "-o", "json"])
        .env("ARCA_URL", &server.url)
        .env("ARCA_CACERT", &ca)
        .env("ARCA_API_KEY", &api_key)
        .env("ARCA_SM_INSTANCE", &instance)
        .output()
        .unwrap();
    assert_eq!(json(&out)["total_count"], 2);
    server.terminate();
}

#[test]
fn sm_customer_root_key_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let kms = info["kms_instance_id"].as_str().unwrap().to_owned();
    let sm = info["secrets_manager_instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);
    for i in 0..3 {
        let out = admin.run(&[
            "sm",
            "secret-create",
            "--type",
            "arbitrary",
            "--name",
            &format!("rk-{i}"),
            "--payload",
            "payload",
            "--instance",
            &sm,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let key = admin.json(&["kp", "create", "sm-root", "--instance-id", &kms]);
    let (key_id, crn) = (
        key["id"].as_str().unwrap().to_owned(),
        key["crn"].as_str().unwrap().to_owned(),
    );

    // Without an authorization: refused, with the way out in the message.
    let refused = admin.run(&["instance", "root-key-set", &sm, "--crn", &crn]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("authorization-create"),
        "{}",
        stderr(&refused)
    );
    let out = admin.run(&[
        "iam",
        "authorization-create",
        "--source-instance",
        &sm,
        "--target-instance",
        &kms,
        "--key",
        &key_id,
        "--role",
        "Reader",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Set: re-encrypts with progress on stderr, then the summary.
    let out = admin.run(&["instance", "root-key-set", &sm, "--crn", &crn]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("3/3 (100%)"), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains(&crn) && said.contains("3 of 3"), "{said}");
    let status = admin.json(&["instance", "root-key", &sm]);
    assert_eq!(status["root_key_crn"], Value::String(crn));
    assert_eq!(status["data_keys_pending"], 0);
    // Back to provider-managed.
    let status = admin.json(&["instance", "root-key-set", &sm, "--provider-managed"]);
    assert_eq!(status["provider_managed"], true);
    assert_eq!(status["data_keys_pending"], 0);
    // Neither or both of --crn and --provider-managed: a usage error.
    assert!(
        !admin
            .run(&["instance", "root-key-set", &sm])
            .status
            .success()
    );
}

#[test]
fn sm_certificate_backup_between_instances_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let source = info["secrets_manager_instance_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);
    let target = admin.json(&[
        "instance",
        "create",
        "--name",
        "backup",
        "--service",
        "secrets-manager",
    ])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for config in [
        r#"{"config_type":"private_cert_configuration_root_ca","name":"root","max_ttl":"8760h","common_name":"CLI Root"}"#,
        r#"{"config_type":"private_cert_configuration_template","name":"web","certificate_authority":"root","allow_any_name":true}"#,
    ] {
        admin.json(&[
            "sm",
            "configuration-create",
            "--json",
            config,
            "--instance",
            &source,
        ]);
    }
    for name in ["cli-1", "cli-2"] {
        admin.json(&[
            "sm",
            "secret-create",
            "--type",
            "private_cert",
            "--name",
            name,
            "--template",
            "web",
            "--common-name",
            &format!("{name}.example.com"),
            "--instance",
            &source,
        ]);
    }

    let bundle = dir.path().join("certs.bundle");
    let passphrase = dir.path().join("passphrase");
    std::fs::write(&passphrase, "a long enough passphrase\n").unwrap();
    let exported = admin.json(&[
        "sm",
        "certificates",
        "export",
        "--file",
        bundle.to_str().unwrap(),
        "--passphrase-file",
        passphrase.to_str().unwrap(),
        "--instance",
        &source,
    ]);
    assert_eq!(exported["certificates"], 2);
    assert_eq!(exported["private_keys"], 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bundle).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the bundle is readable by its owner only"
        );
    }
    // Not overwritten without --force.
    let again = admin.run(&[
        "sm",
        "certificates",
        "export",
        "--file",
        bundle.to_str().unwrap(),
        "--passphrase-file",
        passphrase.to_str().unwrap(),
        "--instance",
        &source,
    ]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));

    // A wrong passphrase (on standard input) is refused, nothing is imported.
    let wrong = admin.run_with_stdin(
        &[
            "sm",
            "certificates",
            "import",
            "--file",
            bundle.to_str().unwrap(),
            "--instance",
            &target,
        ],
        Some("not the passphrase at all\n"),
    );
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("wrong passphrase"),
        "{}",
        stderr(&wrong)
    );
    let imported = admin.json(&[
        "sm",
        "certificates",
        "import",
        "--file",
        bundle.to_str().unwrap(),
        "--passphrase-file",
        passphrase.to_str().unwrap(),
        "--instance",
        &target,
    ]);
    assert_eq!(
        imported["created"].as_array().unwrap().len(),
        2,
        "{imported}"
    );

    // Byte for byte: the copies hold the same certificate and private key.
    for name in ["cli-1", "cli-2"] {
        let a = admin.json(&[
            "sm",
            "secret-by-name",
            "--group",
            "default",
            "--type",
            "private_cert",
            name,
            "--instance",
            &source,
        ]);
        let b = admin.json(&[
            "sm",
            "secret-by-name",
            "--group",
            "default",
            "--type",
            "imported_cert",
            name,
            "--instance",
            &target,
        ]);
        assert_eq!(a["certificate"], b["certificate"]);
        assert_eq!(a["private_key"], b["private_key"]);
        assert!(a["private_key"].as_str().unwrap().contains("PRIVATE KEY"));
    }
}

#[test]
fn lifecycle_event_registrations_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let kms = info["kms_instance_id"].as_str().unwrap().to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);
    // A closed port: the test send fails and is logged for a retry.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}/hook");

    let created = admin.json(&[
        "events",
        "registration-create",
        "--instance-id",
        &kms,
        "--callback-url",
        &url,
        "--event-type",
        "key.rotated,key.deleted",
    ]);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["secret"].as_str().unwrap().len(), 64);
    assert_eq!(
        created["event_types"],
        serde_json::json!(["key.rotated", "key.deleted"])
    );
    let listed = admin.json(&["events", "registrations", "--instance-id", &kms]);
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "{listed}");
    let out = admin.run(&["events", "registrations", "--instance-id", &kms]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&url));

    let sent = admin.json(&["events", "test", "--instance-id", &kms, &id]);
    assert_eq!(sent["event_type"], "arca.test");
    assert_eq!(sent["state"], "pending");
    assert_eq!(sent["attempts"], 1);
    let log = admin.json(&[
        "events",
        "deliveries",
        "--instance-id",
        &kms,
        "--state",
        "pending",
    ]);
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["registration_id"], id.as_str());
    let bad = admin.run(&[
        "events",
        "registration-create",
        "--instance-id",
        &kms,
        "--callback-url",
        "http://example.com/hook",
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("https"), "{}", stderr(&bad));

    let out = admin.run(&["events", "registration-delete", "--instance-id", &kms, &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = admin.json(&["events", "registrations", "--instance-id", &kms]);
    assert!(listed.as_array().unwrap().is_empty());
}

#[test]
fn resource_service_instances_and_reclamations_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);

    let created = admin.json(&[
        "resource",
        "service-instance-create",
        "cli-sm",
        "secrets-manager",
        "standard",
    ]);
    assert_eq!(created["resource_plan_id"], "arca-secrets-manager-standard");
    assert_eq!(created["state"], "active");
    let guid = created["guid"].as_str().unwrap().to_owned();
    let crn = created["crn"].as_str().unwrap().to_owned();
    // A plan of another service, and bad parameters: refused before anything is created.
    let out = admin.run(&[
        "resource",
        "service-instance-create",
        "x",
        "kms",
        "arca-secrets-manager-standard",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown plan"), "{}", stderr(&out));
    let out = admin.run(&[
        "resource",
        "service-instance-create",
        "x",
        "kms",
        "standard",
        "-p",
        "[1]",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("JSON object"), "{}", stderr(&out));

    // Listed (text and JSON), shown by name and by CRN, renamed.
    let out = admin.run(&["resource", "service-instances"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("cli-sm") && text.contains(&guid), "{text}");
    let list = admin.json(&["resource", "service-instances", "--service", "kms"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        admin.json(&["resource", "service-instance", "cli-sm"])["guid"],
        Value::String(guid.clone())
    );
    assert_eq!(
        admin.json(&["resource", "service-instance", &crn])["name"],
        "cli-sm"
    );
    let renamed = admin.json(&[
        "resource",
        "service-instance-update",
        "cli-sm",
        "--name",
        "cli-sm-2",
    ]);
    assert_eq!(renamed["name"], "cli-sm-2");
    let out = admin.run(&["resource", "service-instance", "no-such-name"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no service instance named"),
        "{}",
        stderr(&out)
    );

    // A secret; delete (needs --yes) -> refused -> reclamations -> restore -> reads as before.
    let secret = admin.json(&[
        "sm",
        "secret-create",
        "--type",
        "arbitrary",
        "--name",
        "cli-rc",
        "--payload",
        "cli rc payload",
        "--instance",
        &guid,
    ]);
    let secret_id = secret["id"].as_str().unwrap().to_owned();
    let get_secret = [
        "sm",
        "secret",
        &secret_id,
        "--show-data",
        "--instance",
        &guid,
    ];
    assert!(
        !admin
            .run(&["resource", "service-instance-delete", "cli-sm-2"])
            .status
            .success()
    );
    let out = admin.run(&["resource", "service-instance-delete", "cli-sm-2", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reclamation-restore"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let refused = admin.run(&get_secret);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("deleted"), "{}", stderr(&refused));
    let recl = admin.json(&["resource", "reclamations"]);
    assert_eq!(recl[0]["id"], Value::String(guid.clone()));
    assert_eq!(recl[0]["state"], "SCHEDULED");
    let out = admin.run(&["resource", "reclamations"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&crn));
    let restored = admin.json(&["resource", "reclamation-restore", &guid]);
    assert_eq!(restored["state"], "RESTORING");
    assert_eq!(admin.json(&get_secret)["payload"], "cli rc payload");

    // Delete -> reclaim (needs --yes): gone.
    let out = admin.run(&["resource", "service-instance-delete", &guid, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !admin
            .run(&["resource", "reclamation-delete", &guid])
            .status
            .success()
    );
    let out = admin.run(&["resource", "reclamation-delete", &guid, "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reclaimed"));
    let gone = admin.run(&["resource", "service-instance", &guid]);
    assert!(!gone.status.success());
    assert!(stderr(&gone).contains("404"), "{}", stderr(&gone));
    assert!(!admin.run(&get_secret).status.success());
    assert_eq!(
        admin.json(&["resource", "reclamations"]),
        serde_json::json!([])
    );
}

/// A real history verifies, live and exported; a copy with one record edited, one removed, or
/// two swapped does not, and the failure names the first bad record.
#[test]
fn audit_verify_passes_on_real_history_and_fails_on_tampered_exports() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::start(
        &[
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let info = read_dev_json(&data);
    let ca = PathBuf::from(info["ca_cert"].as_str().unwrap());
    let api_key = info["api_key"].as_str().unwrap().to_owned();
    let instance = info["kms_instance_id"].as_str().unwrap().to_owned();
    let admin = Cli::new(&server, &ca).with_key(&api_key);

    // Some history: keys made and used, a failure.
    for name in ["audit-a", "audit-b"] {
        let key = admin.json(&["kp", "create", name, "--instance-id", &instance]);
        let id = key["id"].as_str().unwrap();
        admin.json(&["kp", "wrap", id, "--instance-id", &instance]);
    }
    let missing = admin.run(&["kp", "get", "no-such-key", "--instance-id", &instance]);
    assert!(!missing.status.success());

    let listed = admin.json(&["audit", "list", "--action", "kms.keys.create"]);
    let events = listed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{listed}");
    assert_eq!(events[0]["instance_id"], Value::String(instance.clone()));
    let table = admin.run(&["audit", "list"]);
    assert!(table.status.success(), "{}", stderr(&table));
    assert!(String::from_utf8_lossy(&table.stdout).contains("kms.keys.wrap"));

    let live = admin.run(&["audit", "verify"]);
    assert!(live.status.success(), "{}", stderr(&live));
    assert!(String::from_utf8_lossy(&live.stdout).contains("verified"));

    let export = dir.path().join("audit.jsonl");
    let out = admin.run(&["audit", "export", "--out", export.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ok = admin.run(&["audit", "verify", "--file", export.to_str().unwrap()]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let lines: Vec<String> = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    // The header and at least a handful of records.
    assert!(lines.len() > 6, "{lines:?}");
    let seq_of = |line: &str| serde_json::from_str::<Value>(line).unwrap()["seq"].clone();

    let tampered = |name: &str, lines: &[String]| -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let out = admin.run(&["audit", "verify", "--file", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{name} verified");
        let err = stderr(&out);
        assert!(err.contains("does NOT verify"), "{name}: {err}");
        err
    };

    // An edited field: that record's hash fails.
    let mut edited = lines.clone();
    let mut record: Value = serde_json::from_str(&edited[3]).unwrap();
    record["outcome"] = Value::String(
        if record["outcome"] == "success" {
            "failure"
        } else {
            "success"
        }
        .into(),
    );
    edited[3] = record.to_string();
    let err = tampered("edited.jsonl", &edited);
    assert!(err.contains(&format!("seq {}", seq_of(&lines[3]))), "{err}");
    assert!(err.contains("edited"), "{err}");

    // A removed record: the next one no longer links.
    let mut removed = lines.clone();
    removed.remove(3);
    let err = tampered("removed.jsonl", &removed);
    assert!(err.contains(&format!("seq {}", seq_of(&lines[4]))), "{err}");

    // Two records swapped: out of order.
    let mut swapped = lines.clone();
    swapped.swap(3, 4);
    let err = tampered("swapped.jsonl", &swapped);
    // The first record out of place is named.
    assert!(err.contains(&format!("seq {}", seq_of(&lines[4]))), "{err}");

    // The last record removed: the end no longer matches the header.
    let mut truncated = lines.clone();
    truncated.pop();
    tampered("truncated.jsonl", &truncated);

    // The untouched export still verifies.
    let again = admin.run(&["audit", "verify", "--file", export.to_str().unwrap()]);
    assert!(again.status.success());
    server.terminate();
}

#[test]
fn operator_backup_verify_and_restore_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let ca = dir.path().join("ca.pem");
    let (server, _) = Server::start(&["--config", config.to_str().unwrap()], &[]);
    let cli = Cli::new(&server, &ca);
    let (shares, key) = cli.init(3, 2);
    json(&cli.unseal(&shares[0]));
    json(&cli.unseal(&shares[1]));
    let admin = cli.with_key(&key);
    admin.json(&["instance", "create", "--name", "backed-up"]);

    let file = dir.path().join("cluster.arcabk");
    let f = file.to_str().unwrap();
    // Administrators only.
    let anonymous = cli.run(&["operator", "backup", "--out", f]);
    assert!(!anonymous.status.success());
    assert!(!file.exists());
    let taken = admin.json(&["operator", "backup", "--out", f]);
    assert!(taken["rows"].as_u64().unwrap() > 5, "{taken}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = admin.run(&["operator", "backup", "--out", f]);
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));

    // Offline check, then every frame opened with two shares.
    let checked = cli.json(&["operator", "backup", "verify", "--file", f]);
    assert_eq!(checked["decrypted"], false);
    assert_eq!(checked["rows"], taken["rows"]);
    let two_shares = format!("{}\n{}\n", shares[2], shares[0]);
    let opened = json(&cli.run_with_stdin(
        &[
            "operator",
            "backup",
            "verify",
            "--file",
            f,
            "--decrypt",
            "-o",
            "json",
        ],
        Some(&two_shares),
    ));
    assert_eq!(opened["decrypted"], true);
    let tables = opened["tables"].as_array().unwrap();
    assert!(
        tables
            .iter()
            .any(|t| t["name"] == "instances" && t["rows"] == 1)
    );
    // One share is not enough; a changed byte is found.
    let short = cli.run_with_stdin(
        &["operator", "backup", "verify", "--file", f, "--decrypt"],
        Some(&format!("{}\n", shares[1])),
    );
    assert!(!short.status.success());
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    let damaged = dir.path().join("damaged.arcabk");
    std::fs::write(&damaged, &bytes).unwrap();
    let bad = cli.run(&[
        "operator",
        "backup",
        "verify",
        "--file",
        damaged.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("checksum"), "{}", stderr(&bad));

    // Restore into a new data directory; a server there unseals with the same shares and
    // serves the same data to the same API key.
    let dir2 = tempfile::tempdir().unwrap();
    let config2 = write_config(dir2.path(), "");
    let c2 = config2.to_str().unwrap();
    let restored = json(&cli.run_with_stdin(
        &[
            "operator", "restore", "--file", f, "--config", c2, "-o", "json",
        ],
        Some(&two_shares),
    ));
    assert_eq!(restored["rows"], taken["rows"]);
    let twice = cli.run_with_stdin(
        &["operator", "restore", "--file", f, "--config", c2],
        Some(&two_shares),
    );
    assert!(stderr(&twice).contains("not empty"), "{}", stderr(&twice));
    let (server2, _) = Server::start(&["--config", c2], &[]);
    let ca2 = dir2.path().join("ca.pem");
    let cli2 = Cli::new(&server2, &ca2);
    json(&cli2.unseal(&shares[1]));
    json(&cli2.unseal(&shares[2]));
    let list = cli2.with_key(&key).json(&["instance", "list"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "backed-up")
    );
    server2.terminate();
    server.terminate();
}
