//! `sop serve`: the Data Manager (crates/sop-manager) over the --db
//! databases; `sop serve user add`: its users file.

use crate::args::Cli;
use crate::output::{emit, failure, usage};
use anyhow::{anyhow, Context, Result};
use serde_json::json;
use sop_manager::{check_listen, Config, DbSpec, ListenPolicy, Manager, Role, ServeOptions, Users};
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

pub struct Args {
    pub listen: SocketAddr,
    pub users: Option<PathBuf>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub insecure: bool,
    pub no_auth_loopback: bool,
    pub audit_log: Option<PathBuf>,
}

fn api(e: sop_manager::ApiError) -> anyhow::Error {
    failure(e.kind, e.message)
}

pub fn serve(cli: &Cli, a: Args) -> Result<()> {
    let policy = ListenPolicy {
        listen: a.listen,
        users: a.users.is_some(),
        tls: a.tls.is_some(),
        insecure: a.insecure,
        no_auth_loopback: a.no_auth_loopback,
    };
    usage(check_listen(&policy).map_err(|e| anyhow!("{}", e.message)))?;
    let dbs = cli
        .dbs
        .iter()
        .map(|p| DbSpec::parse(&p.to_string_lossy()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(api)?;
    let users = a
        .users
        .as_deref()
        .map(Users::load)
        .transpose()
        .map_err(api)?;
    if users.as_ref().is_some_and(|u| u.users.is_empty()) {
        return Err(failure("usage", "the users file has no users"));
    }
    let mut config = Config::new(dbs, users);
    config.secure_cookies = a.tls.is_some();
    config.audit_log = a.audit_log.clone().or_else(|| {
        a.users
            .as_ref()
            .map(|u| u.with_file_name("sop-audit.jsonl"))
    });
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let m = Manager::open(config.clone()).map_err(api)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let scheme = if a.tls.is_some() { "https" } else { "http" };
    let no_auth = a.users.is_none();
    let json = cli.json;
    let names: Vec<String> = m.databases().iter().map(|d| d.name.clone()).collect();
    let audit = config.audit_log.clone();
    rt.block_on(sop_manager::serve(
        m,
        ServeOptions {
            listen: a.listen,
            tls: a.tls.clone(),
        },
        move |addr| {
            let host = if addr.ip().is_unspecified() {
                "localhost".to_string()
            } else if addr.is_ipv6() {
                format!("[{}]", addr.ip())
            } else {
                addr.ip().to_string()
            };
            let url = format!("{scheme}://{host}:{}/", addr.port());
            if no_auth {
                eprintln!(
                    "WARNING: no users file: everyone on this machine gets the admin role (loopback only)"
                );
            }
            if json {
                println!("{}", json!({"url": url, "databases": names, "audit_log": audit}));
            } else {
                println!("SOP Data Manager serving {} at {url}", names.join(", "));
                println!("open {url} in a browser (Ctrl-C stops)");
            }
            let _ = std::io::stdout().flush();
        },
    ))
    .context("the server failed")?;
    Ok(())
}

/// Read a password: from a prompt without echo on a terminal, else the first
/// line of standard input.
fn read_password() -> Result<String> {
    let stdin = std::io::stdin();
    let tty = stdin.is_terminal();
    #[cfg(unix)]
    let saved = if tty {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
        // SAFETY: termios calls on fd 0 with a zeroed struct filled by tcgetattr.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) == 0 {
                let old = t;
                t.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &t);
                Some(old)
            } else {
                None
            }
        }
    } else {
        None
    };
    let mut line = String::new();
    let r = stdin.lock().read_line(&mut line);
    #[cfg(unix)]
    if let Some(old) = saved {
        // SAFETY: restores the settings read above.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &old);
        }
        eprintln!();
    }
    r.context("cannot read the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        return Err(failure(
            "usage",
            "no password on standard input (e.g. `printf '%s\\n' \"$PW\" | sop serve user add …`)",
        ));
    }
    Ok(pw)
}

pub fn user_add(cli: &Cli, name: &str, role: &str, users: &PathBuf) -> Result<()> {
    let role = Role::parse(role).ok_or_else(|| failure("usage", "bad role"))?;
    let pw = read_password()?;
    Users::add_user(users, name, role, &pw).map_err(|e| {
        if e.status.is_client_error() {
            failure("usage", e.message)
        } else {
            failure(e.kind, e.message)
        }
    })?;
    emit(
        cli.json,
        format!(
            "user {name} ({}) saved in {}",
            role.as_str(),
            users.display()
        ),
        json!({"user": name, "role": role.as_str(), "users": users}),
    );
    Ok(())
}
