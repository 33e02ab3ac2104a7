//! Identity-token sources against 127.0.0.1 endpoints that play GitHub Actions' token service and
//! an OIDC issuer (discovery, device-code and authorization-code + PKCE endpoints).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ci_attest::sign::oidc::{
    self, OidcError, ProviderMetadata, browser_login, device_code_login, github_actions_token,
    unsigned_jwt,
};
use sha2::{Digest as _, Sha256};

/// A request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: String,
}

type Handler = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

/// Serves `handler` on 127.0.0.1 (a bounded number of requests); returns the base URL and the log.
fn serve(max_requests: usize, handler: Arc<Handler>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen_log = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max_requests) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let target = parts.next().unwrap_or("").to_owned();
            let mut headers = HashMap::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let seen = Seen {
                method,
                target,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let (status, text) = handler(&seen);
            seen_log.lock().expect("lock").push(seen);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (base, log)
}

fn jwt(sub: &str, exp_offset: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    unsigned_jwt(&serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com", "sub": sub, "aud": "sigstore",
        "exp": now + exp_offset,
    }))
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let decoded = v
                .replace("%3A", ":")
                .replace("%2F", "/")
                .replace("%20", " ");
            (k.to_owned(), decoded)
        })
        .collect()
}

#[test]
fn github_actions_ambient_token() {
    let token = jwt("repo:acme/app:ref:refs/heads/main", 300);
    let answer = serde_json::json!({ "value": token }).to_string();
    let (base, log) = serve(1, Arc::new(move |_| (200, answer.clone())));
    let got = github_actions_token(
        &format!("{base}/token?api-version=2.0"),
        "REQ-SECRET",
        "sigstore",
    )
    .expect("token");
    assert_eq!(got.claims().subject, "repo:acme/app:ref:refs/heads/main");
    let seen = log.lock().expect("lock")[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.target, "/token?api-version=2.0&audience=sigstore");
    assert_eq!(seen.headers["authorization"], "bearer REQ-SECRET");
}

#[test]
fn github_actions_forbidden_is_a_clear_error_without_secrets() {
    let (base, _) = serve(
        1,
        Arc::new(|_| {
            (
                403,
                r#"{"message":"no id-token permission REQ-SECRET"}"#.into(),
            )
        }),
    );
    let err = github_actions_token(&format!("{base}/token?x=1"), "REQ-SECRET", "sigstore")
        .expect_err("forbidden");
    let shown = err.to_string();
    assert!(
        matches!(err, OidcError::Status { status: 403, .. }),
        "{err:?}"
    );
    assert!(shown.contains("id-token: write"), "{shown}");
    assert!(!shown.contains("REQ-SECRET"), "{shown}");
}

#[test]
fn explicit_expired_token_is_rejected_with_a_clear_message() {
    let opts = oidc::TokenOptions {
        explicit: Some(jwt("someone", -60)),
        interactive: false,
        ..oidc::TokenOptions::default()
    };
    let err = oidc::obtain_token(
        &opts,
        &oidc::TokenSources::default(),
        SystemTime::now(),
        &|_| {},
    )
    .expect_err("expired");
    assert!(matches!(err, OidcError::Expired { .. }), "{err:?}");
    assert!(err.to_string().contains("expired at"), "{err}");
}

fn metadata(base: &str) -> ProviderMetadata {
    ProviderMetadata {
        issuer: base.to_owned(),
        authorization_endpoint: format!("{base}/auth"),
        token_endpoint: format!("{base}/token"),
        device_authorization_endpoint: Some(format!("{base}/device")),
    }
}

#[test]
fn discovery_reads_the_endpoints() {
    let handler: Arc<Handler> = Arc::new(|seen: &Seen| {
        assert_eq!(seen.target, "/auth/.well-known/openid-configuration");
        (
            200,
            r#"{"issuer":"x","authorization_endpoint":"a","token_endpoint":"t","device_authorization_endpoint":"d","jwks_uri":"j"}"#.into(),
        )
    });
    let (base, _) = serve(1, handler);
    let meta = oidc::discover(&format!("{base}/auth/")).expect("discover");
    assert_eq!(meta.device_authorization_endpoint.as_deref(), Some("d"));
}

#[test]
fn device_code_flow_polls_until_approved() {
    let token = jwt("alice", 300);
    let polls = Arc::new(Mutex::new(0));
    let polls_in = Arc::clone(&polls);
    let handler: Arc<Handler> = Arc::new(move |seen: &Seen| {
        let f = form(&seen.body);
        match seen.target.as_str() {
            "/device" => {
                assert_eq!(f["client_id"], "sigstore");
                (
                    200,
                    r#"{"device_code":"DEV","user_code":"ABCD-EFGH","verification_uri":"https://login.example/device","expires_in":60,"interval":1}"#.into(),
                )
            }
            "/token" => {
                assert_eq!(
                    f["grant_type"],
                    "urn:ietf:params:oauth:grant-type:device_code"
                );
                assert_eq!(f["device_code"], "DEV");
                let mut n = polls_in.lock().expect("lock");
                *n += 1;
                if *n < 2 {
                    (400, r#"{"error":"authorization_pending"}"#.into())
                } else {
                    (
                        200,
                        serde_json::json!({"id_token": token, "access_token": "x"}).to_string(),
                    )
                }
            }
            other => panic!("unexpected {other}"),
        }
    });
    let (base, _) = serve(4, handler);
    let shown = Arc::new(Mutex::new(None));
    let shown_in = Arc::clone(&shown);
    let got = device_code_login(&metadata(&base), "sigstore", &move |p| {
        *shown_in.lock().expect("lock") = Some(p.user_code.clone());
    })
    .expect("token");
    assert_eq!(got.identity(), "alice");
    assert_eq!(shown.lock().expect("lock").as_deref(), Some("ABCD-EFGH"));
    assert_eq!(*polls.lock().expect("lock"), 2);
}

#[test]
fn device_code_flow_reports_denial() {
    let handler: Arc<Handler> = Arc::new(|seen: &Seen| match seen.target.as_str() {
        "/device" => (
            200,
            r#"{"device_code":"D","user_code":"U","verification_uri":"v","interval":1}"#.into(),
        ),
        _ => (400, r#"{"error":"access_denied"}"#.into()),
    });
    let (base, _) = serve(2, handler);
    let err = device_code_login(&metadata(&base), "sigstore", &|_| {}).expect_err("denied");
    assert!(err.to_string().contains("denied"), "{err}");
}

#[test]
fn browser_login_uses_pkce_s256_and_checks_state() {
    let token = jwt("bob", 300);
    let challenge = Arc::new(Mutex::new(String::new()));
    let challenge_in = Arc::clone(&challenge);
    let handler: Arc<Handler> = Arc::new(move |seen: &Seen| {
        let f = form(&seen.body);
        assert_eq!(seen.target, "/token");
        assert_eq!(f["grant_type"], "authorization_code");
        assert_eq!(f["code"], "CODE123");
        let verifier = &f["code_verifier"];
        let expected = challenge_in.lock().expect("lock").clone();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == expected {
            (200, serde_json::json!({"id_token": token}).to_string())
        } else {
            (
                400,
                r#"{"error":"invalid_grant","error_description":"PKCE"}"#.into(),
            )
        }
    });
    let (base, _) = serve(1, handler);
    let challenge_open = Arc::clone(&challenge);
    // The "browser": reads the authorization URL and follows the redirect with a code.
    let got = browser_login(
        &metadata(&base),
        "sigstore",
        &move |url: &str| {
            let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
            let params = form(query);
            assert_eq!(params["code_challenge_method"], "S256");
            assert_eq!(params["response_type"], "code");
            *challenge_open.lock().expect("lock") = params["code_challenge"].clone();
            let redirect = params["redirect_uri"].clone();
            assert!(redirect.starts_with("http://localhost:"), "{redirect}");
            let state = params["state"].clone();
            let callback =
                format!("{redirect}?code=CODE123&state={state}").replace("localhost", "127.0.0.1");
            std::thread::spawn(move || {
                let _ = browser_get(&callback);
            });
            true
        },
        &|_| {},
    )
    .expect("token");
    assert_eq!(got.identity(), "bob");
}

#[test]
fn browser_login_rejects_a_state_mismatch() {
    let (base, _) = serve(0, Arc::new(|_| (500, String::new())));
    let err = browser_login(
        &metadata(&base),
        "sigstore",
        &|url: &str| {
            let params = form(url.split_once('?').map(|(_, q)| q).unwrap_or(""));
            let callback = format!("{}?code=C&state=forged", params["redirect_uri"])
                .replace("localhost", "127.0.0.1");
            std::thread::spawn(move || {
                let _ = browser_get(&callback);
            });
            true
        },
        &|_| {},
    )
    .expect_err("state mismatch");
    assert!(err.to_string().contains("state"), "{err}");
}

/// A minimal HTTP GET (the test's "browser").
fn browser_get(url: &str) -> std::io::Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = std::net::TcpStream::connect(host)?;
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn obtain_token_takes_the_environment_token_from_the_sources() {
    let token = jwt("from-env", 300);
    let env_token = token.clone();
    let sources = oidc::TokenSources::from_env(move |name| {
        (name == oidc::TOKEN_ENV).then(|| env_token.clone())
    });
    let opts = oidc::TokenOptions {
        interactive: false,
        ..oidc::TokenOptions::default()
    };
    let (got, source) = oidc::obtain_token(&opts, &sources, SystemTime::now(), &|m: &str| {
        panic!("no notice expected: {m}")
    })
    .expect("token");
    assert_eq!(source, oidc::TokenSource::Environment);
    assert_eq!(got.identity(), "from-env");
    // The clock is the caller's: the same token is expired an hour later.
    let later = SystemTime::now() + std::time::Duration::from_secs(3600);
    let err = oidc::obtain_token(&opts, &sources, later, &|_| {}).expect_err("expired");
    assert!(matches!(err, OidcError::Expired { .. }), "{err:?}");
    let none = oidc::obtain_token(
        &opts,
        &oidc::TokenSources::default(),
        SystemTime::now(),
        &|_| {},
    )
    .expect_err("no source");
    assert!(matches!(none, OidcError::NoToken), "{none:?}");
}

#[test]
fn obtain_token_asks_github_actions_from_the_sources() {
    let token = jwt("repo:acme/app:ref:refs/heads/main", 300);
    let answer = serde_json::json!({ "value": token }).to_string();
    let (base, log) = serve(1, Arc::new(move |_| (200, answer.clone())));
    let url = format!("{base}/token?api-version=2.0");
    let sources = oidc::TokenSources::from_env(move |name| match name {
        "ACTIONS_ID_TOKEN_REQUEST_URL" => Some(url.clone()),
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some("REQ-SECRET".to_owned()),
        _ => None,
    });
    let opts = oidc::TokenOptions {
        interactive: false,
        ..oidc::TokenOptions::default()
    };
    let (_, source) =
        oidc::obtain_token(&opts, &sources, SystemTime::now(), &|_| {}).expect("token");
    assert_eq!(source, oidc::TokenSource::GitHubActions);
    let seen = log.lock().expect("lock")[0].clone();
    assert_eq!(seen.headers["authorization"], "bearer REQ-SECRET");
    assert!(!format!("{sources:?}").contains("REQ-SECRET"));
}

#[test]
fn obtain_token_shows_the_device_code_through_the_notice() {
    let token = jwt("carol", 300);
    let handler: Arc<Handler> = Arc::new(move |seen: &Seen| {
        match seen.target.as_str() {
        "/auth/.well-known/openid-configuration" => {
            let base = format!("http://{}", seen.headers["host"]);
            (
                200,
                serde_json::json!({
                    "issuer": format!("{base}/auth"),
                    "authorization_endpoint": format!("{base}/auth/authorize"),
                    "token_endpoint": format!("{base}/token"),
                    "device_authorization_endpoint": format!("{base}/device"),
                })
                .to_string(),
            )
        }
        "/device" => (
            200,
            r#"{"device_code":"DEV","user_code":"WXYZ-1234","verification_uri":"https://login.example/device","interval":1}"#.into(),
        ),
        "/token" => (200, serde_json::json!({"id_token": token}).to_string()),
        other => panic!("unexpected {other}"),
    }
    });
    let (base, _) = serve(3, handler);
    let opts = oidc::TokenOptions {
        issuer: format!("{base}/auth"),
        interactive: true,
        force_device_code: true,
        ..oidc::TokenOptions::default()
    };
    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let notices_in = Arc::clone(&notices);
    let (got, source) = oidc::obtain_token(
        &opts,
        &oidc::TokenSources::default(),
        SystemTime::now(),
        &move |m: &str| notices_in.lock().expect("lock").push(m.to_owned()),
    )
    .expect("token");
    assert_eq!(
        (got.identity(), source),
        ("carol", oidc::TokenSource::DeviceCode)
    );
    let notices = notices.lock().expect("lock");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("WXYZ-1234"), "{notices:?}");
    assert!(
        notices[0].contains("https://login.example/device"),
        "{notices:?}"
    );
}

#[test]
fn browser_login_gives_the_url_to_the_notice_when_no_browser_opens() {
    let token = jwt("dave", 300);
    let (base, _) = serve(
        1,
        Arc::new(move |_| (200, serde_json::json!({"id_token": token}).to_string())),
    );
    let got = browser_login(&metadata(&base), "sigstore", &|_| false, &|notice: &str| {
        let url = notice
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .expect("a URL in the notice")
            .to_owned();
        let params = form(url.split_once('?').map(|(_, q)| q).unwrap_or(""));
        let callback = format!(
            "{}?code=C&state={}",
            params["redirect_uri"], params["state"]
        )
        .replace("localhost", "127.0.0.1");
        std::thread::spawn(move || {
            let _ = browser_get(&callback);
        });
    })
    .expect("token");
    assert_eq!(got.identity(), "dave");
}
