//! hyper-target: truncheck's real-world target. An HTTP/1 origin on hyper 0.14 (Debian's
//! 0.14.19) that serves large deterministic bodies the way an image origin does, so that hyper
//! issue #4022 (silent truncation: response still in hyper's buffer when it shuts the socket
//! down) can be reproduced for real, and shown gone in a build with the fix.
//!
//! ```text
//!  client ──TCP / Unix──> accept loop ──> hyper::server::conn::Connection (one per socket)
//!                                              │ service: routes (GET/POST /bytes/{n}, /accounts/{id})
//!                                              │ response body: OutBody, counts what hyper pulls
//!                                              ▼
//!                        connection future ends Ok / Err ──> accounts (memory + JSONL file)
//!  SIGTERM ──> stop accepting, graceful_shutdown() on every connection, wait (bounded), exit
//! ```
//!
//! See README.md next to Cargo.toml for the CLI and HTTP API.

mod accounts;
mod body;

use accounts::{rfc3339, Account, Shared, Store};
use futures_util::future::{select, Either};
use hyper::body::{Bytes, HttpBody, SizeHint};
use hyper::server::conn::Http;
use hyper::service::service_fn;
use hyper::{Body, HeaderMap, Method, Request, Response, StatusCode};
use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, UnixListener};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, watch};

/// FLAVOR tells which hyper this binary was built against: build.sh sets it to "fixed" for the
/// build that patches hyper with fix-4022.patch.
const FLAVOR: &str = match option_env!("HYPER_TARGET_FLAVOR") {
    Some(f) => f,
    None => "stock",
};

const USAGE: &str = "\
usage: hyper-target [--tcp ADDR]... [--unix PATH]... [--accounts FILE] [--early-answer]
                    [--no-keep-alive] [--reuse-port] [--drain-timeout DUR] [--max-size SIZE] [--cache SIZE]
  --tcp ADDR           listen on a loopback TCP address, e.g. 127.0.0.1:0 (env HYPER_TARGET_TCP)
  --unix PATH          listen on a Unix socket; a stale socket there is replaced (env HYPER_TARGET_UNIX)
  --accounts FILE      append each request's account to FILE (JSONL) when its connection ends and
                       load it at start, so a restarted process answers for the previous one
                       (env HYPER_TARGET_ACCOUNTS)
  --early-answer       answer every upload (POST/PUT) without reading its body
                       (env HYPER_TARGET_EARLY_ANSWER=1; per request: ?early=1 or X-Early-Answer: 1)
  --no-keep-alive      hyper's http1_keep_alive(false): every response is its connection's last
  --reuse-port         SO_REUSEPORT on TCP listeners: a restarted process (started with it too)
                       can listen on the same port while the old one drains
  --drain-timeout DUR  on SIGTERM/SIGINT wait at most DUR for connections to finish (default 30s)
  --max-size SIZE      largest body served (default 1GiB)
  --cache SIZE         bytes of generated bodies kept (default 512MiB)
  --version            print the build flavor (stock|fixed) and hyper version
stdout: one line per listener, `listening tcp 127.0.0.1:PORT` / `listening unix PATH`, then `ready`.
HTTP: GET /bytes/{n}  POST|PUT /bytes/{n}  GET /accounts/{id}[?wait=2s]  GET /healthz
";

/// Config is the parsed command line.
struct Config {
    tcp: Vec<String>,
    unix: Vec<PathBuf>,
    accounts: Option<PathBuf>,
    early_answer: bool,
    keep_alive: bool,
    reuse_port: bool,
    drain_timeout: Duration,
    max_size: u64,
    cache: u64,
}

fn parse_args() -> Result<Config, String> {
    let mut c = Config {
        tcp: Vec::new(),
        unix: Vec::new(),
        accounts: None,
        early_answer: false,
        keep_alive: true,
        reuse_port: false,
        drain_timeout: Duration::from_secs(30),
        max_size: 1 << 30,
        cache: 512 << 20,
    };
    if let Ok(v) = std::env::var("HYPER_TARGET_TCP") {
        c.tcp
            .extend(v.split(',').filter(|s| !s.is_empty()).map(String::from));
    }
    if let Ok(v) = std::env::var("HYPER_TARGET_UNIX") {
        c.unix
            .extend(v.split(',').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    if let Ok(v) = std::env::var("HYPER_TARGET_ACCOUNTS") {
        if !v.is_empty() {
            c.accounts = Some(PathBuf::from(v));
        }
    }
    if let Ok(v) = std::env::var("HYPER_TARGET_EARLY_ANSWER") {
        c.early_answer = matches!(v.as_str(), "1" | "true" | "yes");
    }
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{} needs a value", name))
        };
        match flag.as_str() {
            "--tcp" => c.tcp.push(value("--tcp")?),
            "--unix" => c.unix.push(PathBuf::from(value("--unix")?)),
            "--accounts" => c.accounts = Some(PathBuf::from(value("--accounts")?)),
            "--early-answer" => c.early_answer = true,
            "--no-keep-alive" => c.keep_alive = false,
            "--reuse-port" => c.reuse_port = true,
            "--drain-timeout" => c.drain_timeout = parse_duration(&value("--drain-timeout")?)?,
            "--max-size" => c.max_size = parse_size(&value("--max-size")?)?,
            "--cache" => c.cache = parse_size(&value("--cache")?)?,
            "--version" => {
                println!("hyper-target {} (hyper 0.14.19{})", FLAVOR, if FLAVOR == "fixed" { " + fix-4022.patch" } else { "" });
                std::process::exit(0);
            }
            "-h" | "--help" => {
                print!("{}", USAGE);
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {:?}; accepted: --tcp --unix --accounts --early-answer --no-keep-alive --reuse-port --drain-timeout --max-size --cache --version --help", other)),
        }
    }
    if c.tcp.is_empty() && c.unix.is_empty() {
        return Err(
            "no listener: give at least one --tcp ADDR (e.g. 127.0.0.1:0) or --unix PATH".into(),
        );
    }
    Ok(c)
}

/// parse_size reads `1048576`, `64KiB`, `16MiB`, `1GiB` (1024-based) or `300kB`, `3MB` (1000-based).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit {
        "" | "B" => 1,
        "k" | "kB" | "KB" => 1000,
        "KiB" | "K" => 1 << 10,
        "MB" => 1_000_000,
        "MiB" | "M" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" | "G" => 1 << 30,
        _ => {
            return Err(format!(
            "size {:?}: unknown unit {:?}; accepted: bytes, or KiB MiB GiB (1024) kB MB GB (1000)",
            s, unit
        ))
        }
    };
    let n: u64 = num.parse().map_err(|_| {
        format!(
            "size {:?}: expected a number of bytes such as 3300000 or 16MiB",
            s
        )
    })?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size {:?} is too large", s))
}

/// parse_duration reads `250ms`, `2s`, `1m`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("duration {:?}: expected e.g. 250ms, 2s, 1m", s))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" => n * 60.0,
        _ => {
            return Err(format!(
                "duration {:?}: unknown unit {:?}; accepted: ms s m",
                s, unit
            ))
        }
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration {:?} out of range (0 to 24h)", s));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// App is what every connection shares.
struct App {
    http: Http,
    store: Store,
    cache: body::Cache,
    early_answer: bool,
    max_size: u64,
    pid: u32,
    next_conn: AtomicU64,
    next_req: AtomicU64,
    /// open lists each running connection's accounts, so an exit past the drain timeout can
    /// still record them (as "abandoned").
    open: Mutex<HashMap<String, Arc<Mutex<Vec<Shared>>>>>,
}

/// OutBody is a response body that records how much of it hyper has pulled: the server's
/// "what I handed to the library". By default the whole body is one chunk (like an encoded
/// image handed over at once); `?chunk=N` hands it over N bytes at a time.
struct OutBody {
    data: Bytes,
    chunk: usize,
    acct: Option<Shared>,
}

impl OutBody {
    fn plain(s: String) -> OutBody {
        OutBody {
            data: Bytes::from(s),
            chunk: 0,
            acct: None,
        }
    }
}

impl HttpBody for OutBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_data(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Infallible>>> {
        let this = self.get_mut();
        if this.data.is_empty() {
            return Poll::Ready(None);
        }
        let n = if this.chunk == 0 {
            this.data.len()
        } else {
            this.chunk.min(this.data.len())
        };
        let piece = this.data.split_to(n);
        if let Some(a) = &this.acct {
            let mut a = a.lock().unwrap();
            a.bytes_written += n as i64;
            a.body_done = this.data.is_empty();
        }
        Poll::Ready(Some(Ok(piece)))
    }

    fn poll_trailers(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Infallible>> {
        Poll::Ready(Ok(None))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.len() as u64)
    }
}

impl Drop for OutBody {
    fn drop(&mut self) {
        if let Some(a) = &self.acct {
            let mut a = a.lock().unwrap();
            if !a.body_done && a.write_error.is_empty() {
                a.write_error = format!(
                    "hyper dropped the body after {} of {} bytes",
                    a.bytes_written, a.content_length
                );
            }
        }
    }
}

fn json_response(status: StatusCode, body: String, id: Option<&str>) -> Response<OutBody> {
    let mut b = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(id) = id {
        b = b.header("x-request-id", id);
    }
    b.body(OutBody::plain(body))
        .expect("static headers are valid")
}

const ACCEPTED: &str = "GET /bytes/{n}[?chunk=N&digest=0&bare=1], POST|PUT /bytes/{n}[?early=1], GET /accounts/{id}[?wait=DUR], GET /healthz";

fn error(status: StatusCode, msg: &str, accepted: &str, id: Option<&str>) -> Response<OutBody> {
    json_response(
        status,
        format!(
            "{{\"error\":{},\"accepted\":{}}}\n",
            accounts::q(msg),
            accounts::q(accepted)
        ),
        id,
    )
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| match kv.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if kv == key => Some(""),
        _ => None,
    })
}

fn valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:~".contains(&b))
}

async fn handle(
    req: Request<Body>,
    app: Arc<App>,
    conn_id: Arc<str>,
    conn_accts: Arc<Mutex<Vec<Shared>>>,
) -> Response<OutBody> {
    let started = SystemTime::now();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let method = req.method().clone();

    let id = match req
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap_or(""))
    {
        Some(v) if valid_request_id(v) => v.to_string(),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid X-Request-Id",
                "1 to 200 characters of A-Z a-z 0-9 - _ . : ~",
                None,
            );
        }
        None => format!(
            "h{}-{}",
            app.pid,
            app.next_req.fetch_add(1, Ordering::Relaxed) + 1
        ),
    };

    if path == "/healthz" {
        return json_response(
            StatusCode::OK,
            format!(
                "{{\"ok\":true,\"flavor\":{},\"pid\":{},\"hyper\":\"0.14.19\"}}\n",
                accounts::q(FLAVOR),
                app.pid
            ),
            Some(&id),
        );
    }

    if let Some(want) = path.strip_prefix("/accounts/") {
        if method != Method::GET {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on /accounts/{id}",
                "GET",
                Some(&id),
            );
        }
        let wait = match query_param(&query, "wait").map(parse_duration) {
            None => Duration::ZERO,
            Some(Ok(d)) if d <= Duration::from_secs(60) => d,
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid wait",
                    "a duration up to 60s, e.g. 250ms or 2s",
                    Some(&id),
                )
            }
        };
        let deadline = Instant::now() + wait;
        loop {
            let found = app.store.get(want);
            let settled = match &found {
                Some(a) => a.lock().unwrap().conn_state != "open",
                None => false,
            };
            if settled || Instant::now() >= deadline {
                return match found {
                    Some(a) => {
                        let j = a.lock().unwrap().to_json();
                        json_response(StatusCode::OK, j + "\n", Some(&id))
                    }
                    None => error(StatusCode::NOT_FOUND, &format!("no account for request id {:?}", want), "an X-Request-Id this server (or one before it sharing --accounts) answered", Some(&id)),
                };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    let size_str = match path
        .strip_prefix("/bytes/")
        .or_else(|| path.strip_prefix("/images/"))
    {
        Some(s) => s,
        None => {
            return error(
                StatusCode::NOT_FOUND,
                &format!("no route for {} {}", method, path),
                ACCEPTED,
                Some(&id),
            )
        }
    };
    let size = match parse_size(size_str) {
        Ok(n) if n <= app.max_size => n as usize,
        Ok(n) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("size {} is over --max-size {}", n, app.max_size),
                "a size up to --max-size",
                Some(&id),
            )
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, &e, ACCEPTED, Some(&id)),
    };
    let chunk = match query_param(&query, "chunk").map(parse_size) {
        None => 0,
        Some(Ok(n)) => n as usize,
        Some(Err(e)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &e,
                "chunk=SIZE, 0 = whole body in one piece",
                Some(&id),
            )
        }
    };
    let upload = match method {
        Method::GET => false,
        Method::POST | Method::PUT => true,
        _ => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("method {} not allowed on /bytes/{{n}}", method),
                "GET, POST, PUT",
                Some(&id),
            )
        }
    };
    let early = upload
        && (app.early_answer
            || matches!(
                query_param(&query, "early"),
                Some("1") | Some("true") | Some("")
            )
            || req
                .headers()
                .get("x-early-answer")
                .is_some_and(|v| v == "1" || v == "true"));
    // bare=1: the head of the original report (content-type, content-length, date: 121 bytes
    // for a 7-digit length), no digest and no request-id echo.
    let bare = matches!(
        query_param(&query, "bare"),
        Some("1") | Some("true") | Some("")
    );
    let with_digest = !bare && query_param(&query, "digest") != Some("0");
    let alg = body::choose_digest(
        req.headers()
            .get("want-content-digest")
            .and_then(|v| v.to_str().ok()),
    );

    let acct = Arc::new(Mutex::new(Account {
        request_id: id.clone(),
        method: method.to_string(),
        path: if query.is_empty() {
            path.clone()
        } else {
            format!("{}?{}", path, query)
        },
        status: 200,
        content_length: size as i64,
        upload_bytes: -1,
        early_answer: early,
        conn_state: "open".into(),
        conn_id: conn_id.to_string(),
        flavor: FLAVOR.into(),
        pid: app.pid,
        started: rfc3339(started),
        ..Default::default()
    }));
    app.store.insert(acct.clone());
    conn_accts.lock().unwrap().push(acct.clone());

    if upload && !early {
        let mut body = req.into_body();
        let mut n: i64 = 0;
        while let Some(chunk) = body.data().await {
            match chunk {
                Ok(c) => n += c.len() as i64,
                Err(e) => {
                    let mut a = acct.lock().unwrap();
                    a.upload_bytes = n;
                    a.status = 400;
                    a.content_length = -1;
                    a.write_error = format!("reading the upload failed after {} bytes: {}", n, e);
                    drop(a);
                    return error(
                        StatusCode::BAD_REQUEST,
                        "upload body incomplete",
                        "a complete request body",
                        Some(&id),
                    );
                }
            }
        }
        acct.lock().unwrap().upload_bytes = n;
    } else {
        // Early answer: the request body is dropped unread, as a cache that already has the
        // answer would do. hyper then closes the read side of the connection.
        drop(req);
    }

    let (data, digest) = app.cache.body(size, alg);
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/octet-stream")
        .header("content-length", size.to_string());
    if !bare {
        b = b.header("x-request-id", &id);
    }
    if with_digest {
        b = b.header("content-digest", digest);
    }
    b.body(OutBody {
        data,
        chunk,
        acct: Some(acct),
    })
    .expect("headers are valid")
}

/// serve_conn runs one connection to its end and records hyper's verdict on it.
async fn serve_conn<I>(
    io: I,
    conn_id: String,
    app: Arc<App>,
    mut shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let accts: Arc<Mutex<Vec<Shared>>> = Arc::new(Mutex::new(Vec::new()));
    app.open
        .lock()
        .unwrap()
        .insert(conn_id.clone(), accts.clone());
    let cid: Arc<str> = Arc::from(conn_id.as_str());
    let svc = {
        let (app, accts) = (app.clone(), accts.clone());
        service_fn(move |req| {
            let (app, cid, accts) = (app.clone(), cid.clone(), accts.clone());
            async move { Ok::<_, Infallible>(handle(req, app, cid, accts).await) }
        })
    };
    let mut conn = Box::pin(app.http.serve_connection(io, svc));
    let res = if *shutdown.borrow() {
        conn.as_mut().graceful_shutdown();
        conn.await
    } else {
        match select(conn.as_mut(), Box::pin(shutdown.changed())).await {
            Either::Left((res, _)) => res,
            Either::Right((_, mut conn)) => {
                // What a deploy does: finish the response in flight, then close.
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    };
    let (state, err) = match &res {
        Ok(()) => ("ok", String::new()),
        Err(e) => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(c) = src {
                s.push_str(": ");
                s.push_str(&c.to_string());
                src = c.source();
            }
            ("error", s)
        }
    };
    app.open.lock().unwrap().remove(&conn_id);
    let finished = rfc3339(SystemTime::now());
    for a in accts.lock().unwrap().iter() {
        let mut a = a.lock().unwrap();
        a.conn_state = state.into();
        if !err.is_empty() && a.write_error.is_empty() {
            a.write_error = err.clone();
        }
        a.finished = finished.clone();
        app.store.persist(&a);
    }
}

fn next_conn_id(app: &App, kind: &str) -> String {
    format!(
        "{}-p{}-c{}",
        kind,
        app.pid,
        app.next_conn.fetch_add(1, Ordering::Relaxed) + 1
    )
}

async fn accept_tcp(
    l: TcpListener,
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                let id = next_conn_id(&app, "tcp");
                tokio::spawn(serve_conn(
                    s,
                    id,
                    app.clone(),
                    shutdown.clone(),
                    alive.clone(),
                ));
            }
            Err(e) => {
                eprintln!("accept tcp: {}", e);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn accept_unix(
    l: UnixListener,
    app: Arc<App>,
    shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let id = next_conn_id(&app, "unix");
                tokio::spawn(serve_conn(
                    s,
                    id,
                    app.clone(),
                    shutdown.clone(),
                    alive.clone(),
                ));
            }
            Err(e) => {
                eprintln!("accept unix: {}", e);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// bind_tcp listens on `sa`; with `reuse_port` (SO_REUSEPORT) a restarted process can listen on
/// the same port while the old one still drains, as zero-downtime deploys do.
fn bind_tcp(sa: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let sock = if sa.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    if reuse_port {
        sock.set_reuseport(true)?;
    }
    sock.bind(sa)?;
    sock.listen(1024)
}

/// bind_unix replaces a stale socket file (never any other kind of file) and returns the new
/// socket's (dev, ino) so that exit removes the path only while it is still ours.
fn bind_unix(path: &PathBuf) -> Result<(UnixListener, (u64, u64)), String> {
    if let Ok(m) = std::fs::symlink_metadata(path) {
        if !m.file_type().is_socket() {
            return Err(format!(
                "--unix {}: exists and is not a socket; refusing to replace it",
                path.display()
            ));
        }
        std::fs::remove_file(path).map_err(|e| {
            format!(
                "--unix {}: cannot remove stale socket: {}",
                path.display(),
                e
            )
        })?;
    }
    let l = UnixListener::bind(path).map_err(|e| format!("--unix {}: {}", path.display(), e))?;
    let m = std::fs::metadata(path).map_err(|e| format!("--unix {}: {}", path.display(), e))?;
    Ok((l, (m.dev(), m.ino())))
}

async fn run(cfg: Config) -> Result<(), String> {
    let mut http = Http::new();
    http.http1_only(true).http1_keep_alive(cfg.keep_alive);
    let app = Arc::new(App {
        http,
        store: Store::open(cfg.accounts.clone())?,
        cache: body::Cache::new(cfg.cache as usize),
        early_answer: cfg.early_answer,
        max_size: cfg.max_size,
        pid: std::process::id(),
        next_conn: AtomicU64::new(0),
        next_req: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
    });
    let mut term =
        signal(SignalKind::terminate()).map_err(|e| format!("SIGTERM handler: {}", e))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("SIGINT handler: {}", e))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);

    let mut tasks = Vec::new();
    let mut lines = Vec::new();
    for addr in &cfg.tcp {
        let sa: SocketAddr = addr.parse().map_err(|_| {
            format!(
                "--tcp {:?}: expected IP:PORT such as 127.0.0.1:0 or [::1]:8080",
                addr
            )
        })?;
        if !sa.ip().is_loopback() {
            return Err(format!(
                "--tcp {}: only loopback addresses are served (127.0.0.1, ::1)",
                addr
            ));
        }
        let l = bind_tcp(sa, cfg.reuse_port).map_err(|e| format!("--tcp {}: {}", addr, e))?;
        lines.push(format!(
            "listening tcp {}",
            l.local_addr().map_err(|e| e.to_string())?
        ));
        tasks.push(tokio::spawn(accept_tcp(
            l,
            app.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        )));
    }
    let mut ours = Vec::new();
    for path in &cfg.unix {
        let (l, ino) = bind_unix(path)?;
        lines.push(format!("listening unix {}", path.display()));
        ours.push((path.clone(), ino));
        tasks.push(tokio::spawn(accept_unix(
            l,
            app.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        )));
    }
    {
        let mut out = std::io::stdout().lock();
        for l in &lines {
            let _ = writeln!(out, "{}", l);
        }
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    eprintln!(
        "hyper-target {} pid {} serving (early-answer={}, keep-alive={})",
        FLAVOR, app.pid, cfg.early_answer, cfg.keep_alive
    );

    let sig = match select(Box::pin(term.recv()), Box::pin(int.recv())).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    };
    for t in &tasks {
        t.abort(); // drops the listeners: no new connections
    }
    for (path, ino) in &ours {
        if let Ok(m) = std::fs::metadata(path) {
            if (m.dev(), m.ino()) == *ino {
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let n = app.open.lock().unwrap().len();
    eprintln!(
        "{}: graceful shutdown of {} connection(s), drain timeout {:?}",
        sig, n, cfg.drain_timeout
    );
    let _ = stop_tx.send(true);
    drop(alive_tx);
    for t in tasks {
        let _ = t.await; // the aborted accept loops release their `alive` senders
    }
    let drained = tokio::time::timeout(cfg.drain_timeout, alive_rx.recv())
        .await
        .is_ok();
    if !drained {
        let open: Vec<_> = app.open.lock().unwrap().values().cloned().collect();
        eprintln!("drain timeout: {} connection(s) abandoned", open.len());
        let now = rfc3339(SystemTime::now());
        for accts in open {
            for a in accts.lock().unwrap().iter() {
                let mut a = a.lock().unwrap();
                a.conn_state = "abandoned".into();
                a.finished = now.clone();
                app.store.persist(&a);
            }
        }
    }
    eprintln!("exit");
    Ok(())
}

fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hyper-target: {}\n{}", e, USAGE);
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hyper-target: tokio runtime: {}", e);
            std::process::exit(1);
        }
    };
    let res = rt.block_on(run(cfg));
    rt.shutdown_timeout(Duration::from_millis(100));
    if let Err(e) = res {
        eprintln!("hyper-target: {}", e);
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("3300000").unwrap(), 3_300_000);
        assert_eq!(parse_size("16MiB").unwrap(), 16 << 20);
        assert_eq!(parse_size("300kB").unwrap(), 300_000);
        assert!(parse_size("12parsecs").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn queries_and_ids() {
        assert_eq!(query_param("a=1&early=1", "early"), Some("1"));
        assert_eq!(query_param("early", "early"), Some(""));
        assert_eq!(query_param("earlybird=1", "early"), None);
        assert!(valid_request_id("r-1.a:b~c_d"));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id(""));
    }
}
