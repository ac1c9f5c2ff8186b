//! A small HTTP/1.1 static-file server on 127.0.0.1 for tests and the benchmark.
//!
//! Serves a directory tree like a distributor's web server would: `ETag` (content hash) and
//! `Last-Modified` with 304 answers to `If-None-Match` / `If-Modified-Since`, nginx-style
//! `<pre>` listings for directories without `index.html`, `?jsontable` MirrorCache listings,
//! canned answers to exact query strings (files named `<path>?<query>`: object-store listings),
//! an optional delay per request (to measure concurrency), counters of requests, bytes and
//! 304s, and injected failures (a status for the next N requests to a path, with an optional
//! `Retry-After`). Runs on its own thread and runtime, so sync tests can use it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// An injected failure.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    /// How many requests get it; `None` = all.
    pub times: Option<u32>,
    pub retry_after: Option<u32>,
}

#[derive(Default)]
struct State {
    root: PathBuf,
    latency_ms: AtomicU64,
    requests: AtomicU64,
    bytes: AtomicU64,
    not_modified: AtomicU64,
    faults: Mutex<HashMap<String, Fault>>,
    log: Mutex<Vec<(String, u16)>>,
}

/// Counters since start (or the last [`FixtureServer::reset_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub requests: u64,
    /// Response body bytes sent.
    pub bytes: u64,
    pub not_modified: u64,
}

pub struct FixtureServer {
    pub addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FixtureServer {
    /// Serves `root` on 127.0.0.1:0 (an OS-assigned port).
    pub fn start(root: impl Into<PathBuf>) -> FixtureServer {
        Self::start_on(root, 0)
    }

    /// Serves `root` on 127.0.0.1:`port`.
    pub fn start_on(root: impl Into<PathBuf>, port: u16) -> FixtureServer {
        let state = Arc::new(State {
            root: root.into(),
            ..State::default()
        });
        let std_listener =
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("listener");
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let st = st.clone();
                        tokio::spawn(async move {
                            let _ = serve_connection(stream, st).await;
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = rx => {}
                }
            });
        });
        FixtureServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn root(&self) -> &Path {
        &self.state.root
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::Relaxed);
    }

    /// Answers requests for `path` (URL path, e.g. `/alma/CHECKSUM`) with a failure.
    pub fn fail(&self, path: &str, fault: Fault) {
        self.state
            .faults
            .lock()
            .unwrap()
            .insert(path.to_owned(), fault);
    }

    pub fn clear_faults(&self) {
        self.state.faults.lock().unwrap().clear();
    }

    pub fn stats(&self) -> ServerStats {
        ServerStats {
            requests: self.state.requests.load(Ordering::Relaxed),
            bytes: self.state.bytes.load(Ordering::Relaxed),
            not_modified: self.state.not_modified.load(Ordering::Relaxed),
        }
    }

    pub fn reset_stats(&self) {
        self.state.requests.store(0, Ordering::Relaxed);
        self.state.bytes.store(0, Ordering::Relaxed);
        self.state.not_modified.store(0, Ordering::Relaxed);
        self.state.log.lock().unwrap().clear();
    }

    /// `(path, status)` of every request, in arrival order.
    pub fn log(&self) -> Vec<(String, u16)> {
        self.state.log.lock().unwrap().clone()
    }

    /// Blocks until the process is killed (for the example binary).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

async fn serve_connection(stream: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    // Small responses: without this, Nagle + delayed ACK add ~40 ms to each one.
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).await? == 0 {
            return Ok(());
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        state.requests.fetch_add(1, Ordering::Relaxed);
        let latency = state.latency_ms.load(Ordering::Relaxed);
        if latency > 0 {
            tokio::time::sleep(Duration::from_millis(latency)).await;
        }
        let resp = respond(&state, &method, &target, &headers);
        let (path, _) = target.split_once('?').unwrap_or((&target, ""));
        state
            .log
            .lock()
            .unwrap()
            .push((path.to_owned(), resp.status));
        if resp.status == 304 {
            state.not_modified.fetch_add(1, Ordering::Relaxed);
        }
        let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
        let send_body = method != "HEAD" && resp.status != 304;
        head.push_str(&format!(
            "Content-Length: {}\r\n",
            if send_body { resp.body.len() } else { 0 }
        ));
        for (k, v) in &resp.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if send_body {
            bytes.extend_from_slice(&resp.body);
        }
        write.write_all(&bytes).await?;
        if send_body {
            state
                .bytes
                .fetch_add(resp.body.len() as u64, Ordering::Relaxed);
        }
        write.flush().await?;
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(
    state: &State,
    method: &str,
    target: &str,
    headers: &BTreeMap<String, String>,
) -> Response {
    if method != "GET" && method != "HEAD" {
        return Response::new(405, "method not allowed\n");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    {
        let mut faults = state.faults.lock().unwrap();
        if let Some(fault) = faults.get_mut(path) {
            let status = fault.status;
            let retry_after = fault.retry_after;
            match &mut fault.times {
                Some(0) => {
                    faults.remove(path);
                }
                Some(n) => {
                    *n -= 1;
                    if *n == 0 {
                        faults.remove(path);
                    }
                    return fault_response(status, retry_after);
                }
                None => return fault_response(status, retry_after),
            }
        }
    }
    let Some(rel) = decode_path(path) else {
        return Response::new(400, "bad path\n");
    };
    // Canned answers per query string, e.g. object-store listing pages: the file named
    // `<path>?<query>` (query as sent, still percent-encoded) answers that exact request.
    if !query.is_empty() && query != "jsontable" && !rel.as_os_str().is_empty() {
        let canned = state.root.join(format!("{}?{query}", rel.display()));
        if let (Ok(body), Ok(meta)) = (std::fs::read(&canned), std::fs::metadata(&canned)) {
            return file_response(body, &meta, headers);
        }
    }
    let fs_path = state.root.join(&rel);
    let meta = match std::fs::metadata(&fs_path) {
        Ok(m) => m,
        Err(_) => return Response::new(404, "<html><body>404 Not Found</body></html>\n"),
    };
    if meta.is_dir() {
        if !path.ends_with('/') {
            let mut r = Response::new(301, "");
            r.headers.push(("Location".into(), format!("{path}/")));
            return r;
        }
        if query == "jsontable" {
            return match std::fs::read(fs_path.join("jsontable.json")) {
                Ok(body) => file_response(body, &meta, headers),
                Err(_) => Response::new(200, json_listing(&fs_path)),
            };
        }
        if let Ok(body) = std::fs::read(fs_path.join("index.html")) {
            return file_response(body, &meta, headers);
        }
        // Like nginx autoindex: no validators on generated listings.
        let mut r = Response::new(200, html_listing(path, &fs_path));
        r.headers.push(("Content-Type".into(), "text/html".into()));
        return r;
    }
    match std::fs::read(&fs_path) {
        Ok(body) => file_response(body, &meta, headers),
        Err(_) => Response::new(404, "not found\n"),
    }
}

fn fault_response(status: u16, retry_after: Option<u32>) -> Response {
    let mut r = Response::new(
        status,
        format!("<html><body>injected {status}</body></html>\n"),
    );
    if let Some(s) = retry_after {
        r.headers.push(("Retry-After".into(), s.to_string()));
    }
    r
}

fn file_response(
    body: Vec<u8>,
    meta: &std::fs::Metadata,
    headers: &BTreeMap<String, String>,
) -> Response {
    use sha2::Digest;
    let etag = format!("\"{}\"", &hex::encode(sha2::Sha256::digest(&body))[..16]);
    let last_modified = meta
        .modified()
        .ok()
        .and_then(|t| jiff::Timestamp::try_from(t).ok())
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string());
    let not_modified = match (
        headers.get("if-none-match"),
        headers.get("if-modified-since"),
    ) {
        (Some(inm), _) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        (None, Some(ims)) => last_modified.as_deref() == Some(ims.as_str()),
        _ => false,
    };
    let mut r = if not_modified {
        Response::new(304, "")
    } else {
        Response::new(200, body)
    };
    r.headers.push(("ETag".into(), etag));
    if let Some(lm) = last_modified {
        r.headers.push(("Last-Modified".into(), lm));
    }
    r
}

fn decode_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for seg in path.split('/') {
        if seg.is_empty() {
            continue;
        }
        let seg = percent_decode(seg)?;
        if seg == "." || seg == ".." || seg.contains('/') {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn sorted_entries(dir: &Path) -> Vec<(String, bool, u64)> {
    let mut entries: Vec<(String, bool, u64)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((
                        e.file_name().to_string_lossy().into_owned(),
                        m.is_dir(),
                        m.len(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

/// nginx autoindex style: link text cut at 50 characters, CRLF line ends.
fn html_listing(url_path: &str, dir: &Path) -> String {
    let mut out = format!(
        "<html>\r\n<head><title>Index of {url_path}</title></head>\r\n<body>\r\n<h1>Index of {url_path}</h1><hr><pre><a href=\"../\">../</a>\r\n"
    );
    for (name, is_dir, size) in sorted_entries(dir) {
        let href = if is_dir {
            format!("{name}/")
        } else {
            name.clone()
        };
        let text = if href.chars().count() > 50 {
            format!("{}..&gt;", href.chars().take(47).collect::<String>())
        } else {
            href.clone()
        };
        let size = if is_dir {
            "-".to_owned()
        } else {
            size.to_string()
        };
        out.push_str(&format!(
            "<a href=\"{href}\">{text}</a> 01-Jan-2026 00:00 {size:>19}\r\n"
        ));
    }
    out.push_str("</pre><hr></body>\r\n</html>\r\n");
    out
}

fn json_listing(dir: &Path) -> String {
    let data: Vec<serde_json::Value> = sorted_entries(dir)
        .into_iter()
        .map(|(name, is_dir, size)| {
            let name = if is_dir { format!("{name}/") } else { name };
            serde_json::json!({"name": name, "size": size, "mtime": 0})
        })
        .collect();
    serde_json::json!({ "data": data }).to_string()
}
