//! Offline means offline: `verify --offline`, `audit --offline` and `audit --import` run inside a
//! network namespace with no interface but a down loopback (`unshare -rn`, or bubblewrap's
//! `--unshare-net`), where any socket to the outside fails, and still succeed. The same commands
//! without `--offline` that do need the network fail there, so the namespace is known to bite.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};

/// The command that runs its arguments without network: `unshare -rn` where user namespaces
/// are allowed, else bubblewrap (installed by tests/sandbox/install.sh). Fails the test, never
/// skips it, when neither works.
fn no_network() -> Vec<String> {
    let candidates: [&[&str]; 2] = [
        &["unshare", "-rn"],
        &["bwrap", "--unshare-net", "--dev-bind", "/", "/"],
    ];
    for c in candidates {
        let probe = Command::new(c[0])
            .args(&c[1..])
            .args(["cat", "/proc/net/dev"])
            .output();
        if let Ok(out) = probe {
            let dev = String::from_utf8_lossy(&out.stdout);
            // Only the loopback interface in the namespace (the two header lines aside).
            let interfaces: Vec<&str> = dev
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(str::trim)
                .collect();
            if out.status.success() && interfaces == ["lo"] {
                return c.iter().map(|s| s.to_string()).collect();
            }
        }
    }
    panic!(
        "no way to run a command without network: expected `unshare -rn` (user namespaces) or \
         bubblewrap (`bwrap --unshare-net`, installed by tests/sandbox/install.sh) to work, found neither"
    );
}

fn offline(dir: &Path, args: &[&str]) -> Output {
    let wrap = no_network();
    Command::new(&wrap[0])
        .args(&wrap[1..])
        .arg(env!("CARGO_BIN_EXE_ci-attest"))
        .args(args)
        .current_dir(dir)
        .env_remove("CI_ATTEST_PASSWORD")
        .output()
        .expect("runs")
}

#[test]
fn verify_audit_and_import_succeed_in_a_network_namespace_with_offline() {
    let p = attested();
    let at = p.bundle_time(60);
    // Bundles in this clone's refs/ci-attest/* (pushed once to a local bare remote), and then an
    // origin that only the network could reach.
    let parent = p.root.parent().expect("parent");
    git(parent, &["init", "--quiet", "--bare", "remote.git"]);
    git(
        &p.root,
        &[
            "remote",
            "add",
            "origin",
            &parent.join("remote.git").to_string_lossy(),
        ],
    );
    let out = p.cmd().args(["push"]).output().expect("runs");
    assert!(out.status.success(), "push: {}", text(&out));
    assert!(
        git(&p.root, &["for-each-ref", "refs/ci-attest/"]).contains("refs/ci-attest/"),
        "push keeps the refs in this clone"
    );
    git(
        &p.root,
        &[
            "remote",
            "set-url",
            "origin",
            "https://ci-attest.invalid/acme/app.git",
        ],
    );

    // The namespace bites: fetching the refs needs the network and fails.
    let out = offline(&p.root, &["verify", "--from", "git", "--at", &at]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    for args in [
        vec!["verify", "--offline", "--at", &at],
        vec!["verify", "--offline", "--from", "git", "--at", &at],
        vec!["audit", "--offline", "--range", "HEAD", "--at", &at],
        vec![
            "audit",
            "--offline",
            "--from",
            "git",
            "--range",
            "HEAD",
            "--at",
            &at,
        ],
    ] {
        let out = offline(&p.root, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
    }

    // --offline refuses the one store that is only reachable over the network, before any
    // client is built.
    let out = offline(&p.root, &["audit", "--offline", "--from", "github"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // An auditor's package replays without network, too.
    let pkg = parent.join("package");
    let out = offline(
        &p.root,
        &[
            "audit",
            "--offline",
            "--range",
            "HEAD",
            "--at",
            &at,
            "--format",
            "json",
            "--export",
            &pkg.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let exported = out.stdout;
    let out = offline(
        parent,
        &[
            "audit",
            "--import",
            &pkg.to_string_lossy(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(out.stdout, exported);

    // And one of the git store's local refs (the report names them by ref).
    let pkg = parent.join("package-git");
    let out = offline(
        &p.root,
        &[
            "audit",
            "--offline",
            "--from",
            "git",
            "--range",
            "HEAD",
            "--at",
            &at,
            "--format",
            "json",
            "--export",
            &pkg.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let exported = out.stdout;
    assert!(
        String::from_utf8_lossy(&exported).contains("refs/ci-attest/"),
        "bundles located by ref"
    );
    let out = offline(
        parent,
        &["audit", &pkg.to_string_lossy(), "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(out.stdout, exported);
}
