//! Fuzzing on stable: every parser that reads untrusted bytes, driven by proptest over mutated real
//! seeds. The target bodies are shared with the cargo-fuzz crate in `fuzz/` (see
//! `tests/fuzz_targets/mod.rs`); this file adds the seeds and the mutations.
//!
//! Seeds come from the repository: bundles and trusted roots under `tests/vectors/`, the pieces
//! inside them (certificates, Rekor bodies, checkpoints, timestamps, DSSE envelopes and payloads),
//! report files under `tests/fixtures/`, policy examples from `docs/policy.md` and `examples/`, and
//! one key-signed local-run bundle made here with a fixed test key. A case picks a seed and applies
//! a few mutations: bit flips, byte writes, truncation, deletion, duplication, splicing with another
//! seed, insertion of interesting tokens (NUL, extreme numbers, deep nesting, duplicate keys, long
//! strings), and for JSON seeds structure-aware edits of one node (extreme numbers, junk strings,
//! base64 strings whose decoded bytes are mutated, dropped or duplicated fields, deep nesting).
//!
//! Each case must return (Ok or Err, the targets ignore which) without panicking and within
//! [`TIME_LIMIT`]. Failures are not persisted by proptest (`failure_persistence: None`): every
//! input a run found is kept as an explicit regression test at the end of this file instead.
//!
//! `CI_ATTEST_FUZZ_CORPUS=<dir> cargo test --test fuzz_parsers write_fuzz_corpus` writes the seeds
//! as a cargo-fuzz corpus, one directory per target (see `fuzz/README.md`).

mod fuzz_targets;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use fuzz_targets::{COMMIT_ID, COMMIT_SHA256, TARGETS, Target};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

/// Longest a single input may take (debug build on a loaded machine; real inputs take
/// milliseconds). Longer counts as a hang.
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// A throwaway P-256 key made for these tests only; its public half is
/// [`fuzz_targets::FUZZ_PUBLIC_KEY_PEM`].
const FUZZ_PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgMctWAADHGTxkKlu4
T+Xrvfc7sRSzmZb7321kpV2aAFahRANCAARt1DwQQERtRCuHMcJThhJZN/D80l5+
fDRxEggH7vJixK6CWPTDP/fw5Vy5tnqIqO4C/QW/wGzTySJzId54rMrk
-----END PRIVATE KEY-----
";

// ---------------------------------------------------------------------------------------------
// Seeds.
// ---------------------------------------------------------------------------------------------

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every JSON document under `tests/vectors` (JSON Lines files give one document per line).
fn vector_documents() -> &'static [(Vec<u8>, Value)] {
    static DOCS: OnceLock<Vec<(Vec<u8>, Value)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut files = Vec::new();
        files_under(&repo("tests/vectors"), &mut files);
        let mut out = Vec::new();
        for f in files {
            let bytes = read(&f);
            if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
                out.push((bytes, v));
            } else if f.extension().is_some_and(|e| e == "jsonl") {
                for line in bytes.split(|b| *b == b'\n') {
                    if let Ok(v) = serde_json::from_slice::<Value>(line) {
                        out.push((line.to_vec(), v));
                    }
                }
            }
        }
        out
    })
}

fn is_bundle(v: &Value) -> bool {
    v.get("mediaType")
        .and_then(Value::as_str)
        .is_some_and(|m| m.contains("sigstore.bundle"))
}

fn is_trusted_root(v: &Value) -> bool {
    v.get("tlogs").is_some() || v.get("certificateAuthorities").is_some()
}

/// Every string value under a key named `key`, anywhere in `v`.
fn strings_under_key(v: &Value, key: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                match child {
                    Value::String(s) if k == key => out.push(s.clone()),
                    _ => strings_under_key(child, key, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| strings_under_key(c, key, out)),
        _ => {}
    }
}

fn decoded_under_key(docs: &[&Value], key: &str) -> Vec<Vec<u8>> {
    let mut strings = Vec::new();
    for d in docs {
        strings_under_key(d, key, &mut strings);
    }
    dedup(
        strings
            .iter()
            .filter_map(|s| STANDARD.decode(s).ok())
            .collect(),
    )
}

fn dedup(mut v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    v.sort();
    v.dedup();
    v
}

/// The local-run statements of the key-signed seeds, on [`COMMIT_ID`]: a passing run of a tests,
/// a coverage and a lint check; and a failing, override-configured run.
fn local_run_statements() -> Vec<Vec<u8>> {
    let subject = serde_json::json!([{
        "name": format!("https://github.com/acme/app@{COMMIT_ID}"),
        "digest": {"gitCommit": COMMIT_ID, "sha256": COMMIT_SHA256}
    }]);
    let predicate = |checks: Value, result: &str, extra: Value| {
        let mut p = serde_json::json!({
            "tool": {"name": "ci-attest", "version": "0.1.0"},
            "host": {"os": "linux", "arch": "x86_64", "toolchains": {"rustc": "rustc 1.95.0"}},
            "startedOn": "2026-11-01T11:58:00Z",
            "finishedOn": "2026-11-01T12:00:00Z",
            "source": {
                "commit": COMMIT_ID,
                "tree": "fedcba9876543210fedcba9876543210fedcba98",
                "ref": "refs/heads/main",
                "pristine": true,
                "uncommittedChangesIgnored": false
            },
            "repository": {"uri": "https://github.com/acme/app", "forgeId": 42},
            "checks": checks,
            "result": result,
        });
        if let (Value::Object(p), Value::Object(extra)) = (&mut p, extra) {
            p.extend(extra);
        }
        p
    };
    let report =
        serde_json::json!([{"path": "target/r.xml", "format": "junit", "sha256": "ab".repeat(32)}]);
    let passing = serde_json::json!([
        {"name": "tests", "kind": "tests", "command": "cargo test", "exitCode": 0,
         "durationMs": 1234, "result": "PASSED",
         "tests": {"total": 3, "passed": 3, "failed": 0, "skipped": 0},
         "reports": report, "problems": []},
        {"name": "coverage", "kind": "coverage", "command": "cargo llvm-cov", "exitCode": 0,
         "durationMs": 99, "result": "PASSED",
         "coverage": {"lines": {"covered": 9, "total": 10, "percent": 90.0},
                      "branches": {"covered": 0, "total": 0},
                      "functions": {"covered": 1, "total": 2, "percent": 50.0}},
         "reports": [], "network": false},
        {"name": "lint", "kind": "lint", "command": "cargo clippy", "exitCode": 0,
         "durationMs": 5, "result": "WARNED",
         "lint": {"errors": 0, "warnings": 2, "notes": 1}, "reports": [],
         "log": {"path": "lint.log", "sha256": "cd".repeat(32)}}
    ]);
    let failing = serde_json::json!([
        {"name": "tests", "kind": "tests", "command": "pytest", "durationMs": 7,
         "result": "FAILED", "tests": {"total": 2, "passed": 0, "failed": 2, "skipped": 0},
         "failedTests": [{"suite": "s", "name": "t1"}, {"name": "t2", "error": true}],
         "failedTestsOmitted": 5, "reports": [], "problems": ["exit code 1"]}
    ]);
    [
        predicate(
            passing,
            "WARNED",
            serde_json::json!({"isolation": {"mode": "sandbox", "mechanism": "bubblewrap 0.8.0"}}),
        ),
        predicate(
            failing,
            "FAILED",
            serde_json::json!({
                "isolation": {"mode": "none"},
                "config": {"source": "override", "path": ".ci-attest.toml",
                           "sha256": "ef".repeat(32), "content": "[[check]]\nname = \"t\"\n"}
            }),
        ),
    ]
    .into_iter()
    .map(|predicate| {
        let st = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subject,
            "predicateType": "https://ci-attest.dev/local-run/v1",
            "predicate": predicate,
        });
        serde_json::to_vec(&st).expect("a JSON value serializes")
    })
    .collect()
}

/// Key-signed ci-attest bundles of [`local_run_statements`], by the fixed fuzz key.
fn key_signed_bundles() -> Vec<Vec<u8>> {
    let key =
        ci_attest::sign::key::SigningKey::from_pkcs8_pem(FUZZ_PRIVATE_KEY_PEM.as_bytes(), None)
            .expect("the fuzz key parses");
    local_run_statements()
        .iter()
        .map(|st| {
            ci_attest::sign::sign_statement(st, &key)
                .to_json()
                .into_bytes()
        })
        .collect()
}

/// The `extnValue` contents of the embedded SCT list extension of a DER certificate, found by
/// the extension's OID (enough for seeds; the target does the real parsing).
fn sct_extension_value(der: &[u8]) -> Option<Vec<u8>> {
    const OID: &[u8] = &[
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02,
    ];
    let at = der.windows(OID.len()).position(|w| w == OID)? + OID.len();
    let rest = der.get(at..)?;
    if rest.first() != Some(&0x04) {
        return None;
    }
    let (len, header) = match *rest.get(1)? {
        n if n < 0x80 => (usize::from(n), 2),
        0x81 => (usize::from(*rest.get(2)?), 3),
        0x82 => (
            usize::from(*rest.get(2)?) << 8 | usize::from(*rest.get(3)?),
            4,
        ),
        _ => return None,
    };
    rest.get(header..header + len).map(<[u8]>::to_vec)
}

/// The toml code blocks of `docs/policy.md`.
fn policy_doc_examples() -> Vec<Vec<u8>> {
    let text = String::from_utf8(read(&repo("docs/policy.md"))).expect("docs are UTF-8");
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            None if line.trim_start().starts_with("```toml") => block = Some(String::new()),
            Some(b) if line.trim_start().starts_with("```") => {
                out.push(std::mem::take(b).into_bytes());
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

fn report_files(exts: &[&str], names: &[&str]) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    files_under(&repo("tests/fixtures"), &mut files);
    files
        .iter()
        .filter(|f| {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            exts.iter().any(|e| name.ends_with(e)) && names.iter().any(|n| name.contains(n))
        })
        .map(|f| read(f))
        .collect()
}

/// The seeds of every target, by target name.
fn seeds() -> &'static BTreeMap<&'static str, Vec<Vec<u8>>> {
    static SEEDS: OnceLock<BTreeMap<&'static str, Vec<Vec<u8>>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let docs = vector_documents();
        let mut bundles: Vec<Vec<u8>> = docs
            .iter()
            .filter(|(_, v)| is_bundle(v))
            .map(|(b, _)| b.clone())
            .collect();
        bundles.extend(key_signed_bundles());
        let bundle_values: Vec<Value> = bundles
            .iter()
            .filter_map(|b| serde_json::from_slice(b).ok())
            .collect();
        let bundle_refs: Vec<&Value> = bundle_values.iter().collect();
        let roots: Vec<&(Vec<u8>, Value)> =
            docs.iter().filter(|(_, v)| is_trusted_root(v)).collect();
        let root_refs: Vec<&Value> = roots.iter().map(|(_, v)| v).collect();

        let envelopes: Vec<Vec<u8>> = dedup(
            bundle_values
                .iter()
                .filter_map(|b| b.get("dsseEnvelope"))
                .filter_map(|e| serde_json::to_vec(e).ok())
                .collect(),
        );
        let mut statements = decoded_under_key(&bundle_refs, "payload");
        statements.extend(
            docs.iter()
                .filter(|(_, v)| v.get("_type").is_some() || v.get("predicateType").is_some())
                .map(|(b, _)| b.clone()),
        );
        statements.extend(local_run_statements());
        let mut certs = decoded_under_key(&bundle_refs, "rawBytes");
        certs.extend(decoded_under_key(&root_refs, "rawBytes"));
        let certs = dedup(certs);
        let scts = dedup(
            certs
                .iter()
                .filter_map(|c| sct_extension_value(c))
                .collect(),
        );
        let mut checkpoints = Vec::new();
        for b in &bundle_refs {
            strings_under_key(b, "envelope", &mut checkpoints);
        }
        let checkpoints = dedup(checkpoints.into_iter().map(String::into_bytes).collect());
        let mut policies = policy_doc_examples();
        policies.push(read(&repo("examples/calc/policies/default.toml")));
        policies.push(fuzz_targets::fuzz_policy_text().into_bytes());

        let mut m = BTreeMap::new();
        m.insert("bundle", bundles.clone());
        m.insert("dsse_envelope", envelopes);
        m.insert("statement", dedup(statements));
        m.insert(
            "trusted_root",
            roots.iter().map(|(b, _)| b.clone()).collect(),
        );
        m.insert("checkpoint", checkpoints);
        m.insert("certificate", certs);
        m.insert("sct_list", scts);
        m.insert(
            "rekor_body",
            decoded_under_key(&bundle_refs, "canonicalizedBody"),
        );
        m.insert(
            "timestamp",
            decoded_under_key(&bundle_refs, "signedTimestamp"),
        );
        m.insert("policy", policies);
        m.insert(
            "report_junit",
            report_files(&[".xml"], &["junit", "surefire"]),
        );
        m.insert("report_libtest", report_files(&[".json"], &["libtest"]));
        m.insert("report_lcov", report_files(&[".lcov", ".info"], &[""]));
        m.insert("report_cobertura", report_files(&[".xml"], &["cobertura"]));
        m.insert("report_sarif", report_files(&[".sarif"], &[""]));
        m.insert("report_clippy", report_files(&[".json"], &["clippy"]));
        m.insert("verify_bundle", bundles);
        m
    })
}

// ---------------------------------------------------------------------------------------------
// Mutations.
// ---------------------------------------------------------------------------------------------

/// Tokens that break parsers: NUL, extreme and negative numbers, deep nesting, duplicate keys,
/// long strings, markup and line-format specials.
fn tokens() -> &'static [Vec<u8>] {
    static T: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t: Vec<Vec<u8>> = [
            "\0",
            "\\u0000",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "0",
            "1e308",
            "-1e999",
            "NaN",
            "\"a\":1,\"a\":2,",
            "\"",
            "\\",
            "{}",
            "[]",
            "null",
            ",",
            ":",
            "\n",
            "\n\n",
            "\r\n",
            "\u{feff}",
            "\u{202e}",
            "\u{1b}[31m",
            "\u{ffff}",
            "<",
            ">",
            "</",
            "<![CDATA[",
            "]]>",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]>",
            "&a;",
            "&#0;",
            "&#x110000;",
            "&amp;",
            "=",
            "[[signer]]\n",
            "'''",
            "SF:",
            "DA:1,-1\n",
            "LF:18446744073709551615\n",
            "BRDA:1,0,0,-\n",
            "end_of_record\n",
            "MIIB",
            "====",
            " - ",
            "\u{2014} ",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        t.push(vec![0xff, 0xfe, 0x80]);
        t.push(b"[".repeat(5000));
        t.push(b"{\"a\":".repeat(2000));
        t.push(b"<a>".repeat(3000));
        t.push(b"A".repeat(70_000));
        t.push(b"9".repeat(400));
        t
    })
}

/// A position or choice, resolved against the size of what it picks from when applied (so a
/// mutation stays meaningful while earlier ones change the input's length).
#[derive(Debug, Clone, Copy)]
struct Pick(usize);

impl Pick {
    fn index(&self, size: usize) -> usize {
        self.0 % size.max(1)
    }
}

fn pick() -> impl Strategy<Value = Pick> {
    any::<usize>().prop_map(Pick)
}

/// One mutation; indices are resolved against the current input's length.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Pick, u8),
    SetByte(Pick, u8),
    Truncate(Pick),
    Delete(Pick, usize),
    Duplicate(Pick, usize),
    Insert(Pick, Pick),
    Splice(Pick, Pick, Pick),
    Json(Pick, JsonEdit),
}

/// A structure-aware edit of one JSON node.
#[derive(Debug, Clone)]
enum JsonEdit {
    Number(Pick),
    Junk(Pick),
    MutateBase64(Pick, u8),
    TruncateBase64(Pick),
    DropField(Pick),
    DuplicateKey(Pick),
    Nest(usize),
    Replace(Pick),
}

/// A mutation; structure-aware JSON edits weigh more for JSON seeds (`json`), since byte-level
/// mutations of JSON mostly stop at the first syntax check.
fn mutation(json: bool) -> impl Strategy<Value = Mutation> {
    let j = if json { 16 } else { 2 };
    prop_oneof![
        3 => (pick(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (pick(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => pick().prop_map(Mutation::Truncate),
        1 => (pick(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (pick(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        2 => (pick(), pick()).prop_map(|(i, t)| Mutation::Insert(i, t)),
        1 => (pick(), pick(), pick())
            .prop_map(|(s, a, b)| Mutation::Splice(s, a, b)),
        j => (pick(), json_edit()).prop_map(|(i, e)| Mutation::Json(i, e)),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        pick().prop_map(JsonEdit::Number),
        pick().prop_map(JsonEdit::Junk),
        (pick(), any::<u8>()).prop_map(|(i, b)| JsonEdit::MutateBase64(i, b)),
        pick().prop_map(JsonEdit::TruncateBase64),
        pick().prop_map(JsonEdit::DropField),
        pick().prop_map(JsonEdit::DuplicateKey),
        (1usize..300).prop_map(JsonEdit::Nest),
        pick().prop_map(JsonEdit::Replace),
    ]
}

fn extreme_numbers() -> Vec<Value> {
    vec![
        Value::from(i64::MAX),
        Value::from(i64::MIN),
        Value::from(u64::MAX),
        Value::from(-1),
        Value::from(0),
        Value::from(1),
        Value::from(f64::MAX),
        Value::from(-0.5),
        Value::from(1.5),
        Value::from(4_294_967_296u64),
        Value::String("9223372036854775807".into()),
        Value::String("18446744073709551616".into()),
        Value::String("-1".into()),
    ]
}

fn junk_strings() -> Vec<Value> {
    vec![
        Value::String(String::new()),
        Value::String("\0".into()),
        Value::String("\u{0}\u{1}\u{1f}\u{7f}\u{1b}[2J".into()),
        Value::String("A".repeat(100_000)),
        Value::String("!!!not base64!!!".into()),
        Value::String("AAAA\nAAAA".into()),
        Value::String("=".into()),
        Value::String("\u{202e}\u{feff}\u{fffd}".into()),
        Value::String("sha256:".into()),
        Value::String("https://".into()),
        Value::String("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into()),
    ]
}

fn replacements() -> Vec<Value> {
    vec![
        Value::Null,
        Value::Bool(true),
        Value::Array(vec![]),
        Value::Object(serde_json::Map::new()),
        Value::Array(vec![Value::Null; 3]),
        serde_json::json!({"": ""}),
    ]
}

/// The number of nodes of `v` (itself included), in pre-order.
fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `n`th node of `v` in pre-order.
fn nth_node(v: &mut Value, n: usize) -> Option<&mut Value> {
    if n == 0 {
        return Some(v);
    }
    let mut n = n - 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(m) => m.values_mut().collect(),
        _ => return None,
    };
    for c in children {
        let size = count_nodes(c);
        if n < size {
            return nth_node(c, n);
        }
        n -= size;
    }
    None
}

/// The key a duplicate-key edit adds; replaced by a real key after serialization.
const DUP_MARKER: &str = "\u{1}duplicate\u{1}";

fn apply_json(input: &[u8], node: &Pick, edit: &JsonEdit) -> Option<Vec<u8>> {
    let mut doc: Value = serde_json::from_slice(input).ok()?;
    let n = node.index(count_nodes(&doc));
    let target = nth_node(&mut doc, n)?;
    let pick = |i: &Pick, v: Vec<Value>| v[i.index(v.len())].clone();
    let mut duplicate_of = None;
    match edit {
        JsonEdit::Number(i) => *target = pick(i, extreme_numbers()),
        JsonEdit::Junk(i) => *target = pick(i, junk_strings()),
        JsonEdit::Replace(i) => *target = pick(i, replacements()),
        JsonEdit::MutateBase64(i, _) | JsonEdit::TruncateBase64(i) => {
            let Value::String(s) = target else {
                return None;
            };
            let mut bytes = STANDARD.decode(s.as_bytes()).ok()?;
            if bytes.is_empty() {
                return None;
            }
            let at = i.index(bytes.len());
            match edit {
                JsonEdit::MutateBase64(_, b) => bytes[at] ^= b | 1,
                _ => bytes.truncate(at),
            }
            *s = STANDARD.encode(&bytes);
        }
        JsonEdit::DropField(i) => {
            let Value::Object(m) = target else {
                return None;
            };
            let key = m.keys().nth(i.index(m.len().max(1)))?.clone();
            m.remove(&key);
        }
        JsonEdit::DuplicateKey(i) => {
            let Value::Object(m) = target else {
                return None;
            };
            let (key, value) = m.iter().nth(i.index(m.len().max(1)))?;
            let (key, value) = (key.clone(), value.clone());
            // The duplicate's value differs from the original where it can, so that which one
            // the parser keeps matters.
            let other = match value {
                Value::String(_) => Value::String("duplicate".into()),
                Value::Number(_) => Value::from(-1),
                _ => Value::Null,
            };
            m.insert(DUP_MARKER.into(), other);
            duplicate_of = Some(key);
        }
        JsonEdit::Nest(depth) => {
            let mut v = target.take();
            for _ in 0..*depth {
                v = Value::Array(vec![v]);
            }
            *target = v;
        }
    }
    // The serializer recurses; a nested edit deeper than it can go is written by hand.
    let mut out = serde_json::to_string(&doc).ok()?;
    if let Some(key) = duplicate_of {
        let marker = serde_json::to_string(DUP_MARKER).ok()?;
        let key = serde_json::to_string(&key).ok()?;
        out = out.replacen(&marker, &key, 1);
    }
    Some(out.into_bytes())
}

/// The lines of a JSON Lines stream, when every non-empty line is JSON and there are several.
fn json_lines(data: &[u8]) -> Option<Vec<&[u8]>> {
    let lines: Vec<&[u8]> = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    (lines.len() > 1
        && lines
            .iter()
            .all(|l| serde_json::from_slice::<Value>(l).is_ok()))
    .then_some(lines)
}

fn apply(seed: &[u8], other: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for m in mutations {
        let len = data.len();
        let at = |i: &Pick| if len == 0 { 0 } else { i.index(len + 1) };
        match m {
            Mutation::FlipBit(i, b) if len > 0 => data[i.index(len)] ^= 1 << b,
            Mutation::SetByte(i, b) if len > 0 => data[i.index(len)] = *b,
            Mutation::Truncate(i) => data.truncate(at(i)),
            Mutation::Delete(i, n) => {
                let start = at(i).min(len);
                let end = (start + n).min(len);
                data.drain(start..end);
            }
            Mutation::Duplicate(i, n) => {
                let start = at(i).min(len);
                let end = (start + n).min(len);
                let copy = data[start..end].to_vec();
                data.splice(end..end, copy);
            }
            Mutation::Insert(i, t) => {
                let tokens = tokens();
                let token = &tokens[t.index(tokens.len())];
                let pos = at(i).min(len);
                data.splice(pos..pos, token.iter().copied());
            }
            Mutation::Splice(s, a, b) => {
                // Our head up to `s`, the other seed's tail from `a`, or its middle up to `b`.
                let head = at(s).min(len);
                let from = if other.is_empty() {
                    0
                } else {
                    a.index(other.len())
                };
                let to = from + b.index(other.len() - from + 1);
                data.truncate(head);
                data.extend_from_slice(&other[from..to.max(from)]);
            }
            Mutation::Json(node, edit) => {
                if let Some(out) = apply_json(&data, node, edit) {
                    data = out;
                } else if let Some(lines) = json_lines(&data) {
                    // A JSON stream (libtest, clippy): edit one line.
                    let line = node.index(lines.len());
                    let inner = Pick(node.0 / lines.len().max(1));
                    if let Some(out) = apply_json(lines[line], &inner, edit) {
                        let mut joined = Vec::with_capacity(data.len() + out.len());
                        for (i, l) in lines.iter().enumerate() {
                            joined.extend_from_slice(if i == line { &out } else { l });
                            joined.push(b'\n');
                        }
                        data = joined;
                    }
                }
            }
            _ => {}
        }
    }
    data
}

// ---------------------------------------------------------------------------------------------
// The driver.
// ---------------------------------------------------------------------------------------------

/// Runs a target on a worker thread, so that a hang fails the case instead of the whole run.
struct Worker {
    input: mpsc::Sender<Vec<u8>>,
    done: mpsc::Receiver<Result<(), String>>,
}

impl Worker {
    fn new(target: Target) -> Worker {
        let (input, inputs) = mpsc::channel::<Vec<u8>>();
        let (results, done) = mpsc::channel();
        std::thread::spawn(move || {
            for data in inputs {
                let r = std::panic::catch_unwind(|| target(&data)).map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_string()))
                        .unwrap_or_else(|| "a panic".into())
                });
                if results.send(r).is_err() {
                    return;
                }
            }
        });
        Worker { input, done }
    }

    /// Runs `data`; on a hang the worker is abandoned and a fresh one takes its place.
    fn run(&mut self, target: Target, data: Vec<u8>) -> Result<(), String> {
        self.input
            .send(data)
            .map_err(|_| "the worker is gone".to_string())?;
        match self.done.recv_timeout(TIME_LIMIT) {
            Ok(r) => r.map_err(|p| format!("panicked: {p}")),
            Err(_) => {
                *self = Worker::new(target);
                Err(format!("took longer than {TIME_LIMIT:?}"))
            }
        }
    }
}

fn target(name: &str) -> Target {
    TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .unwrap_or_else(|| panic!("no target {name}"))
}

/// Fuzzes target `name` for `cases` cases over its seeds.
fn fuzz(name: &str, cases: u32) {
    let seeds = &seeds()[name];
    assert!(!seeds.is_empty(), "target {name} has no seeds");
    let json = seeds
        .iter()
        .any(|s| serde_json::from_slice::<Value>(s).is_ok() || json_lines(s).is_some());
    let t = target(name);
    let worker = std::cell::RefCell::new(Worker::new(t));
    // A longer campaign: `CI_ATTEST_FUZZ_CASES=100000 cargo test --release --test fuzz_parsers`.
    let cases = std::env::var("CI_ATTEST_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    };
    let strategy = (pick(), pick(), prop::collection::vec(mutation(json), 1..4));
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |(seed, other, mutations)| {
        let data = apply(
            &seeds[seed.index(seeds.len())],
            &seeds[other.index(seeds.len())],
            &mutations,
        );
        worker.borrow_mut().run(t, data.clone()).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\ninput ({} bytes): {}",
                data.len(),
                show(&data)
            ))
        })
    });
    if let Err(e) = result {
        panic!("fuzz target {name}: {e}");
    }
}

/// The input, as a Rust byte-string literal body (for a regression test), cut when long.
fn show(data: &[u8]) -> String {
    const MAX: usize = 4000;
    let text: String = data
        .iter()
        .take(MAX)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if data.len() > MAX {
        format!("{text}… (cut)")
    } else {
        text
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.
// ---------------------------------------------------------------------------------------------

/// The seeds must be what they claim to be, or the fuzzing would start from noise: every target
/// has seeds, and the main kinds parse.
#[test]
fn seeds_are_real_inputs() {
    let s = seeds();
    for (name, _) in TARGETS {
        assert!(!s[name].is_empty(), "target {name} has no seeds");
    }
    let parsing = s["bundle"]
        .iter()
        .filter(|b| ci_attest::bundle::Bundle::from_slice(b).is_ok())
        .count();
    assert!(parsing >= 20, "only {parsing} seed bundles parse");
    for r in &s["trusted_root"] {
        ci_attest::trust::TrustedRoot::from_json(r).expect("seed trusted roots parse");
    }
    let checkpoints = s["checkpoint"]
        .iter()
        .filter(|c| {
            std::str::from_utf8(c)
                .ok()
                .and_then(|t| ci_attest::verify::tlog::checkpoint::Checkpoint::parse(t).ok())
                .is_some()
        })
        .count();
    assert!(
        checkpoints >= 5,
        "only {checkpoints} seed checkpoints parse"
    );
    assert!(
        s["sct_list"].len() >= 3,
        "SCT seeds: {}",
        s["sct_list"].len()
    );
    for (format, name) in [
        (ci_attest::collect::ReportFormat::Junit, "report_junit"),
        (
            ci_attest::collect::ReportFormat::LibtestJson,
            "report_libtest",
        ),
        (ci_attest::collect::ReportFormat::Lcov, "report_lcov"),
        (
            ci_attest::collect::ReportFormat::Cobertura,
            "report_cobertura",
        ),
        (ci_attest::collect::ReportFormat::Sarif, "report_sarif"),
        (ci_attest::collect::ReportFormat::Clippy, "report_clippy"),
    ] {
        for r in &s[name] {
            ci_attest::collect::parse_reader(format, &r[..])
                .unwrap_or_else(|e| panic!("seed {name} does not parse: {e}"));
        }
    }
}

/// The key-signed seed verifies under the fuzz context, so mutations of it start from a bundle
/// that passes every step.
#[test]
fn the_key_signed_seed_verifies_under_the_fuzz_context() {
    for st in local_run_statements() {
        let mut findings = Vec::new();
        assert!(
            ci_attest::verify::parse_statement(&st, &mut findings).is_some(),
            "{findings:?}"
        );
    }
    let policy = ci_attest::policy::Policy::parse(
        &fuzz_targets::fuzz_policy_text(),
        "fuzz-policy.toml",
        Path::new("."),
    )
    .expect("the fuzz policy parses");
    assert_eq!(policy.signers.len(), 3);
    let commit = ci_attest::git::CommitInfo {
        id: ci_attest::git::CommitId::parse(COMMIT_ID).expect("id"),
        sha256: COMMIT_SHA256.into(),
        tree: "fedcba9876543210fedcba9876543210fedcba98".into(),
    };
    struct Keys;
    impl ci_attest::judge::KeySource for Keys {
        fn public_key_pem(&self, _: &str) -> Result<Option<String>, ci_attest::store::StoreError> {
            Ok(Some(fuzz_targets::FUZZ_PUBLIC_KEY_PEM.into()))
        }
    }
    let root = ci_attest::trust::TrustedRoot::production();
    let judge =
        ci_attest::judge::Judge::new(&policy, &Keys, &root, fuzz_targets::verification_time());
    for bundle in key_signed_bundles() {
        let fetched = ci_attest::store::Fetched::of(vec![ci_attest::store::StoredBundle {
            location: "seed.sigstore.json".into(),
            bytes: bundle.clone(),
        }]);
        let report = judge.commit(&commit, &fetched);
        let signer = report.bundles[0].signer.clone();
        assert_eq!(signer.as_deref(), Some("fuzz-key"), "{:?}", report.findings);
    }
}

/// Writes the seeds as a cargo-fuzz corpus when `CI_ATTEST_FUZZ_CORPUS` names a directory.
#[test]
fn write_fuzz_corpus() {
    let Some(dir) = std::env::var_os("CI_ATTEST_FUZZ_CORPUS") else {
        return;
    };
    for (name, seeds) in seeds() {
        let d = Path::new(&dir).join(name);
        std::fs::create_dir_all(&d).expect("corpus directory");
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:03}")), s).expect("corpus file");
        }
    }
}

/// Mutations do what they say (a fuzzer whose mutations are no-ops tests nothing).
#[test]
fn mutations_change_the_input() {
    let seed = br#"{"a":{"b":"AAEC","c":[1,2]}}"#;
    let dup = apply(
        seed,
        seed,
        &[Mutation::Json(
            Pick(0usize),
            JsonEdit::DuplicateKey(Pick(0usize)),
        )],
    );
    assert_eq!(
        std::str::from_utf8(&dup).ok(),
        Some(r#"{"a":null,"a":{"b":"AAEC","c":[1,2]}}"#)
    );
    let b64 = apply(
        seed,
        seed,
        &[Mutation::Json(
            Pick(2usize),
            JsonEdit::MutateBase64(Pick(0usize), 0),
        )],
    );
    assert_eq!(
        std::str::from_utf8(&b64).ok(),
        Some(r#"{"a":{"b":"AQEC","c":[1,2]}}"#)
    );
    let cut = apply(seed, seed, &[Mutation::Truncate(Pick(0usize))]);
    assert!(cut.is_empty());
}

macro_rules! fuzz_tests {
    ($($name:ident: $cases:expr;)*) => {
        $(
            #[test]
            fn $name() {
                fuzz(stringify!($name), $cases);
            }
        )*
        /// Every target in `fuzz_targets::TARGETS` has a test here.
        #[test]
        fn every_target_is_fuzzed() {
            let tested = [$(stringify!($name)),*];
            for (name, _) in TARGETS {
                assert!(tested.contains(name), "target {name} has no fuzz test");
            }
        }
    };
}

fuzz_tests! {
    bundle: 2000;
    dsse_envelope: 2000;
    statement: 2000;
    trusted_root: 1000;
    checkpoint: 2000;
    certificate: 2000;
    sct_list: 2000;
    rekor_body: 2000;
    timestamp: 2000;
    policy: 2000;
    report_junit: 2000;
    report_libtest: 2000;
    report_lcov: 2000;
    report_cobertura: 2000;
    report_sarif: 2000;
    report_clippy: 2000;
    verify_bundle: 1000;
}

// ---------------------------------------------------------------------------------------------
// Regressions: inputs the fuzzing found.
// ---------------------------------------------------------------------------------------------

/// An embedded SCT whose timestamp lies after year 9999, from a CT log of the root whose validity
/// ends before it, panicked formatting the time for the error (`cert::verify_sct` ->
/// `fmt_time`). Now an "out of range" error.
#[test]
fn an_sct_timestamp_after_year_9999_is_an_error_not_a_panic() {
    let root = ci_attest::trust::TrustedRoot::production();
    for log in &root.ctlogs {
        for timestamp_ms in [253_402_300_800_000u64, u64::MAX / 2, u64::MAX] {
            let mut sct = vec![0u8];
            sct.extend_from_slice(&log.log_id);
            sct.extend_from_slice(&timestamp_ms.to_be_bytes());
            sct.extend_from_slice(&[0, 0, 4, 3, 0, 0]);
            let mut list = u16::try_from(sct.len())
                .expect("short")
                .to_be_bytes()
                .to_vec();
            list.extend_from_slice(&sct);
            let mut body = u16::try_from(list.len())
                .expect("short")
                .to_be_bytes()
                .to_vec();
            body.extend_from_slice(&list);
            let mut extn_value = vec![0x04, u8::try_from(body.len()).expect("short")];
            extn_value.extend_from_slice(&body);
            assert_eq!(ci_attest::fuzzing::sct_list(&extn_value, &[], &root), 1);
        }
    }
}

/// Regression: a log entry's `integratedTime` of `9223372036854775807` (found by this fuzzer)
/// once panicked in the tlog and certificate time checks; every seed with log entries, so
/// altered, now goes through the whole verifier without a panic.
#[test]
fn an_integrated_time_of_i64_max_never_panics() {
    let seeds = &seeds()["verify_bundle"];
    let mut fed = 0;
    for seed in seeds {
        let mut v: Value = serde_json::from_slice(seed).expect("seed bundles are JSON");
        let Some(entries) = v
            .pointer_mut("/verificationMaterial/tlogEntries")
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        if entries.is_empty() {
            continue;
        }
        for e in entries.iter_mut() {
            e["integratedTime"] = Value::String("9223372036854775807".into());
        }
        let input = serde_json::to_vec(&v).expect("JSON");
        if ci_attest::bundle::Bundle::from_slice(&input).is_ok() {
            fuzz_targets::verify_bundle(&input);
            fed += 1;
        }
    }
    assert!(fed >= 10, "{fed}");
}
