//! Check runs, commit statuses and repository dispatch, through octocrab's typed API (retried
//! by the shared transport), and the text truncation GitHub's field limits need.

use super::{
    CHECK_NAME, DISPATCH_EVENT, GitHub, GitHubError, MAX_STATUS_DESCRIPTION_CHARS,
    MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, Operation, check_sha,
};
use octocrab::models;
use octocrab::params::checks::{CheckRunConclusion, CheckRunOutput, CheckRunStatus};
use serde_json::json;

/// The state of a commit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    /// Accepted.
    Success,
    /// Rejected.
    Failure,
    /// Could not be decided.
    Error,
    /// Not decided yet.
    Pending,
}

impl StatusState {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Success => "success",
            StatusState::Failure => "failure",
            StatusState::Error => "error",
            StatusState::Pending => "pending",
        }
    }

    fn typed(self) -> models::StatusState {
        match self {
            StatusState::Success => models::StatusState::Success,
            StatusState::Failure => models::StatusState::Failure,
            StatusState::Error => models::StatusState::Error,
            StatusState::Pending => models::StatusState::Pending,
        }
    }
}

/// The conclusion of a completed check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// Accepted.
    Success,
    /// Rejected.
    Failure,
    /// Neither: informational only (GitHub shows it grey and it does not block a merge).
    Neutral,
}

impl Conclusion {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Neutral => "neutral",
        }
    }

    fn typed(self) -> CheckRunConclusion {
        match self {
            Conclusion::Success => CheckRunConclusion::Success,
            Conclusion::Failure => CheckRunConclusion::Failure,
            Conclusion::Neutral => CheckRunConclusion::Neutral,
        }
    }
}

impl GitHub {
    /// Creates a completed check run named `ci-attest` on `commit`, completed at the client's
    /// clock time. The title is cut to [`MAX_TITLE_CHARS`] and the summary (markdown) to
    /// [`MAX_SUMMARY_CHARS`]; returns its URL.
    pub fn create_check_run(
        &self,
        commit: &str,
        conclusion: Conclusion,
        title: &str,
        summary_markdown: &str,
    ) -> Result<Option<String>, GitHubError> {
        let op = Operation::CreateCheckRun;
        check_sha(op, commit)?;
        let repo = &self.config().repository;
        let title = truncate_chars(title, MAX_TITLE_CHARS, "…");
        let summary = truncate_markdown(summary_markdown, MAX_SUMMARY_CHARS);
        let completed_at = self.transport.now();
        let path = format!("{}/check-runs", self.repo_path());
        let run = self.transport.typed(op, &path, |api| {
            let (title, summary) = (title.clone(), summary.clone());
            async move {
                api.checks(repo.owner(), repo.name())
                    .create_check_run(CHECK_NAME, commit)
                    .status(CheckRunStatus::Completed)
                    .conclusion(conclusion.typed())
                    .completed_at(completed_at.into())
                    .output(CheckRunOutput {
                        title,
                        summary,
                        text: None,
                        annotations: Vec::new(),
                        images: Vec::new(),
                    })
                    .send()
                    .await
            }
        })?;
        Ok(run.html_url)
    }

    /// Sets the `ci-attest` commit status of `commit`; the description is cut to
    /// [`MAX_STATUS_DESCRIPTION_CHARS`] characters.
    pub fn create_commit_status(
        &self,
        commit: &str,
        state: StatusState,
        description: &str,
        target_url: Option<&str>,
    ) -> Result<(), GitHubError> {
        let op = Operation::CreateCommitStatus;
        check_sha(op, commit)?;
        let repo = &self.config().repository;
        let description = truncate_chars(description, MAX_STATUS_DESCRIPTION_CHARS, "…");
        let path = format!("{}/statuses/{commit}", self.repo_path());
        self.transport.typed(op, &path, |api| {
            let description = description.clone();
            async move {
                let repos = api.repos(repo.owner(), repo.name());
                let status = repos
                    .create_status(commit.to_string(), state.typed())
                    .context(CHECK_NAME.to_string())
                    .description(description);
                let status = match target_url {
                    Some(url) => status.target(url.to_string()),
                    None => status,
                };
                status.send().await
            }
        })?;
        Ok(())
    }

    /// Sends a `repository_dispatch` event of type `ci-attest` with `client_payload.sha`, which
    /// starts the verifier workflow.
    pub fn repository_dispatch(&self, commit: &str) -> Result<(), GitHubError> {
        let op = Operation::RepositoryDispatch;
        check_sha(op, commit)?;
        let repo = &self.config().repository;
        let path = format!("{}/dispatches", self.repo_path());
        self.transport.typed(op, &path, |api| async move {
            api.repos(repo.owner(), repo.name())
                .create_dispatch(DISPATCH_EVENT)
                .client_payload(json!({ "sha": commit }))
                .send()
                .await
        })
    }
}

/// Cuts `text` to at most `max` characters (never inside a character), ending with `marker`.
pub fn truncate_chars(text: &str, max: usize, marker: &str) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(marker.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(marker);
    out
}

/// Cuts markdown to at most `max` characters at a line boundary where possible, and says so.
pub fn truncate_markdown(text: &str, max: usize) -> String {
    const NOTE: &str = "\n\n*(report truncated: GitHub limits a check run summary to 65535 characters; the full report is in the job log)*\n";
    if text.chars().count() <= max {
        return text.to_string();
    }
    let keep = max.saturating_sub(NOTE.chars().count());
    let cut: String = text.chars().take(keep).collect();
    let cut = match cut.rfind('\n') {
        Some(i) if i > cut.len() / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{cut}{NOTE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_respects_characters_and_limits() {
        let s = "é".repeat(200);
        let t = truncate_chars(&s, MAX_STATUS_DESCRIPTION_CHARS, "…");
        assert_eq!(t.chars().count(), MAX_STATUS_DESCRIPTION_CHARS);
        let md = "| a | ✅ |\n".repeat(20_000);
        let t = truncate_markdown(&md, MAX_SUMMARY_CHARS);
        assert!(t.chars().count() <= MAX_SUMMARY_CHARS);
        assert!(t.contains("report truncated"));
        assert_eq!(truncate_markdown("short", MAX_SUMMARY_CHARS), "short");
    }

    #[test]
    fn conclusions_and_states_have_the_api_spelling() {
        for c in [
            Conclusion::Success,
            Conclusion::Failure,
            Conclusion::Neutral,
        ] {
            let typed = serde_json::to_value(c.typed()).expect("serialises");
            assert_eq!(typed, json!(c.as_str()));
        }
        for s in [
            StatusState::Success,
            StatusState::Failure,
            StatusState::Error,
            StatusState::Pending,
        ] {
            let typed = serde_json::to_value(s.typed()).expect("serialises");
            assert_eq!(typed, json!(s.as_str()));
        }
    }
}
