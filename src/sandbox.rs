//! Sealing checks off from the signer's machine (Linux: bubblewrap).
//!
//! A check is code from the commit, which may be a teammate's hostile one. Each check runs in a
//! sandbox where:
//! - the repository's own path shows the pristine checkout (so absolute paths recorded by editable
//!   installs, `npm link` or path dependencies resolve to committed files), and git inside it sees
//!   only the checkout's private git folder, whose alternates point at a read-only mount of the
//!   object store;
//! - the whole host file system is read-only; the repository's git folder, its other worktrees, the
//!   signing key and its folder, the store, the password file, credential folders and agent sockets
//!   are hidden; `/tmp` is private;
//! - ci-attest's own process is invisible (own PID namespace), every process the check starts dies
//!   with it (when the namespace's first process ends the kernel kills the rest), capabilities are
//!   dropped even for root, and the session is new (no terminal injection);
//! - optionally the network is cut (`network = false`: a network namespace with loopback only).
//!
//! The environment is built by the caller ([`check_env`]): an allow-list, never the whole of it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Environment variables a check always gets from ci-attest's environment, when set.
pub const ALLOWED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TERM",
    "TZ",
    "NO_COLOR",
    "CLICOLOR",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTFLAGS",
    "VIRTUAL_ENV",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "CONDA_PREFIX",
    "NVM_DIR",
    "NVM_BIN",
    "GOPATH",
    "GOROOT",
    "JAVA_HOME",
    "CC",
    "CXX",
    "PKG_CONFIG_PATH",
];

/// Variables that carry ci-attest's or the forge's secrets: never passed to a check, even if listed.
pub const FORBIDDEN_ENV: &[&str] = &[
    "CI_ATTEST_PASSWORD",
    "SIGSTORE_ID_TOKEN",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL",
    "ACTIONS_RUNTIME_TOKEN",
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
];

/// True when a variable name may never reach a check.
pub fn is_forbidden_env(name: &str) -> bool {
    FORBIDDEN_ENV.contains(&name) || name.starts_with("ACTIONS_ID_TOKEN_")
}

/// The environment a check gets: the allow-list plus the signer's `pass_env`, read through `get`
/// (so the library never reads the process environment itself), and `CI_ATTEST=1`.
pub fn check_env(
    get: &dyn Fn(&str) -> Option<OsString>,
    pass_env: &[String],
    sandboxed: bool,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = ALLOWED_ENV
        .iter()
        .copied()
        .chain(pass_env.iter().map(String::as_str))
        .filter(|name| !is_forbidden_env(name))
        .filter_map(|name| get(name).map(|v| (OsString::from(name), v)))
        .collect();
    env.sort();
    env.dedup_by(|a, b| a.0 == b.0);
    if sandboxed {
        env.retain(|(k, _)| k != "TMPDIR");
        env.push(("TMPDIR".into(), "/tmp".into()));
    }
    env.push(("CI_ATTEST".into(), "1".into()));
    env
}

/// Files and folders under the home folder that hold credentials; hidden from every check.
pub const HOME_SECRETS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".netrc",
    ".git-credentials",
    ".config/git/credentials",
    ".config/gh",
    ".config/hub",
    ".config/ci-attest",
    ".config/gcloud",
    ".config/op",
    ".config/sops",
    ".docker",
    ".aws",
    ".azure",
    ".kube",
    ".oci",
    ".npmrc",
    ".yarnrc",
    ".pypirc",
    ".gem/credentials",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".m2/settings.xml",
    ".gradle/gradle.properties",
    ".terraform.d",
    ".vault-token",
    ".password-store",
    ".local/share/keyrings",
];

/// Sockets and runtime folders of agents (ssh, gpg, docker, desktop keyrings); hidden.
pub const SYSTEM_SECRETS: &[&str] = &[
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/podman",
    "/run/containerd",
];

/// A working bubblewrap.
#[derive(Debug, Clone)]
pub struct Bubblewrap {
    program: PathBuf,
    version: String,
    root: bool,
}

/// Why no sandbox can be set up here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("no sandbox: {0}")]
pub struct Unavailable(pub String);

impl Bubblewrap {
    /// Finds `bwrap` on `path` and checks that it can make a sandbox here (user namespaces allowed).
    pub fn detect(path: Option<&std::ffi::OsStr>, root: bool) -> Result<Bubblewrap, Unavailable> {
        if !cfg!(target_os = "linux") {
            return Err(Unavailable(format!(
                "sealed checks need Linux namespaces (bubblewrap); this is {}",
                std::env::consts::OS
            )));
        }
        let program = path
            .into_iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("bwrap"))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Unavailable(
                    "bubblewrap (`bwrap`) is not on PATH: install it (Debian/Ubuntu: `apt-get install bubblewrap`, Fedora: `dnf install bubblewrap`)".into(),
                )
            })?;
        // The version is asked at the same time as the probe runs (two processes, one wait).
        let version = Command::new(&program)
            .arg("--version")
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let out = Command::new(&program)
            .args(["--ro-bind", "/", "/", "--unshare-pid", "--die-with-parent"])
            .args(root.then_some(["--cap-drop", "ALL"]).into_iter().flatten())
            .args(["--", "true"])
            .env_clear()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Unavailable(format!("cannot start {}: {e}", program.display())))?;
        let version = version
            .and_then(std::process::Child::wait_with_output)
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "bubblewrap".into());
        if !out.status.success() {
            return Err(Unavailable(format!(
                "{} cannot create a sandbox here (user namespaces may be disabled, e.g. by \
                 kernel.apparmor_restrict_unprivileged_userns=1 or in a container): {}",
                program.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Bubblewrap {
            program,
            version,
            root,
        })
    }

    /// The mechanism as recorded in the predicate, e.g. `bubblewrap 0.8.0`.
    pub fn mechanism(&self) -> &str {
        &self.version
    }

    /// A command that runs `sh -c script` sealed as the [`Seal`] says.
    pub fn command(&self, seal: &Seal, script: &str) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(seal.args(self.root))
            .args(["--", "sh", "-c", script]);
        cmd
    }
}

/// What one sandbox shows and hides.
#[derive(Debug, Clone)]
pub struct Seal {
    /// The repository's own path, where the checkout is mounted.
    pub repo_root: PathBuf,
    /// The pristine checkout.
    pub checkout: PathBuf,
    /// The repository's object store (mounted read-only at `objects_at`).
    pub objects: PathBuf,
    /// Where the checkout's alternates expect the object store inside the sandbox.
    pub objects_at: PathBuf,
    /// The folder of the run (checkout, logs): hidden except for the mounts above.
    pub run_dir: PathBuf,
    /// Files and folders to hide (key, store, git folders, other worktrees...); missing ones are
    /// skipped.
    pub hide: Vec<PathBuf>,
    /// False cuts the network (loopback only).
    pub network: bool,
    /// Writable folders mounted over the checkout or the home folder (`(source, target)`), the
    /// run's caches; mounted after the checkout so they cover its paths.
    pub binds: Vec<(PathBuf, PathBuf)>,
}

impl Seal {
    /// bubblewrap's arguments, in mount order (later mounts cover earlier ones).
    fn args(&self, root: bool) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut push = |items: &[&dyn AsRef<std::ffi::OsStr>]| {
            a.extend(items.iter().map(|i| i.as_ref().to_os_string()));
        };
        push(&[
            &"--die-with-parent",
            &"--new-session",
            &"--unshare-pid",
            &"--unshare-ipc",
            &"--unshare-uts",
            &"--unshare-cgroup-try",
        ]);
        if root {
            push(&[&"--cap-drop", &"ALL"]);
        }
        if !self.network {
            push(&[&"--unshare-net"]);
        }
        push(&[
            &"--ro-bind",
            &"/",
            &"/",
            &"--dev",
            &"/dev",
            &"--proc",
            &"/proc",
            &"--tmpfs",
            &"/tmp",
            &"--tmpfs",
            &"/dev/shm",
        ]);
        for path in &self.hide {
            // Hiding the root or a folder holding the repository would hide the checkout.
            if self.repo_root.starts_with(path) {
                continue;
            }
            // Never follow a link planted in place of a secret: hide the link's own path.
            let Ok(meta) = std::fs::symlink_metadata(path) else {
                continue;
            };
            if meta.is_dir() {
                push(&[&"--tmpfs", path]);
            } else {
                push(&[&"--ro-bind", &"/dev/null", path]);
            }
        }
        push(&[
            &"--tmpfs",
            &self.run_dir,
            &"--ro-bind",
            &self.objects,
            &self.objects_at,
            &"--bind",
            &self.checkout,
            &self.repo_root,
        ]);
        for (source, target) in &self.binds {
            push(&[&"--bind", source, target]);
        }
        push(&[&"--chdir", &self.repo_root]);
        a
    }
}

/// The paths to hide for a check: credential folders under `home`, agent sockets, `/run/user/<uid>`,
/// plus `extra` (key, store, git folders...). A folder that holds the repository or the home
/// folder itself is not hidden whole (that would hide the checkout and the toolchains): the caller
/// lists the file instead.
pub fn secret_paths(home: Option<&Path>, uid: u32, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    if let Some(home) = home {
        v.extend(HOME_SECRETS.iter().map(|s| home.join(s)));
    }
    v.extend(SYSTEM_SECRETS.iter().map(PathBuf::from));
    v.push(PathBuf::from(format!("/run/user/{uid}")));
    v.extend(extra.iter().cloned());
    v
}

/// The folder to hide for a secret file: its parent, unless that parent holds `keep` (the
/// repository, the home folder) or is the root, in which case the file alone.
pub fn hide_with_folder(file: &Path, keep: &[&Path]) -> PathBuf {
    match file.parent() {
        Some(parent)
            if parent.parent().is_some()
                && !parent.as_os_str().is_empty()
                && !keep.iter().any(|k| k.starts_with(parent)) =>
        {
            parent.to_path_buf()
        }
        _ => file.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_pass_even_when_listed() {
        let get = |name: &str| Some(OsString::from(format!("value-of-{name}")));
        let env = check_env(
            &get,
            &[
                "GITHUB_TOKEN".into(),
                "MY_FLAG".into(),
                "ACTIONS_ID_TOKEN_X".into(),
            ],
            true,
        );
        let names: Vec<String> = env
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert!(names.contains(&"MY_FLAG".to_string()));
        assert!(names.contains(&"PATH".to_string()));
        for bad in [
            "GITHUB_TOKEN",
            "CI_ATTEST_PASSWORD",
            "SIGSTORE_ID_TOKEN",
            "ACTIONS_ID_TOKEN_X",
        ] {
            assert!(!names.contains(&bad.to_string()), "{bad} passed");
        }
        assert!(env.contains(&("TMPDIR".into(), "/tmp".into())));
    }

    #[test]
    fn a_key_next_to_the_repository_is_hidden_alone() {
        let repo = Path::new("/home/a/src/app");
        let home = Path::new("/home/a");
        assert_eq!(
            hide_with_folder(Path::new("/home/a/keys/k.key"), &[repo, home]),
            PathBuf::from("/home/a/keys")
        );
        assert_eq!(
            hide_with_folder(Path::new("/home/a/k.key"), &[repo, home]),
            PathBuf::from("/home/a/k.key")
        );
        assert_eq!(
            hide_with_folder(Path::new("/k.key"), &[repo, home]),
            PathBuf::from("/k.key")
        );
    }

    #[test]
    fn the_checkout_is_mounted_last_over_the_repository() {
        let seal = Seal {
            repo_root: "/r".into(),
            checkout: "/t/run/checkout".into(),
            objects: "/r/.git/objects".into(),
            objects_at: "/t/run/objects".into(),
            run_dir: "/t/run".into(),
            hide: vec!["/".into(), "/r".into(), "/nonexistent/ci-attest".into()],
            network: false,
            binds: Vec::new(),
        };
        let args: Vec<String> = seal
            .args(true)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("--cap-drop ALL"), "{joined}");
        assert!(joined.contains("--unshare-net"), "{joined}");
        assert!(!joined.contains("/nonexistent"), "{joined}");
        assert!(
            !joined.contains("--tmpfs / "),
            "never hides the root: {joined}"
        );
        assert!(
            !joined.contains("--tmpfs /r "),
            "never hides the repository: {joined}"
        );
        assert!(
            joined.ends_with("--bind /t/run/checkout /r --chdir /r"),
            "{joined}"
        );
        let cached = Seal {
            binds: vec![("/r/.git/ci-attest/cache/t".into(), "/r/target".into())],
            ..seal
        };
        let joined = cached
            .args(false)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            joined.ends_with(
                "--bind /t/run/checkout /r --bind /r/.git/ci-attest/cache/t /r/target --chdir /r"
            ),
            "caches are mounted over the checkout: {joined}"
        );
    }
}
