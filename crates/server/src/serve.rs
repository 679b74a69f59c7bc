//! The HTTPS accept loop: tokio-rustls in front of hyper (HTTP/1.1 and HTTP/2), with a TLS
//! handshake timeout, a header read timeout, and graceful shutdown. Written out (rather than
//! `axum::serve`) so the connection, and later the client certificate for mTLS, is ours.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arca_services::backup::BackupService;
use arca_services::events::EventService;
use arca_services::reclamations::ReclamationService;
use arca_services::secrets::SecretsService;
use arca_services::{Arca, KeyService};
use arca_store::Store;
use arca_store::cluster::Leadership;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::{Assembled, ServerError};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Lingering close: after a connection ends, what is still arriving is read and discarded for at
/// most this long and this much, so an answer sent before the request body was read (413, 401,
/// 503...) is not destroyed by a TCP reset before the client reads it.
const LINGER_TIMEOUT: Duration = Duration::from_secs(5);
const LINGER_MAX_BYTES: usize = 16 * 1024 * 1024;

/// A server that is accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    jobs: JoinHandle<()>,
    changes: JoinHandle<()>,
    assembled: Assembled,
}

impl RunningServer {
    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The services behind it.
    pub fn assembled(&self) -> &Assembled {
        &self.assembled
    }

    /// Stops accepting, lets in-flight requests finish (up to a deadline), seals the master key
    /// and closes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "accept loop ended abnormally");
        }
        if let Err(e) = self.jobs.await {
            tracing::error!(error = %e, "key lifecycle jobs ended abnormally");
        }
        if let Err(e) = self.changes.await {
            tracing::error!(error = %e, "the cluster change feed ended abnormally");
        }
        // Every record of what was served (reads were not waited for) is written before the
        // store closes.
        self.assembled.arca.audit.flush().await;
        self.assembled.keystore.seal();
        self.assembled.store.close().await;
        tracing::info!("server stopped");
    }
}

pub(crate) async fn serve(
    listen: SocketAddr,
    tls: Arc<ServerConfig>,
    app: Router,
    assembled: Assembled,
    jobs_interval: Duration,
) -> Result<RunningServer, ServerError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| ServerError::Io {
            what: format!("listen on {listen}"),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Io {
        what: "read the bound address".into(),
        source,
    })?;
    let (stop, stopped) = watch::channel(false);
    let jobs = tokio::spawn(run_jobs(
        assembled.store.shared(),
        Jobs {
            keys: assembled.arca.keys.clone(),
            secrets: assembled.arca.secrets.clone(),
            reclamations: assembled.arca.reclamations.clone(),
            events: assembled.arca.events.clone(),
            backup: assembled.arca.backup.clone(),
            backup_running: Arc::default(),
        },
        jobs_interval,
        stopped.clone(),
    ));
    let changes = tokio::spawn(follow_changes(
        assembled.store.shared(),
        assembled.arca.clone(),
        stopped.clone(),
    ));
    let task = tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls), app, stopped));
    tracing::info!(%addr, "listening (HTTPS)");
    Ok(RunningServer {
        addr,
        stop,
        task,
        jobs,
        changes,
        assembled,
    })
}

/// How often a node checks that it still leads the jobs, or tries to take over: a dead
/// leader's jobs resume on another node within about this long.
const LEADER_CHECK: Duration = Duration::from_secs(2);

/// The background jobs' services.
struct Jobs {
    keys: KeyService,
    secrets: SecretsService,
    reclamations: ReclamationService,
    events: EventService,
    backup: BackupService,
    backup_running: Arc<AtomicBool>,
}

impl Jobs {
    /// One pass of every job.
    async fn run(&self) {
        if let Err(e) = self.keys.run_due_work_now().await {
            tracing::warn!(error = %e, "key lifecycle jobs failed");
        }
        if let Err(e) = self.secrets.run_due_work_now().await {
            tracing::warn!(error = %e, "secret lifecycle jobs failed");
        }
        if let Err(e) = self.reclamations.run_due_work_now().await {
            tracing::warn!(error = %e, "instance reclamation jobs failed");
        }
        // Last: the events the passes above recorded go out in the same pass.
        if let Err(e) = self.events.run_due_work_now().await {
            tracing::warn!(error = %e, "lifecycle event delivery failed");
        }
        // A backup of a large store takes a while: it runs beside the next passes (one at a
        // time), so expiry and rotation are not held up.
        if !self.backup_running.swap(true, Ordering::AcqRel) {
            let backup = self.backup.clone();
            let running = self.backup_running.clone();
            tokio::spawn(async move {
                if let Err(e) = backup.run_due_work_now().await {
                    tracing::warn!(error = ?e, "scheduled backup failed");
                }
                running.store(false, Ordering::Release);
            });
        }
    }
}

/// The key, secret, reclamation and event delivery jobs, every `period` until shutdown, on the one node of the
/// cluster that leads (chosen through the store; SQLite's single node always leads). The first
/// pass comes one period after start, or at once when this node takes over from a leader
/// that died; a pass in progress finishes before shutdown goes on.
async fn run_jobs(
    store: Arc<dyn Store>,
    jobs: Jobs,
    period: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let started = tokio::time::Instant::now();
    let mut next_pass = started + period;
    let mut ticks = tokio::time::interval(period.min(LEADER_CHECK));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut leadership: Option<Box<dyn Leadership>> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        if let Some(held) = leadership.as_mut()
            && !held.still_leading().await
        {
            tracing::warn!(
                "lost the leadership of the background jobs (its database connection ended)"
            );
            leadership = None;
        }
        if leadership.is_none() {
            match store.try_lead().await {
                Ok(Some(held)) => {
                    if started.elapsed() >= LEADER_CHECK {
                        // Taking over: the former leader's schedule is unknown, run now.
                        next_pass = tokio::time::Instant::now();
                    }
                    tracing::info!("this node now leads the background jobs");
                    leadership = Some(held);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot contend for the jobs' leadership"),
            }
        }
        if leadership.is_some() && tokio::time::Instant::now() >= next_pass {
            jobs.run().await;
            next_pass = tokio::time::Instant::now() + period;
        }
    }
}

/// Keeps this node's caches coherent with the changes other nodes commit (PostgreSQL's
/// `arca_changes` notifications; nothing to do on SQLite). Whenever the feed is not known to be
/// complete (at start, after a lost connection, while it cannot be re-made), everything cached
/// is dropped, at least once a second, so no node serves a stale decision for longer.
async fn follow_changes(store: Arc<dyn Store>, arca: Arca, mut stopped: watch::Receiver<bool>) {
    loop {
        let watched = tokio::select! {
            w = store.watch_changes() => w,
            _ = stopped.changed() => return,
        };
        match watched {
            Ok(None) => return,
            Ok(Some(mut feed)) => {
                arca.forget_cached();
                loop {
                    let event = tokio::select! {
                        e = feed.next() => e,
                        _ = stopped.changed() => return,
                    };
                    match event {
                        Ok(event) => arca.apply_cluster_event(&event),
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the cluster change feed; re-subscribing");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to the cluster change feed"),
        }
        arca.forget_cached();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// A second handle on the accepted socket (a duplicated descriptor), kept for [`linger_close`]:
/// the socket stays open after the TLS stream built on the first handle is dropped.
fn with_linger_handle(tcp: TcpStream) -> std::io::Result<(TcpStream, TcpStream)> {
    let std = tcp.into_std()?;
    let dup = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, TcpStream::from_std(dup)?))
}

/// Ends the write side, then reads and discards what the client still sends (an unread request
/// body) until it closes or a limit is reached, and only then closes the socket. Closing with
/// unread data would make the kernel send a reset, which can discard the answer the client has
/// not read yet.
async fn linger_close(mut tcp: TcpStream) {
    let _ = tcp.shutdown().await;
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0usize;
    let _ = tokio::time::timeout(LINGER_TIMEOUT, async {
        while total < LINGER_MAX_BYTES {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let (tcp, linger) = match with_linger_handle(tcp) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(%peer, error = %e, "cannot prepare the connection");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let mut builder = Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            // The peer address travels with each request (instance network policies need it).
            let app = app.layer(axum::Extension(arca_api::ClientAddr(peer.ip())));
            let service = TowerToHyperService::new(app);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            linger_close(linger).await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("in-flight requests did not finish before the drain deadline");
        }
    }
}
