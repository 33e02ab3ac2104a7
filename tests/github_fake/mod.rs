//! A small stateful fake of GitHub's REST API on 127.0.0.1, over real HTTP/1.1 (std `TcpListener`).
//!
//! It speaks the paths ci-attest uses: attestations (upload, list with `Link` pagination, inline
//! `bundle` or snappy-compressed `bundle_url` content), check runs, commit statuses and repository
//! dispatches, and repository metadata (`GET /repos/{owner}/{repo}`). Answers carry the fields
//! GitHub's schemas require, so octocrab's typed models accept them. It checks the bearer token, records every request, and can be told to answer the
//! next requests with faults (a status with headers, or a dropped connection).
#![allow(dead_code)]

use base64::Engine;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The numeric id the fake gives every repository (`GET /repos/{owner}/{repo}`).
pub const REPOSITORY_ID: u64 = 1_296_269;

/// The token the fake accepts.
pub const TOKEN: &str = "ghs_fake-token-0123456789";

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Lower-case header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What to do instead of answering a request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, headers and body.
    Status(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without answering.
    Drop,
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    faults: VecDeque<Fault>,
    /// (subject sha256, bundle JSON) in upload order.
    attestations: Vec<(String, Value)>,
    check_runs: Vec<Value>,
    statuses: Vec<(String, Value)>,
    dispatches: Vec<Value>,
    /// Attestations per page of the list.
    page_size: usize,
    /// Serve every attestation at an odd list index through `bundle_url` instead of inline.
    odd_via_bundle_url: bool,
    /// Requests being answered right now, and the most there ever were at once.
    in_flight: usize,
    max_in_flight: usize,
    /// Hold each answer to a path with this prefix until this many requests are in flight (or
    /// [`HOLD_AT_MOST`] passed).
    hold_until: usize,
    hold_prefix: String,
}

/// The longest an answer is held waiting for others to arrive ([`FakeGitHub::hold_until_in_flight`]).
const HOLD_AT_MOST: Duration = Duration::from_secs(5);

/// Counts a request in flight while it lives.
struct InFlight<'a>(&'a Mutex<State>);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.0.lock() {
            s.in_flight -= 1;
        }
    }
}

/// A running fake; stops when dropped.
pub struct FakeGitHub {
    addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl FakeGitHub {
    /// Starts the fake on a free port of 127.0.0.1.
    pub fn start() -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let state = Arc::new(Mutex::new(State {
            page_size: 100,
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, base) = (state.clone(), stop.clone(), format!("http://{addr}"));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, base) = (s.clone(), base.clone());
                std::thread::spawn(move || serve(conn, &s, &base));
            }
        });
        FakeGitHub { addr, state, stop }
    }

    /// The base URL (`GITHUB_API_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues faults for the next requests.
    pub fn fail_next(&self, faults: Vec<Fault>) {
        self.state.lock().expect("lock").faults.extend(faults);
    }

    /// Lists `n` attestations per page, and serves odd ones through `bundle_url`.
    pub fn paginate(&self, page_size: usize, odd_via_bundle_url: bool) {
        let mut s = self.state.lock().expect("lock");
        s.page_size = page_size.max(1);
        s.odd_via_bundle_url = odd_via_bundle_url;
    }

    /// Holds every answer to a path starting with `prefix` until `n` requests are being answered
    /// at once, or for at most 5 s: a client that sends independent requests side by side is
    /// answered at once, one that sends them one after another waits for each and never gets past
    /// one in flight.
    pub fn hold_until_in_flight(&self, n: usize, prefix: &str) {
        let mut s = self.state.lock().expect("lock");
        s.hold_until = n;
        s.hold_prefix = prefix.to_string();
    }

    /// The most requests that were ever being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().expect("lock").max_in_flight
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("lock").requests.clone()
    }

    /// Bundles uploaded so far, with their subject sha256.
    pub fn attestations(&self) -> Vec<(String, Value)> {
        self.state.lock().expect("lock").attestations.clone()
    }

    /// Check runs created so far.
    pub fn check_runs(&self) -> Vec<Value> {
        self.state.lock().expect("lock").check_runs.clone()
    }

    /// Commit statuses set so far: (sha, body).
    pub fn statuses(&self) -> Vec<(String, Value)> {
        self.state.lock().expect("lock").statuses.clone()
    }

    /// Repository dispatches received so far.
    pub fn dispatches(&self) -> Vec<Value> {
        self.state.lock().expect("lock").dispatches.clone()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn serve(conn: TcpStream, state: &Mutex<State>, base: &str) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut conn = conn;
    // Keep-alive: answer requests on this connection until the client closes it.
    for _ in 0..100 {
        let Some(req) = read_request(&mut reader) else {
            return;
        };
        let (fault, hold_until) = {
            let mut s = state.lock().expect("lock");
            s.requests.push(req.clone());
            s.in_flight += 1;
            s.max_in_flight = s.max_in_flight.max(s.in_flight);
            let hold = if req.path.starts_with(&s.hold_prefix) {
                s.hold_until
            } else {
                0
            };
            (s.faults.pop_front(), hold)
        };
        let _counted = InFlight(state);
        let held = std::time::Instant::now();
        while hold_until > 1
            && state.lock().expect("lock").max_in_flight < hold_until
            && held.elapsed() < HOLD_AT_MOST
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let (status, headers, body) = match fault {
            Some(Fault::Drop) => return, // closes the socket without a response
            Some(Fault::Status(code, headers, body)) => (code, headers, body.into_bytes()),
            None => route(&req, state, base),
        };
        let reason = match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            401 => "Unauthorized",
            404 => "Not Found",
            429 => "Too Many Requests",
            502 => "Bad Gateway",
            _ => "Status",
        };
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\n",
            body.len()
        );
        if !body.is_empty() {
            head.push_str("content-type: application/json\r\n");
        }
        for (k, v) in &headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if conn.write_all(head.as_bytes()).is_err() || conn.write_all(&body).is_err() {
            return;
        }
        let _ = conn.flush();
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if headers.len() > 100 {
            return None;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if len > 64 * 1024 * 1024 {
        return None;
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

fn json_answer(status: u16, v: Value) -> Answer {
    (status, Vec::new(), v.to_string().into_bytes())
}

fn route(req: &Request, state: &Mutex<State>, base: &str) -> Answer {
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    // Bundle downloads are storage URLs: no token expected.
    if let Some(n) = path.strip_prefix("/storage/bundles/") {
        let s = state.lock().expect("lock");
        return match n.parse::<usize>().ok().and_then(|i| s.attestations.get(i)) {
            Some((_, bundle)) => {
                let compressed = snap::raw::Encoder::new()
                    .compress_vec(bundle.to_string().as_bytes())
                    .expect("snappy compresses");
                (200, Vec::new(), compressed)
            }
            None => json_answer(404, json!({"message": "Not Found"})),
        };
    }
    if req.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return json_answer(
            401,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
        );
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["repos", _, _, "attestations"]) => {
            let body = req.json();
            let Some(bundle) = body.get("bundle").filter(|b| b.is_object()).cloned() else {
                return json_answer(422, json!({"message": "bundle is required"}));
            };
            let Some(digest) = subject_sha256(&bundle) else {
                return json_answer(422, json!({"message": "no sha256 subject digest"}));
            };
            let mut s = state.lock().expect("lock");
            // Like an idempotent store: the same bundle again gets the same id.
            let id = match s.attestations.iter().position(|(_, b)| *b == bundle) {
                Some(i) => i,
                None => {
                    s.attestations.push((digest, bundle));
                    s.attestations.len() - 1
                }
            };
            json_answer(201, json!({"id": id + 1}))
        }
        ("GET", ["repos", _, _, "attestations", subject]) => {
            let Some(digest) = subject.strip_prefix("sha256:") else {
                return json_answer(404, json!({"message": "Not Found"}));
            };
            let s = state.lock().expect("lock");
            let matching: Vec<(usize, &Value)> = s
                .attestations
                .iter()
                .enumerate()
                .filter(|(_, (d, _))| d == digest)
                .map(|(i, (_, b))| (i, b))
                .collect();
            let per_page: usize = query_param(query, "per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(30);
            let size = per_page.min(s.page_size).max(1);
            let after: usize = query_param(query, "after")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let page: Vec<Value> = matching
                .iter()
                .enumerate()
                .skip(after)
                .take(size)
                .map(|(pos, (i, b))| {
                    if s.odd_via_bundle_url && pos % 2 == 1 {
                        json!({"bundle": null, "repository_id": 1,
                               "bundle_url": format!("{base}/storage/bundles/{i}?sig=SECRETSAS")})
                    } else {
                        json!({"bundle": b, "repository_id": 1})
                    }
                })
                .collect();
            let mut headers = Vec::new();
            if after + size < matching.len() {
                headers.push((
                    "link",
                    format!(
                        "<{base}{path}?per_page={per_page}&after={}>; rel=\"next\"",
                        after + size
                    ),
                ));
            }
            (
                200,
                headers,
                json!({ "attestations": page }).to_string().into_bytes(),
            )
        }
        ("GET", ["repos", owner, repo]) => json_answer(
            200,
            json!({
                "id": REPOSITORY_ID,
                "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
                "name": repo,
                "full_name": format!("{owner}/{repo}"),
                "private": false,
                "url": format!("{base}/repos/{owner}/{repo}"),
                "html_url": format!("https://github.com/{owner}/{repo}"),
            }),
        ),
        ("POST", ["repos", owner, repo, "check-runs"]) => {
            let body = req.json();
            state.lock().expect("lock").check_runs.push(body.clone());
            json_answer(
                201,
                json!({
                    "id": 7,
                    "node_id": "CR_7",
                    "name": body["name"],
                    "head_sha": body["head_sha"],
                    "url": format!("{base}/repos/{owner}/{repo}/check-runs/7"),
                    "html_url": format!("https://github.com/{owner}/{repo}/runs/7"),
                    "details_url": null,
                    "status": body["status"],
                    "conclusion": body["conclusion"],
                    "started_at": "2026-01-01T00:00:00Z",
                    "completed_at": body["completed_at"],
                    "output": {
                        "title": body["output"]["title"],
                        "summary": body["output"]["summary"],
                        "text": null,
                        "annotations_count": 0,
                        "annotations_url": format!("{base}/repos/{owner}/{repo}/check-runs/7/annotations"),
                    },
                    "pull_requests": [],
                }),
            )
        }
        ("POST", ["repos", _, _, "statuses", sha]) => {
            let body = req.json();
            state
                .lock()
                .expect("lock")
                .statuses
                .push((sha.to_string(), body.clone()));
            json_answer(
                201,
                json!({"id": 1, "state": body["state"], "context": body["context"],
                       "description": body["description"]}),
            )
        }
        ("POST", ["repos", _, _, "dispatches"]) => {
            state.lock().expect("lock").dispatches.push(req.json());
            (204, Vec::new(), Vec::new())
        }
        _ => json_answer(404, json!({"message": "Not Found"})),
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// The `sha256` digest of the first subject of a bundle's DSSE statement.
pub fn subject_sha256(bundle: &Value) -> Option<String> {
    let payload = bundle["dsseEnvelope"]["payload"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .ok()?;
    let statement: Value = serde_json::from_slice(&bytes).ok()?;
    statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .map(str::to_string)
}
