//! The interactive browser login: the authorization-code flow with PKCE (S256), with a tiny
//! HTTP server on `127.0.0.1` that receives the issuer's redirect.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::{
    IdentityToken, OidcError, ProviderMetadata, http, id_token_from, random_b64url, token_request,
};

/// How long [`browser_login`] waits for the browser's redirect.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(300);

/// Interactive login with the authorization-code flow + PKCE (S256): listens on
/// `127.0.0.1:<random port>`, calls `open` with the authorization URL (whose `redirect_uri` is
/// `http://localhost:<port>/auth/callback`), waits up to [`BROWSER_TIMEOUT`] for the redirect,
/// checks `state`, and exchanges the code (with the PKCE verifier) for an ID token.
///
/// `open` returns false when it could not open a browser; the URL is then given to `notice`
/// (as "Open this URL in a browser to sign in: …") for the user to open.
///
/// # Errors
/// [`OidcError::Login`] (denied, timed out, state mismatch), or the token endpoint's errors.
pub fn browser_login(
    meta: &ProviderMetadata,
    client_id: &str,
    open: &dyn Fn(&str) -> bool,
    notice: &dyn Fn(&str),
) -> Result<IdentityToken, OidcError> {
    let login = |reason: String| OidcError::Login { reason };
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| login(format!("cannot listen on 127.0.0.1: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| login(e.to_string()))?
        .port();
    let redirect_uri = format!("http://localhost:{port}/auth/callback");
    let verifier = random_b64url(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_b64url(16)?;
    let nonce = random_b64url(16)?;
    let sep = if meta.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{sep}{}",
        meta.authorization_endpoint,
        http::form(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", &redirect_uri),
            ("scope", "openid email"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("state", &state),
            ("nonce", &nonce),
        ])
    );
    if !open(&url) {
        notice(&format!(
            "Open this URL in a browser to sign in:\n\n  {url}\n"
        ));
    }
    listener
        .set_nonblocking(true)
        .map_err(|e| login(e.to_string()))?;
    let deadline = Instant::now() + BROWSER_TIMEOUT;
    let code = loop {
        if Instant::now() > deadline {
            return Err(login(format!(
                "no redirect from the browser within {}s",
                BROWSER_TIMEOUT.as_secs()
            )));
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            Err(e) => return Err(login(format!("local redirect server: {e}"))),
        };
        match handle_callback(stream, &state) {
            Callback::Code(code) => break code,
            Callback::Ignored => continue,
            Callback::Failed(reason) => return Err(login(reason)),
        }
    };
    let (status, answer) = token_request(
        meta,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("code_verifier", &verifier),
        ],
    )?;
    id_token_from(status, answer)
}

enum Callback {
    Code(String),
    Ignored,
    Failed(String),
}

fn handle_callback(stream: TcpStream, state: &str) -> Callback {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // Reading the callback request is limited to 16 KiB.
    let mut reader = BufReader::new(std::io::Read::take(stream, 16 * 1024));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return Callback::Ignored;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let Some(query) = target
        .strip_prefix("/auth/callback?")
        .or_else(|| target.strip_prefix("/auth/callback/?"))
    else {
        respond(reader.into_inner().into_inner(), 404, "Not found.");
        return Callback::Ignored;
    };
    let pairs = http::query_pairs(query);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let stream = reader.into_inner().into_inner();
    if get("state").as_deref() != Some(state) {
        respond(stream, 400, "Login failed: state mismatch.");
        return Callback::Failed("the redirect's state does not match (possible CSRF)".into());
    }
    if let Some(error) = get("error") {
        respond(stream, 400, "Login failed; you can close this window.");
        return Callback::Failed(format!(
            "the issuer answered {error}: {}",
            get("error_description").unwrap_or_default()
        ));
    }
    match get("code") {
        Some(code) if !code.is_empty() => {
            respond(
                stream,
                200,
                "ci-attest: signed in. You can close this window.",
            );
            Callback::Code(code)
        }
        _ => {
            respond(stream, 400, "Login failed: no code.");
            Callback::Failed("the redirect carries no code".into())
        }
    }
}

fn respond(mut stream: TcpStream, status: u16, text: &str) {
    let reason = if status == 200 { "OK" } else { "Bad Request" };
    let body = format!("<!doctype html><title>ci-attest</title><p>{text}</p>");
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

/// Opens `url` in the user's browser (`open` on macOS, `rundll32 url.dll` on Windows,
/// `xdg-open` elsewhere); true when the opener ran and succeeded. Its output is discarded.
#[must_use]
pub fn open_browser(url: &str) -> bool {
    let mut cmd = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    cmd.arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
