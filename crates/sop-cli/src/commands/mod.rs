//! The commands, one file per area; `run` sends the parsed command line to its
//! command.

mod blob;
mod import_export;
mod init;
pub mod items;
mod job;
mod maintenance;
mod script;
mod search;
mod serve;
mod store;
mod swarm_common;
mod worker;

use crate::args::{BlobCmd, Cli, Cmd};
use anyhow::Result;

/// Run the command `cli` names.
pub fn run(cli: &Cli) -> Result<()> {
    match &cli.cmd {
        Cmd::Init {
            force,
            redis,
            cassandra,
            keyspace,
            replication,
            local_dc,
            leases,
            s3,
            endpoint,
            region,
        } => {
            let registry = match s3 {
                Some(url) => init::bucket(url, endpoint.as_deref(), region.as_deref())?,
                None => init::registry(
                    cassandra.as_deref(),
                    keyspace.as_deref(),
                    replication.as_deref(),
                    *local_dc,
                    *leases,
                )?,
            };
            init::init(cli, *force, redis.as_deref(), registry)
        }
        Cmd::Store { cmd } => store::run(cli, cmd),
        Cmd::Put { store, key, value } => items::put(cli, store, key, value),
        Cmd::Get { store, key } => items::get(cli, store, key),
        Cmd::Del { store, key } => items::del(cli, store, key),
        Cmd::Scan {
            store,
            from,
            to,
            desc,
            limit,
        } => items::scan(cli, store, from.as_deref(), to.as_deref(), *desc, *limit),
        Cmd::Import {
            store,
            file,
            batch,
            verbose,
        } => import_export::import(cli, store, file, *batch, *verbose),
        Cmd::Export { store, file } => import_export::export(cli, store, file.as_deref()),
        Cmd::Blob {
            cmd: BlobCmd::Put { store, key, file },
        } => blob::put(cli, store, key, file),
        Cmd::Blob {
            cmd:
                BlobCmd::Get {
                    store,
                    key,
                    file,
                    range,
                },
        } => blob::get(cli, store, key, file.as_deref(), *range),
        Cmd::Stats => maintenance::stats(cli),
        Cmd::Check => maintenance::check(cli),
        Cmd::Recover => maintenance::recover(cli),
        Cmd::Reclaim => maintenance::reclaim(cli),
        Cmd::Pack { dest } => maintenance::pack(cli, dest),
        Cmd::Compact { min_dead } => maintenance::compact(cli, *min_dead),
        Cmd::Quickstart => init::quickstart(cli),
        Cmd::Serve {
            cmd,
            listen,
            users,
            tls_cert,
            tls_key,
            insecure,
            no_auth_loopback,
            audit_log,
        } => match cmd {
            Some(crate::args::ServeCmd::User {
                cmd: crate::args::UserCmd::Add { name, role, users },
            }) => serve::user_add(cli, name, role, users),
            None => serve::serve(
                cli,
                serve::Args {
                    listen: *listen,
                    users: users.clone(),
                    tls: tls_cert.clone().zip(tls_key.clone()),
                    insecure: *insecure,
                    no_auth_loopback: *no_auth_loopback,
                    audit_log: audit_log.clone(),
                },
            ),
        },
        Cmd::Index { cmd } => search::run(cli, cmd),
        Cmd::Search {
            store,
            query,
            k,
            all,
            index,
            vector,
            filter,
            nprobe,
        } => search::search(
            cli,
            search::SearchArgs {
                store,
                query,
                k: *k,
                all: *all,
                index: index.as_deref(),
                vector: vector.as_deref(),
                filter: filter.as_deref(),
                nprobe: *nprobe,
            },
        ),
        Cmd::Vector { cmd } => search::vector(cli, cmd),
        Cmd::Script { cmd } => script::run(cli, cmd),
        Cmd::Job { cmd } => job::run(cli, cmd),
        Cmd::Worker {
            concurrency,
            queues,
            lease,
            grace,
            backoff,
            exit_when_empty,
            limits,
        } => worker::run(
            cli,
            worker::Args {
                concurrency: *concurrency,
                queues,
                lease: *lease,
                grace: *grace,
                backoff: *backoff,
                exit_when_empty: *exit_when_empty,
                limits: limits.clone(),
            },
        ),
    }
}
