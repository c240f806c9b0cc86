//! Listening: the rules that refuse unsafe setups, and the server loop
//! (plain HTTP, or TLS through rustls).

use crate::error::{ApiError, ApiResult};
use crate::Manager;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// How the server was asked to listen, for [`check_listen`].
#[derive(Clone, Debug)]
pub struct ListenPolicy {
    /// The address.
    pub listen: SocketAddr,
    /// A users file was given.
    pub users: bool,
    /// Certificate and key were given.
    pub tls: bool,
    /// `--insecure`: plain HTTP on a non-loopback address (never without users).
    pub insecure: bool,
    /// `--no-auth-loopback`: serve without users, on loopback only.
    pub no_auth_loopback: bool,
}

/// Refuse the unsafe ways to listen, with a message that says what to do:
/// - without users: only with `--no-auth-loopback`, and only on loopback;
/// - on a non-loopback address: only with users, and with TLS unless `--insecure`.
pub fn check_listen(p: &ListenPolicy) -> ApiResult<()> {
    let loopback = p.listen.ip().is_loopback();
    if !p.users {
        if !loopback {
            return Err(ApiError::forbidden(format!(
                "refusing to listen on {} without users: anyone who can reach it could change the data. \
                 Create users (`sop serve user add NAME --role admin --users FILE`) and pass --users FILE",
                p.listen
            )));
        }
        if !p.no_auth_loopback {
            return Err(ApiError::forbidden(
                "no users file: pass --users FILE (make one with `sop serve user add NAME --role admin --users FILE`), \
                 or --no-auth-loopback to let every program and person on this machine in as admin",
            ));
        }
    } else if p.no_auth_loopback {
        return Err(ApiError::bad_request(
            "--no-auth-loopback and --users exclude each other",
        ));
    }
    if !loopback && !p.tls && !p.insecure {
        return Err(ApiError::forbidden(format!(
            "refusing to listen on {} without TLS: passwords and tokens would cross the network in clear. \
             Pass --tls-cert and --tls-key (or --insecure behind a TLS proxy)",
            p.listen
        )));
    }
    Ok(())
}

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The address.
    pub listen: SocketAddr,
    /// PEM certificate chain and key, for HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Serve `m` until the process is stopped (Ctrl-C or SIGTERM end it cleanly).
/// `ready` is called with the bound address (port 0 picks a free one).
pub async fn serve(
    m: Arc<Manager>,
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let app = crate::router(m).into_make_service_with_connect_info::<SocketAddr>();
    let listener = std::net::TcpListener::bind(opts.listen)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let handle = axum_server::Handle::new();
    let h2 = handle.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        h2.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    ready(addr);
    match opts.tls {
        Some((cert, key)) => {
            let cfg = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .map_err(|e| {
                    std::io::Error::other(format!(
                        "cannot load TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?;
            axum_server::from_tcp_rustls(listener, cfg)
                .handle(handle)
                .serve(app)
                .await
        }
        None => {
            axum_server::from_tcp(listener)
                .handle(handle)
                .serve(app)
                .await
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
