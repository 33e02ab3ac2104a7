//! The verifier workflow `init` writes installs ci-attest in a way that works: through this
//! repository's composite action (`action.yml`), which builds from its own checkout, caches the
//! build, and takes every input the workflow gives it.

use std::path::Path;

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The keys of the `with:` block that follows the `uses: ci-attest/ci-attest@` line.
fn action_arguments(workflow: &str) -> Vec<String> {
    let mut lines = workflow
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("uses: ci-attest/ci-attest@"));
    let uses = lines
        .next()
        .expect("the workflow uses the ci-attest action");
    let indent = uses.len() - uses.trim_start().len();
    let mut keys = Vec::new();
    let mut in_with = false;
    for line in lines {
        let own = line.len() - line.trim_start().len();
        if line.trim().is_empty() || own < indent || line.trim_start().starts_with("- ") {
            break;
        }
        if own == indent {
            in_with = line.trim() == "with:";
            continue;
        }
        if in_with {
            if let Some((key, _)) = line.trim().split_once(':') {
                keys.push(key.to_string());
            }
        }
    }
    keys
}

/// The names under `inputs:` in action.yml.
fn action_inputs(action: &str) -> Vec<String> {
    action
        .lines()
        .skip_while(|l| *l != "inputs:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.trim().strip_suffix(':').map(str::to_string))
        .collect()
}

#[test]
fn the_workflow_runs_the_action_of_its_own_release_with_inputs_the_action_has() {
    let workflow = read("src/cli/templates/ci-attest-verify.yml");
    assert!(
        workflow.contains("uses: ci-attest/ci-attest@{{ACTION_REF}} # v{{VERSION}}"),
        "the action of the release init comes from"
    );
    assert!(
        !workflow.contains("cargo install --locked ci-attest --version"),
        "no install from a registry that has no ci-attest"
    );
    let inputs = action_inputs(&read("action.yml"));
    assert!(inputs.contains(&"commit".to_string()), "{inputs:?}");
    let args = action_arguments(&workflow);
    assert!(
        ["commit", "policy", "from", "report"]
            .iter()
            .all(|a| args.contains(&a.to_string())),
        "{args:?}"
    );
    for arg in &args {
        assert!(
            inputs.contains(arg),
            "the workflow passes `{arg}`, which action.yml does not take ({inputs:?})"
        );
    }
}

#[test]
fn the_action_builds_from_its_own_checkout_and_caches_the_build_by_its_sources() {
    let action = read("action.yml");
    assert!(action.contains("cargo install --locked --path \"$GITHUB_ACTION_PATH\""));
    assert!(action.contains("uses: actions/cache@"));
    // The cache key is the digest of the sources that build the binary, never a mutable ref.
    assert!(action.contains("find Cargo.lock Cargo.toml src -type f"));
    assert!(action.contains("key: ${{ steps.key.outputs.key }}"));
    assert!(action.contains("if: steps.cache.outputs.cache-hit != 'true'"));
    // Every `uses:` is pinned to a full commit SHA.
    for line in action
        .lines()
        .filter(|l| l.trim_start().starts_with("uses:"))
    {
        let reference = line.split('@').nth(1).unwrap_or("");
        let sha = reference.split_whitespace().next().unwrap_or("");
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "not pinned to a commit: {line}"
        );
    }
}

#[test]
fn the_optional_scheduled_job_reproduces_a_sample_sealed_and_only_on_schedule() {
    let workflow = read("src/cli/templates/ci-attest-verify.yml");
    // Optional: the trigger is there to uncomment, not on by default.
    assert!(workflow.contains("  # schedule:\n  #   - cron:"), "{workflow}");
    let job = workflow
        .split("\n  reproduce:\n")
        .nth(1)
        .expect("a reproduce job");
    assert!(job.contains("if: github.event_name == 'schedule'"));
    assert!(job.contains("kernel.apparmor_restrict_unprivileged_userns=0"));
    assert!(job.contains("reproduce --range \"$range\" --sample 10 --from git"));
    assert!(job.contains("contents: read"));
    assert!(!job.contains("write"), "the spot check writes nothing: {job}");
    // The verify job does not run on the schedule.
    let verify = workflow.split("\n  reproduce:\n").next().expect("verify job");
    assert!(verify.contains("if: github.event_name != 'schedule'"));
}
