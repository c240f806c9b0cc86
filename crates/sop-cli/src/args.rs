//! The command line: clap's types for every command and flag, and the parsing of
//! the argument values that clap hands over as text (JSON keys and values, index
//! specs).

use anyhow::{anyhow, bail, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;
use sop::parse_json;
use sop::ValuePlacement;
use sop::DEFAULT_SLOT_LENGTH;
use sop::{IndexField, IndexSpec, SortOrder};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "sop",
    version,
    about = "SOP: an embedded ACID ordered key-value engine — command-line tool"
)]
pub struct Cli {
    /// Database folder, or a database in a bucket by its URL, s3://BUCKET/PREFIX
    /// (endpoint from AWS_ENDPOINT_URL, credentials from AWS_* variables; this
    /// host's state of it under SOP_STATE_DIR, else ~/.local/state/sop).
    /// (`sop serve` takes it several times, each `PATH` or `NAME=PATH`.)
    #[arg(
        id = "db",
        long = "db",
        global = true,
        help_heading = "Global options",
        default_value = "./sop-data",
        value_name = "PATH|URL",
        action = clap::ArgAction::Append
    )]
    pub dbs: Vec<PathBuf>,
    /// The database of every command but `serve`: the one `--db`.
    #[arg(skip)]
    pub db: PathBuf,
    /// Print JSON instead of human-readable text (errors too, on stderr:
    /// {"error": kind, "message": …}).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,
    /// Open the folder for this command alone (DbOptions::exclusive): commits go
    /// through the journal, about twice as fast; fails if another process has it
    /// open (Standalone databases only).
    #[arg(long, global = true, help_heading = "Global options")]
    pub exclusive: bool,
    /// For a database in a bucket: keep what reads fetch (node images, values,
    /// chunks of streamed values) in this local folder, across runs, within
    /// --cache-size (DbOptions::object_cache_dir).
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "DIR"
    )]
    pub cache_dir: Option<PathBuf>,
    /// The bound on --cache-dir, in MiB.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "MIB",
        default_value_t = 1024
    )]
    pub cache_size: u64,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Create a database (Standalone, or Clustered with --redis).
    ///
    /// Refuses a folder that holds other files, unless --force.
    Init {
        /// Make the database even if the folder holds other files (they stay).
        #[arg(long)]
        force: bool,
        /// Coordinate through Redis at this URL (redis://host:port): Clustered mode,
        /// saved in sop.json, so every tool opens the folder the same way.
        #[arg(long, value_name = "URL")]
        redis: Option<String>,
        /// Keep the registry and the commit point on Apache Cassandra at these
        /// contact points (HOST:PORT, comma separated); the folder keeps the
        /// record files and blobs. Saved in sop.json. Needs --keyspace.
        #[arg(long, value_name = "HOST:PORT[,...]", requires = "keyspace")]
        cassandra: Option<String>,
        /// The Cassandra keyspace (created if missing).
        #[arg(long, value_name = "NAME", requires = "cassandra")]
        keyspace: Option<String>,
        /// The keyspace's replication when it is created, as JSON, e.g.
        /// '{"class":"NetworkTopologyStrategy","dc1":3}' (default: SimpleStrategy, 1).
        #[arg(long, value_name = "JSON", requires = "cassandra")]
        replication: Option<String>,
        /// Claim at LOCAL_SERIAL and read at LOCAL_QUORUM (every writer in one
        /// datacenter) instead of SERIAL and QUORUM.
        #[arg(long, requires = "cassandra")]
        local_dc: bool,
        /// Judge processes by lease rows in the keyspace instead of the folder's
        /// OS locks: for a folder on a network volume whose locks other hosts
        /// cannot see (NFS without working locks, a shared mount).
        #[arg(long, requires = "cassandra")]
        leases: bool,
        /// Keep the whole database in an S3-compatible bucket (s3://BUCKET/PREFIX):
        /// records, checkpoints and big values are objects there, and the folder
        /// keeps sop.json and this host's process files. Credentials come from the
        /// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...), never from
        /// sop.json.
        #[arg(long, value_name = "s3://BUCKET/PREFIX", conflicts_with = "cassandra")]
        s3: Option<String>,
        /// The S3 server, for a store other than AWS (e.g. http://127.0.0.1:9000).
        #[arg(long, value_name = "URL", requires = "s3")]
        endpoint: Option<String>,
        /// The bucket's region (default: AWS_REGION, else us-east-1).
        #[arg(long, value_name = "REGION", requires = "s3")]
        region: Option<String>,
    },
    /// Create, list, describe and drop stores.
    Store {
        #[command(subcommand)]
        cmd: StoreCmd,
    },
    /// Write an item (KEY and VALUE are JSON).
    ///
    /// Replaces the value of an equal key in a unique store; adds another item in
    /// a store that allows duplicates.
    Put {
        /// Name of the store.
        store: String,
        /// The key, JSON: a primitive (1, "a") or, in a store with --key-spec, an object.
        #[arg(allow_negative_numbers = true)]
        key: String,
        /// The value, any JSON document.
        #[arg(allow_negative_numbers = true)]
        value: String,
    },
    /// Print the value of the (first) item with KEY (JSON); exit 1 if there is none.
    Get {
        /// Name of the store.
        store: String,
        /// The key, JSON.
        #[arg(allow_negative_numbers = true)]
        key: String,
    },
    /// Delete the (first) item with KEY (JSON); exit 1 if there is none.
    Del {
        /// Name of the store.
        store: String,
        /// The key, JSON.
        #[arg(allow_negative_numbers = true)]
        key: String,
    },
    /// Print items as JSON lines {"key":…,"value":…}, ascending or descending.
    Scan {
        /// Name of the store.
        store: String,
        /// Lowest key (inclusive), JSON.
        #[arg(long, value_name = "KEY", allow_negative_numbers = true)]
        from: Option<String>,
        /// Highest key (inclusive), JSON.
        #[arg(long, value_name = "KEY", allow_negative_numbers = true)]
        to: Option<String>,
        /// Descending order (from --to down to --from).
        #[arg(long)]
        desc: bool,
        /// At most this many items.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        limit: Option<u64>,
    },
    /// Load JSON lines {"key":…,"value":…} from FILE (- for stdin).
    ///
    /// Commits every --batch items. A bad line stops the import with its line
    /// number; the batches committed before it stay. Equal keys replace each other
    /// in a unique store and are added as duplicates otherwise.
    Import {
        /// Name of the store.
        store: String,
        /// The file of JSON lines, or - for standard input.
        file: PathBuf,
        /// Items per transaction.
        #[arg(long, default_value_t = 10_000, value_name = "N", allow_negative_numbers = true, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Print a line on stdout for every committed batch.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Write every item as JSON lines (the format `import` reads) to FILE or stdout.
    Export {
        /// Name of the store.
        store: String,
        /// Write to this file (default: standard output).
        file: Option<PathBuf>,
    },
    /// Write and read big values as streams, in byte stores with big values
    /// (`sop store create NAME --bytes --values big`).
    Blob {
        #[command(subcommand)]
        cmd: BlobCmd,
    },
    /// Stores, item counts, node counts and bytes on disk.
    Stats,
    /// Verify checksums, the registry, the B-trees and the blobs; exit 3 on any fault.
    Check,
    /// Run recovery now (roll back what crashed processes left) and report it.
    Recover,
    /// Reclaim space: retire commit records nothing current points into.
    Reclaim,
    /// Compact: move live data out of mostly-dead commit records, then reclaim.
    Compact {
        /// Move out of a record when at least this share of it is dead (0 to 1).
        #[arg(long, value_name = "FRACTION", default_value_t = sop::CompactOptions::default().min_dead_fraction,
              allow_negative_numbers = true, value_parser = fraction)]
        min_dead: f64,
    },
    /// Write a compact copy of the database as of its newest commit into DEST
    /// (for read-only media or shipping: live data only, one checkpoint, no
    /// journal); open it anywhere, read-only where it cannot be written.
    Pack {
        /// A folder that holds no database yet (created if missing).
        dest: PathBuf,
    },
    /// Create a small demo database in the --db folder, write, read and scan it.
    Quickstart,
    /// Search indexes over JSON stores: `index text ...` (BM25) and `index vector ...`.
    Index {
        #[command(subcommand)]
        cmd: IndexCmd,
    },
    /// Search STORE's text index (made by `sop index text create STORE`): the best
    /// hits with score, key and item. With --vector, a hybrid search: the text
    /// hits and STORE's vector index hits fused by reciprocal rank.
    Search {
        /// The JSON store (its index is named after it unless --index).
        store: String,
        /// The query: words (any of them), +must, -not, "a phrase", prefix*,
        /// field:word, word^2 (boost).
        query: String,
        /// How many hits.
        #[arg(long, short = 'k', default_value_t = 10)]
        k: usize,
        /// Every plain word must match (AND) instead of any (OR).
        #[arg(long)]
        all: bool,
        /// The text index's name, if not the store's.
        #[arg(long, value_name = "NAME")]
        index: Option<String>,
        /// Hybrid: also the nearest vectors to this one (a JSON array of numbers)
        /// in STORE's vector index.
        #[arg(long, value_name = "JSON")]
        vector: Option<String>,
        /// Hybrid: keep hits whose payload passes, e.g. '{"lang":"en"}' (see `sop vector search`).
        #[arg(long, value_name = "JSON", requires = "vector")]
        filter: Option<String>,
        /// Hybrid: lists of the vector index probed.
        #[arg(long, default_value_t = 8, requires = "vector")]
        nprobe: usize,
    },
    /// Vector search: `sop vector search STORE --vector JSON`.
    Vector {
        #[command(subcommand)]
        cmd: VectorCmd,
    },
    /// Serve the Data Manager: a web page and a REST API over the --db databases
    /// (several --db, each PATH or NAME=PATH). Prints the URL to open.
    ///
    /// Needs --users FILE (make it with `sop serve user add`), or
    /// --no-auth-loopback to let everyone on this machine in as admin. A
    /// non-loopback --listen needs users, and TLS unless --insecure.
    #[command(args_conflicts_with_subcommands = true)]
    Serve {
        #[command(subcommand)]
        cmd: Option<ServeCmd>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The users file (argon2id hashes), from `sop serve user add`.
        #[arg(long, value_name = "FILE")]
        users: Option<PathBuf>,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Allow plain HTTP on a non-loopback address (behind a TLS proxy). Never
        /// allows serving without users.
        #[arg(long)]
        insecure: bool,
        /// Serve without users on a loopback address: every program and person on
        /// this machine gets the admin role.
        #[arg(long, conflicts_with = "users")]
        no_auth_loopback: bool,
        /// Append the audit log (a JSON line per write: who, when, what) to FILE
        /// (default: sop-audit.jsonl beside the users file; without users, the log only).
        #[arg(long, value_name = "FILE")]
        audit_log: Option<PathBuf>,
    },
    /// Lua scripts stored in the database (versioned), and running one here.
    Script {
        #[command(subcommand)]
        cmd: ScriptCmd,
    },
    /// Jobs: release a task into the swarm, follow it, cancel it.
    Job {
        #[command(subcommand)]
        cmd: JobCmd,
    },
    /// Run jobs until stopped: SIGTERM (or Ctrl-C) lets running jobs finish
    /// (up to --grace) and exits; each job is logged on stderr with its duration.
    Worker {
        /// Jobs run at once.
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
        concurrency: u64,
        /// Take jobs from these queues (comma separated).
        #[arg(
            long,
            value_name = "Q,...",
            value_delimiter = ',',
            default_value = "default"
        )]
        queues: Vec<String>,
        /// The lease of a claimed job, in seconds: another worker may take the
        /// job over when it passes (keep it above --max-seconds).
        #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = positive_secs)]
        lease: f64,
        /// After SIGTERM, how long running jobs may take to finish, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_secs)]
        grace: f64,
        /// The first retry of a failed job waits this long (seconds); each
        /// further retry twice as long, up to 300 s.
        #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = positive_secs)]
        backoff: f64,
        /// Exit once no job can still run (the queue is empty).
        #[arg(long)]
        exit_when_empty: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

/// The limits of a script run, and the folders scripts may reach.
#[derive(clap::Args, Clone)]
pub struct LimitArgs {
    /// Stop a run after this many Lua instructions.
    #[arg(long, value_name = "N", default_value_t = sop_swarm::Limits::default().instructions)]
    pub max_instructions: u64,
    /// Stop a run that allocates more than this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = (sop_swarm::Limits::default().memory >> 20) as u64)]
    pub max_memory_mib: u64,
    /// Stop a run after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = sop_swarm::Limits::default().time.as_secs_f64(), value_parser = positive_secs)]
    pub max_seconds: f64,
    /// Let scripts whose manifest asks for it read (read=DIR) or also write
    /// (write=DIR) files under DIR; repeat for more folders. Without it no
    /// script reaches any file.
    #[arg(long = "allow", value_name = "read=DIR|write=DIR")]
    pub allow: Vec<String>,
}

impl LimitArgs {
    /// The swarm's options: these limits and grants.
    pub fn options(&self) -> Result<sop_swarm::SwarmOptions, sop_swarm::SwarmError> {
        let allow = self
            .allow
            .iter()
            .map(|a| sop_swarm::Grant::parse(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(sop_swarm::SwarmOptions {
            limits: self.limits(),
            allow: sop_swarm::Grants(allow),
            ..sop_swarm::SwarmOptions::default()
        })
    }

    /// As the swarm's limits.
    pub fn limits(&self) -> sop_swarm::Limits {
        sop_swarm::Limits {
            instructions: self.max_instructions,
            memory: (self.max_memory_mib as usize) << 20,
            time: std::time::Duration::from_secs_f64(self.max_seconds),
        }
    }
}

/// A number of seconds above 0.
fn positive_secs(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(f),
        _ => Err(format!("{text:?} is not a number of seconds above 0")),
    }
}

#[derive(Subcommand)]
pub enum IndexCmd {
    /// BM25 text indexes over a JSON store: create, build, stats, drop.
    Text {
        #[command(subcommand)]
        cmd: TextIndexCmd,
    },
    /// Vector indexes (IVF) over a JSON store or JSON lines: create, load, build, stats, drop.
    Vector {
        #[command(subcommand)]
        cmd: VectorIndexCmd,
    },
}

#[derive(Subcommand)]
pub enum TextIndexCmd {
    /// Create the text index of JSON store STORE (unique keys) over the fields
    /// given (members, or JSON pointers such as /meta/title), and index every item.
    Create {
        /// The JSON store.
        store: String,
        /// A field to index (repeat it, or separate fields with commas).
        #[arg(long = "field", value_delimiter = ',', required = true)]
        fields: Vec<String>,
        /// Stem English words (so "indexes" finds "index").
        #[arg(long)]
        stem: bool,
        /// Drop common English words (the, of, and, ...).
        #[arg(long)]
        stop_words: bool,
        /// The index's name (default: the store's).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Only create it: index nothing yet (`sop index text build` later).
        #[arg(long)]
        empty: bool,
    },
    /// Index (again) every item of STORE, each under its key (after the store
    /// changed through other tools: what each key had indexed is replaced).
    Build {
        /// The JSON store.
        store: String,
        /// The index's name (default: the store's).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Items per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Documents and fields of STORE's text index.
    Stats {
        /// The JSON store whose index it is.
        store: String,
        /// The index's name (default: the store's).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Drop STORE's text index (its stores; the data stays).
    Drop {
        /// The JSON store whose index it is.
        store: String,
        /// The index's name (default: the store's).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum VectorIndexCmd {
    /// Create the vector index of STORE; with --field, load each item's vector
    /// from that field of JSON store STORE (the rest of the item is its payload)
    /// and cluster them.
    Create {
        /// The JSON store (or, without --field, just the index's name).
        store: String,
        /// Dimensions.
        #[arg(long)]
        dim: usize,
        /// cosine, dot or l2.
        #[arg(long, default_value = "cosine", value_parser = parse_metric)]
        metric: sop_search::Metric,
        /// The member (or /JSON/pointer) of each item holding its vector.
        #[arg(long, value_name = "FIELD")]
        field: Option<String>,
        /// Also keep 8-bit codes of the vectors (trained when clustering) and
        /// search those, re-ranking the best by the exact vectors.
        #[arg(long)]
        quantize: bool,
    },
    /// Load vectors from STORE's items again (`--field`) or from JSON lines
    /// (`--file F`, `-` for standard input: one `{"id":..,"vector":[..],"payload":{..}}`
    /// a line), upserting each under its id; then cluster (see `build`).
    Load {
        /// The store whose vector index to load.
        store: String,
        /// The member (or /JSON/pointer) of each of STORE's items holding its vector.
        #[arg(
            long,
            value_name = "FIELD",
            conflicts_with = "file",
            required_unless_present = "file"
        )]
        field: Option<String>,
        /// JSON lines to load instead (`-`: standard input).
        #[arg(long, value_name = "PATH")]
        file: Option<std::path::PathBuf>,
        /// Items per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Do not cluster afterwards.
        #[arg(long)]
        no_build: bool,
    },
    /// Cluster the vectors again (k-means): after many upserts have drifted.
    Build {
        /// The store whose vector index to cluster.
        store: String,
        /// Lists (default: the square root of the number of vectors).
        #[arg(long)]
        nlist: Option<usize>,
        /// k-means rounds.
        #[arg(long, default_value_t = 10)]
        iters: usize,
    },
    /// Vectors, lists and settings of STORE's vector index.
    Stats {
        /// The store whose vector index it is.
        store: String,
    },
    /// Drop STORE's vector index (its stores; the data stays).
    Drop {
        /// The store whose vector index it is.
        store: String,
    },
}

#[derive(Subcommand)]
pub enum VectorCmd {
    /// The nearest vectors to --vector in STORE's vector index, with payloads.
    Search {
        /// The store whose vector index to search (`sop index vector create`).
        store: String,
        /// The query vector: a JSON array of numbers.
        #[arg(long, value_name = "JSON")]
        vector: String,
        /// How many hits.
        #[arg(long, short = 'k', default_value_t = 10)]
        k: usize,
        /// Keep payloads that pass: a JSON object of field: value (equal) or
        /// field: {"$in":[..]} / {"$ne":v} / {"$gt"|"$gte"|"$lt"|"$lte": v} /
        /// {"$exists": bool}; a field starting with / is a JSON pointer.
        #[arg(long, value_name = "JSON")]
        filter: Option<String>,
        /// Lists probed (more: better recall, slower).
        #[arg(long, default_value_t = 8)]
        nprobe: usize,
    },
}

fn parse_metric(text: &str) -> Result<sop_search::Metric, String> {
    match text.to_ascii_lowercase().as_str() {
        "cosine" => Ok(sop_search::Metric::Cosine),
        "dot" => Ok(sop_search::Metric::Dot),
        "l2" => Ok(sop_search::Metric::L2),
        _ => Err(format!("{text:?}: cosine, dot or l2")),
    }
}

#[derive(Subcommand)]
pub enum ScriptCmd {
    /// Save FILE as the next version of script NAME (older versions are kept).
    Put {
        /// The script's name.
        name: String,
        /// The Lua source file, or - for standard input.
        file: PathBuf,
    },
    /// List the scripts: name, newest version, versions kept.
    List,
    /// Print a script's source (its newest version, or --version N).
    Show {
        /// The script's name.
        name: String,
        /// This version.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },
    /// Run a script here and print its result (JSON): one transaction, or one
    /// per step if it calls sop.checkpoint.
    Run {
        /// The script's name.
        name: String,
        /// Its argument, JSON.
        #[arg(
            long,
            value_name = "JSON",
            default_value = "null",
            allow_negative_numbers = true
        )]
        args: String,
        /// This version (default: the newest).
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Delete a script (every version, or --version N).
    Delete {
        /// The script's name.
        name: String,
        /// Only this version.
        #[arg(long, value_name = "N")]
        version: Option<u64>,
    },
}

#[derive(Subcommand)]
pub enum JobCmd {
    /// Submit a job that runs SCRIPT with --args; prints its id.
    Submit {
        /// The script the job runs.
        script: String,
        /// Its argument, JSON.
        #[arg(
            long,
            value_name = "JSON",
            default_value = "null",
            allow_negative_numbers = true
        )]
        args: String,
        /// Idempotency key: submitting again with the same key gives the same job.
        #[arg(long, value_name = "K")]
        key: Option<String>,
        /// Higher runs first.
        #[arg(
            long,
            value_name = "P",
            default_value_t = 0,
            allow_negative_numbers = true
        )]
        priority: i64,
        /// Not before T: Unix seconds, or from now: +30s, +5m, +2h, +500ms.
        #[arg(long, value_name = "T", value_parser = not_before)]
        not_before: Option<u64>,
        /// Attempts before the job is dead-lettered.
        #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
        max_attempts: u32,
        /// The queue.
        #[arg(long, value_name = "Q", default_value = "default")]
        queue: String,
        /// Run only after these jobs are done (ids, comma separated).
        #[arg(long, value_name = "ID,...", value_delimiter = ',')]
        after: Vec<String>,
    },
    /// A job's state, attempts and errors.
    Status {
        /// The job id.
        id: String,
    },
    /// List jobs, oldest first.
    List {
        /// Only jobs in this state.
        #[arg(long, value_enum)]
        state: Option<JobStateArg>,
        /// Only jobs of this queue.
        #[arg(long, value_name = "Q")]
        queue: Option<String>,
        /// At most this many.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Print a done job's result (JSON); exit 1 if it is not done.
    Result {
        /// The job id.
        id: String,
    },
    /// Cancel a job that has not finished.
    Cancel {
        /// The job id.
        id: String,
    },
}

/// A job state, as `--state` spells it.
#[derive(Clone, Copy, ValueEnum)]
pub enum JobStateArg {
    Queued,
    Running,
    Done,
    Failed,
    Dead,
    Cancelled,
}

impl From<JobStateArg> for sop_swarm::JobState {
    fn from(s: JobStateArg) -> Self {
        use sop_swarm::JobState as S;
        match s {
            JobStateArg::Queued => S::Queued,
            JobStateArg::Running => S::Running,
            JobStateArg::Done => S::Done,
            JobStateArg::Failed => S::Failed,
            JobStateArg::Dead => S::Dead,
            JobStateArg::Cancelled => S::Cancelled,
        }
    }
}

/// `--not-before`: Unix seconds, or +N{ms,s,m,h} from now; as Unix ms.
fn not_before(text: &str) -> Result<u64, String> {
    let bad = || format!("invalid time {text:?}: Unix seconds, or +30s, +5m, +2h, +500ms");
    let now = sop_swarm::time::now_ms();
    if let Some(rel) = text.strip_prefix('+') {
        let split = rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len());
        let (n, unit) = rel.split_at(split);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let ms = match unit {
            "ms" => n,
            "" | "s" => n * 1000,
            "m" => n * 60_000,
            "h" => n * 3_600_000,
            _ => return Err(bad()),
        };
        return Ok(now + ms);
    }
    let secs: f64 = text.parse().map_err(|_| bad())?;
    if !(secs >= 0.0 && secs.is_finite()) {
        return Err(bad());
    }
    Ok((secs * 1000.0) as u64)
}

#[derive(Subcommand)]
pub enum BlobCmd {
    /// Write the value of KEY from FILE (- for standard input), in chunks,
    /// without holding it in memory.
    ///
    /// Replaces the value of an equal key (in a store that allows duplicates,
    /// the first one's); the value is durable when the command returns.
    Put {
        /// Name of the store: a byte store with big values.
        store: String,
        /// The key: the argument's bytes (UTF-8 text, as typed).
        key: String,
        /// The file to read, or - for standard input.
        file: PathBuf,
    },
    /// Write the value of KEY (or a byte range of it) to FILE, or to standard
    /// output (no FILE, or -); exit 1 if there is no item with KEY.
    Get {
        /// Name of the store.
        store: String,
        /// The key: the argument's bytes (UTF-8 text, as typed).
        key: String,
        /// The file to write (created or truncated), or - for standard output.
        file: Option<PathBuf>,
        /// Only bytes A to B, both included (as HTTP ranges count them; the
        /// first byte is 0), or from A to the end with `A-`.
        #[arg(long, value_name = "A-B", value_parser = parse_range)]
        range: Option<ByteRange>,
    },
}

/// A byte range as typed after `--range`: `A-B` (both included) or `A-`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte.
    pub first: u64,
    /// The last byte (included); `None`: to the end of the value.
    pub last: Option<u64>,
}

/// The value of `--range`.
fn parse_range(text: &str) -> Result<ByteRange, String> {
    let bad = || {
        format!("invalid range {text:?}: expected A-B (bytes A to B, both included) or A- (from A to the end)")
    };
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let num = |t: &str| -> Result<u64, String> {
        if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse().map_err(|_| bad())
    };
    let first = num(a)?;
    let last = if b.is_empty() { None } else { Some(num(b)?) };
    if last.is_some_and(|l| l < first) {
        return Err(format!(
            "invalid range {text:?}: its end is before its start"
        ));
    }
    Ok(ByteRange { first, last })
}

#[derive(Subcommand)]
pub enum ServeCmd {
    /// Users of the Data Manager.
    User {
        #[command(subcommand)]
        cmd: UserCmd,
    },
}

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user (or replace its password and role); the password is read from
    /// standard input (a prompt without echo on a terminal), never from the
    /// command line.
    Add {
        /// The user name.
        name: String,
        /// admin (everything), writer (items) or reader (read only).
        #[arg(long, value_parser = ["admin", "writer", "reader"])]
        role: String,
        /// The users file (created if missing, mode 0600).
        #[arg(long, value_name = "FILE")]
        users: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum StoreCmd {
    /// Create a JSON store (or, with --bytes, a byte store).
    Create {
        /// Name of the new store (1 to 255 bytes).
        name: String,
        /// Items per node (4..=20000).
        #[arg(long, value_name = "N", default_value_t = DEFAULT_SLOT_LENGTH as u64, allow_negative_numbers = true)]
        slot_length: u64,
        /// Refuse a second item with an equal key (default: duplicates allowed).
        #[arg(long)]
        unique: bool,
        /// Order object keys by these fields: JSON `[{"field":"last","order":"asc"},…]`
        /// or the short form `last,age:desc`. Without it keys are primitives.
        #[arg(long, value_name = "SPEC")]
        key_spec: Option<String>,
        /// Where values live.
        #[arg(long, value_enum, default_value_t = Values::Auto)]
        values: Values,
        /// A free-text description saved with the store.
        #[arg(long, default_value = "")]
        description: String,
        /// A byte store instead of a JSON store: keys and values are bytes
        /// (key type raw-bytes, as the bindings' byte stores). With --values
        /// big it holds values written with `sop blob put`.
        #[arg(long, conflicts_with = "key_spec")]
        bytes: bool,
    },
    /// List the stores.
    List,
    /// Show a store's saved info and figures.
    Info {
        /// Name of the store.
        name: String,
    },
    /// Drop a store and everything in it.
    Drop {
        /// Name of the store.
        name: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Values {
    /// Up to 256 bytes in the leaf, larger values separate.
    Auto,
    /// Inside the leaf node (small values).
    Inline,
    /// In a separate blob written with the commit.
    Separate,
    /// In a file of its own, written at the moment of the add (big values).
    Big,
}

impl From<Values> for ValuePlacement {
    fn from(v: Values) -> Self {
        match v {
            Values::Auto => ValuePlacement::Auto,
            Values::Inline => ValuePlacement::Inline,
            Values::Separate => ValuePlacement::Separate,
            Values::Big => ValuePlacement::Big,
        }
    }
}

/// The value of `--min-dead`: a number from 0 to 1.
fn fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        Ok(_) => Err(format!(
            "min_dead_fraction must be between 0 and 1, not {text}"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// What to do when clap could not parse the command line: print the help or
/// version it asked for, or the error (as JSON when `--json` is among the
/// arguments) and exit 2.
pub fn parse_failed(e: clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind as K;
    let asked = matches!(e.kind(), K::DisplayHelp | K::DisplayVersion);
    if asked || !std::env::args_os().skip(1).any(|a| a == "--json") {
        e.exit();
    }
    // The error's lines, before clap's usage and "try --help" lines, as one.
    let text = e.render().to_string();
    let message = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    crate::output::print_error(true, "usage", message);
    std::process::ExitCode::from(crate::output::EXIT_USAGE)
}

/// Parse a JSON argument, naming it in the error (a usage error).
pub fn json_arg(what: &str, text: &str) -> Result<Value> {
    crate::output::usage(parse_json(text).map_err(|e| {
        let t = text.trim_start();
        let hint = if !t.is_empty()
            && !t.starts_with(['{', '[', '"', '-'])
            && !t.starts_with(|c: char| c.is_ascii_digit())
            && !["true", "false", "null"].iter().any(|w| t.starts_with(w))
        {
            format!(
                " (a JSON string needs quotes, e.g. '\"{}\"')",
                t.chars().take(20).collect::<String>()
            )
        } else {
            String::new()
        };
        anyhow!("{what}: {e}{hint}")
    }))
}

/// An index spec: its JSON form, or the short form `field[:asc|:desc],…` (field
/// names without spaces, quotes, brackets or braces; other names need the JSON form).
pub fn parse_spec(text: &str) -> Result<IndexSpec> {
    let t = text.trim();
    if t.starts_with(['[', '{', '"']) {
        return Ok(IndexSpec::parse(t)?);
    }
    let mut fields = Vec::new();
    for part in t.split(',') {
        let (field, order) = match part.rsplit_once(':') {
            Some((f, "asc")) => (f, SortOrder::Asc),
            Some((f, "desc")) => (f, SortOrder::Desc),
            Some((_, o)) => {
                bail!("invalid index spec {text:?}: order {o:?} is neither asc nor desc")
            }
            None => (part, SortOrder::Asc),
        };
        let field = field.trim();
        if field.contains(|c: char| c.is_whitespace() || "[]{}\"".contains(c)) {
            bail!("invalid index spec {text:?}: field {field:?} needs the JSON form [{{\"field\":…,\"order\":…}}]");
        }
        fields.push(IndexField {
            field: field.to_string(),
            order,
        });
    }
    let spec = IndexSpec { fields };
    spec.validate().map_err(|e| anyhow!("{e} (in {text:?})"))?;
    Ok(spec)
}
