//! A fault-injecting HTTP proxy in front of a real S3 server: what a real
//! network and a busy service do, on demand. It answers 503 Slow Down without
//! forwarding, forwards a request and then drops the connection before the
//! reply (the request applied, the caller cannot know), holds a request back
//! before forwarding it (past the client's timeout, it applies after the
//! caller gave up), and answers listings with an empty page (a listing that
//! lags behind writes).
//!
//! Each client connection carries one request: the proxy reads it (a
//! `Content-Length` or chunked body), sends it to the server on a connection
//! of its own with `Connection: close`, reads the whole reply and passes it
//! back with `Connection: close`. The `Host` header is passed unchanged, so a
//! signature made for the proxy's address reaches the server as signed (the
//! test server does not check signatures).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the proxy does to requests. Counters count from the proxy's start;
/// "every n" is 0 for never. A request meets at most one fault, in the order
/// of the fields.
#[derive(Debug, Default)]
pub struct ProxyFaults {
    /// Of every this many requests of any kind, one gets 503 Slow Down.
    pub slow_down_every: AtomicU64,
    /// Of every this many PUTs of commit records (a path with `/log/`), one
    /// is forwarded and applied, and its connection is dropped before the reply.
    pub lose_reply_every: AtomicU64,
    /// Of every this many PUTs of commit records, one is held back for
    /// `hold_ms` before it is forwarded.
    pub hold_every: AtomicU64,
    /// How long a held request waits, in milliseconds.
    pub hold_ms: AtomicU64,
    /// Every listing comes back empty.
    pub empty_listings: AtomicBool,
    requests: AtomicU64,
    record_puts: AtomicU64,
    /// Requests answered 503.
    pub slowed: AtomicU64,
    /// Replies dropped after the request applied.
    pub lost: AtomicU64,
    /// Requests held back.
    pub held: AtomicU64,
    /// Listings answered empty.
    pub hidden: AtomicU64,
}

impl ProxyFaults {
    /// No faults from now on.
    pub fn calm(&self) {
        for f in [
            &self.slow_down_every,
            &self.lose_reply_every,
            &self.hold_every,
        ] {
            f.store(0, Ordering::SeqCst);
        }
        self.empty_listings.store(false, Ordering::SeqCst);
    }

    /// What was done so far, for messages.
    pub fn summary(&self) -> String {
        format!(
            "proxy: {} requests, {} answered 503, {} replies lost, {} held back, {} listings hidden",
            self.requests.load(Ordering::Relaxed),
            self.slowed.load(Ordering::Relaxed),
            self.lost.load(Ordering::Relaxed),
            self.held.load(Ordering::Relaxed),
            self.hidden.load(Ordering::Relaxed)
        )
    }
}

/// The proxy, serving until dropped.
pub struct S3Proxy {
    addr: SocketAddr,
    faults: Arc<ProxyFaults>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for S3Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Proxy({})", self.addr)
    }
}

/// One request as read from the client.
struct Request {
    method: String,
    target: String,
    head: Vec<u8>,
    body: Vec<u8>,
}

enum Fault {
    None,
    SlowDown,
    LoseReply,
    Hold(Duration),
    EmptyListing,
}

fn every(n: &AtomicU64, count: u64) -> bool {
    let n = n.load(Ordering::SeqCst);
    n > 0 && count.is_multiple_of(n)
}

impl S3Proxy {
    /// A proxy on a free loopback port in front of `upstream` (`http://HOST:PORT`).
    pub fn start(upstream: &str) -> io::Result<S3Proxy> {
        let up = upstream
            .strip_prefix("http://")
            .ok_or_else(|| io::Error::other(format!("{upstream}: only http:// is proxied")))?
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let faults = Arc::new(ProxyFaults::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (faults.clone(), stop.clone());
        std::thread::Builder::new()
            .name("s3-proxy".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (f, up) = (f.clone(), up.clone());
                    std::thread::spawn(move || {
                        if let Err(e) = serve(conn, &up, &f) {
                            eprintln!("s3 proxy: {e}");
                        }
                    });
                }
            })?;
        Ok(S3Proxy { addr, faults, stop })
    }

    /// The proxy's endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The faults it injects (change them at any time).
    pub fn faults(&self) -> &Arc<ProxyFaults> {
        &self.faults
    }
}

impl Drop for S3Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn choose(req: &Request, f: &ProxyFaults) -> Fault {
    let n = f.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if every(&f.slow_down_every, n) {
        return Fault::SlowDown;
    }
    let path = req.target.split('?').next().unwrap_or("");
    if req.method == "PUT" && path.contains("/log/") {
        let m = f.record_puts.fetch_add(1, Ordering::SeqCst) + 1;
        if every(&f.lose_reply_every, m) {
            return Fault::LoseReply;
        }
        if every(&f.hold_every, m) {
            return Fault::Hold(Duration::from_millis(f.hold_ms.load(Ordering::SeqCst)));
        }
    }
    if req.method == "GET"
        && req.target.contains("list-type=2")
        && f.empty_listings.load(Ordering::SeqCst)
    {
        return Fault::EmptyListing;
    }
    Fault::None
}

fn serve(client: TcpStream, upstream: &str, f: &ProxyFaults) -> io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    let mut client = client;
    match choose(&req, f) {
        Fault::SlowDown => {
            f.slowed.fetch_add(1, Ordering::SeqCst);
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                        <Message>Please reduce your request rate.</Message></Error>";
            reply(&mut client, "503 Slow Down", "application/xml", body)
        }
        Fault::EmptyListing => {
            f.hidden.fetch_add(1, Ordering::SeqCst);
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult \
                        xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><KeyCount>0</KeyCount>\
                        <MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>";
            reply(&mut client, "200 OK", "application/xml", body)
        }
        Fault::LoseReply => {
            forward(&req, upstream)?;
            f.lost.fetch_add(1, Ordering::SeqCst);
            client.shutdown(Shutdown::Both)
        }
        Fault::Hold(d) => {
            f.held.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(d);
            let answer = forward(&req, upstream)?;
            // The client may have given up; a failed write is what it chose.
            let _ = client.write_all(&answer);
            Ok(())
        }
        Fault::None => {
            let answer = forward(&req, upstream)?;
            client.write_all(&answer)
        }
    }
}

fn reply(client: &mut TcpStream, status: &str, kind: &str, body: &str) -> io::Result<()> {
    write!(
        client,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Reads one request; `None` if the client closed the connection first.
fn read_request(r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m.to_string(), t.to_string()),
        _ => return Err(io::Error::other(format!("a bad request line {line:?}"))),
    };
    let mut head = line.clone().into_bytes();
    let (mut length, mut chunked) = (0usize, false);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(io::Error::other("the request ended in its headers"));
        }
        if h == "\r\n" {
            break;
        }
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:") {
            continue;
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().map_err(io::Error::other)?;
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        head.extend_from_slice(h.as_bytes());
    }
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    let mut body = Vec::new();
    if chunked {
        // Passed on as it came, chunk framing and all.
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            body.extend_from_slice(size.as_bytes());
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                .map_err(io::Error::other)?;
            if n == 0 {
                loop {
                    let mut t = String::new();
                    r.read_line(&mut t)?;
                    body.extend_from_slice(t.as_bytes());
                    if t == "\r\n" || t.is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0u8; n + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Some(Request {
        method,
        target,
        head,
        body,
    }))
}

/// Sends `req` to the server and returns its whole reply, made `Connection: close`.
fn forward(req: &Request, upstream: &str) -> io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    up.write_all(&req.head)?;
    up.write_all(&req.body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("the server's reply has no end of headers"))?;
    let mut out = Vec::with_capacity(answer.len() + 24);
    for line in answer[..end].split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line).to_ascii_lowercase();
        if text.starts_with("connection:") || text.starts_with("keep-alive:") {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&answer[end + 4..]);
    Ok(out)
}
