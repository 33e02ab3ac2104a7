//! SARIF 2.1.0 logs (CodeQL, semgrep, ESLint's SARIF formatter, clippy-sarif, ...).
//!
//! The document is streamed through serde visitors: every `runs[*].results[*]` is counted by its
//! effective level and then forgotten; everything the parser does not need is skipped with
//! [`IgnoredAny`]. `version` must be `"2.1.0"`.
//!
//! Effective level of a result, following SARIF §3.27.10 with simplifications:
//! * an explicit `level` (`error`, `warning`, `note`, `none`) is used as is;
//! * without `level`, a result whose `kind` is present and not `fail` has level `none`;
//! * otherwise, if the result references a rule of the run's driver (`ruleIndex`, `rule.index`,
//!   `ruleId` or `rule.id`) whose `defaultConfiguration.level` is set, that level;
//! * otherwise `warning`.
//!
//! Simplifications: rules of tool extensions (`rule.toolComponent`) and configuration overrides in
//! `invocations` are not consulted, so such results fall back to `warning`. `none` counts nowhere.
//! Suppressed results are not counted: a result is suppressed when its `suppressions` array is
//! non-empty and none of its suppressions has status `underReview` or `rejected` (status absent
//! means accepted). Results with `baselineState` `absent` (reported as fixed since the baseline)
//! are not counted either.
//!
//! Memory is bounded: a byte-level guard in front of serde_json limits every string and number to
//! [`MAX_TOKEN_BYTES`] and nesting to [`MAX_JSON_DEPTH`], and per run at most [`MAX_RULE_ENTRIES`]
//! rule levels and pending rule references are kept.

use super::{LintCounts, MAX_TOKEN_BYTES, ReportError, ReportFormat};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, Read};

/// Deepest JSON nesting accepted (serde_json skips ignored values with a stack of its own).
pub const MAX_JSON_DEPTH: usize = 512;

/// Most rule default levels plus pending rule references kept for one run.
pub const MAX_RULE_ENTRIES: usize = 1 << 20;

/// A SARIF result level.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        match text {
            "none" => Some(Level::None),
            "note" => Some(Level::Note),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            _ => None,
        }
    }
}

/// A semantic failure found inside a visitor; turned into a [`ReportError`] with the position
/// serde_json attaches to the error that aborts deserialization.
enum Failure {
    Malformed { expected: String, found: String },
    TooLarge { what: String, limit: u64 },
}

type FailSlot = Cell<Option<Failure>>;

fn fail<E: de::Error>(slot: &FailSlot, failure: Failure) -> E {
    let message = match &failure {
        Failure::Malformed { expected, found } => format!("expected {expected}, found {found}"),
        Failure::TooLarge { what, .. } => format!("{what} too large"),
    };
    slot.set(Some(failure));
    E::custom(message)
}

fn malformed<E: de::Error>(slot: &FailSlot, expected: &str, found: String) -> E {
    fail(
        slot,
        Failure::Malformed {
            expected: expected.to_string(),
            found,
        },
    )
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A rule a result refers to.
#[derive(PartialEq, Eq, Hash)]
enum RuleRef {
    Index(u64),
    Id([u8; 32]),
}

/// Counts for the whole log.
struct Log {
    counts: LintCounts,
    version: Option<String>,
    saw_runs: bool,
}

impl Log {
    fn add(&mut self, level: Level, n: u64) {
        match level {
            Level::Error => self.counts.errors = self.counts.errors.saturating_add(n),
            Level::Warning => self.counts.warnings = self.counts.warnings.saturating_add(n),
            Level::Note => self.counts.notes = self.counts.notes.saturating_add(n),
            Level::None => {}
        }
    }
}

/// What one run contributes until its rules are known.
#[derive(Default)]
struct Run {
    /// Default level of the driver's rule at each index.
    rule_levels: Vec<Level>,
    /// Default level of driver rules by id digest, for rules whose level is not `warning`.
    rule_ids: HashMap<[u8; 32], Level>,
    /// Results without a level that reference a rule, by reference.
    pending: HashMap<RuleRef, u64>,
    /// Results whose level is already known.
    levels: [u64; 4],
    saw_results: bool,
}

impl Run {
    fn entries(&self) -> usize {
        self.rule_levels.len() + self.rule_ids.len() + self.pending.len()
    }

    fn check_room<E: de::Error>(&self, slot: &FailSlot) -> Result<(), E> {
        if self.entries() >= MAX_RULE_ENTRIES {
            return Err(fail(
                slot,
                Failure::TooLarge {
                    what: "rules and rule references of one run".to_string(),
                    limit: MAX_RULE_ENTRIES as u64,
                },
            ));
        }
        Ok(())
    }

    fn count(&mut self, level: Level) {
        self.levels[level as usize] += 1;
    }
}

// ----- log -----

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum LogKey {
    Version,
    Runs,
    #[serde(other)]
    Other,
}

struct LogSeed<'a> {
    log: &'a mut Log,
    slot: &'a FailSlot,
}

impl<'de> DeserializeSeed<'de> for LogSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SARIF log object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<LogKey>()? {
            match key {
                LogKey::Version => {
                    let version: String = map.next_value()?;
                    if version != "2.1.0" {
                        return Err(malformed(
                            self.slot,
                            "SARIF version \"2.1.0\"",
                            format!("{version:?}"),
                        ));
                    }
                    if self.log.version.replace(version).is_some() {
                        return Err(malformed(
                            self.slot,
                            "one \"version\" property",
                            "a second one".into(),
                        ));
                    }
                }
                LogKey::Runs => {
                    if std::mem::replace(&mut self.log.saw_runs, true) {
                        return Err(malformed(
                            self.slot,
                            "one \"runs\" property",
                            "a second one".into(),
                        ));
                    }
                    map.next_value_seed(Nullable(RunsSeed {
                        log: &mut *self.log,
                        slot: self.slot,
                    }))?;
                }
                LogKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Accepts `null` in place of the wrapped array (SARIF allows `"runs": null`, `"results": null`).
struct Nullable<S>(S);

impl<'de, S: DeserializeSeed<'de, Value = ()>> DeserializeSeed<'de> for Nullable<S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> Visitor<'de> for Nullable<S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.deserialize(d)
    }
}

// ----- runs -----

struct RunsSeed<'a> {
    log: &'a mut Log,
    slot: &'a FailSlot,
}

impl<'de> DeserializeSeed<'de> for RunsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RunsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of runs")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let mut run = Run::default();
            let seed = RunSeed {
                run: &mut run,
                slot: self.slot,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            for (level, n) in [Level::None, Level::Note, Level::Warning, Level::Error]
                .into_iter()
                .zip(run.levels)
            {
                self.log.add(level, n);
            }
            for (rule, n) in run.pending {
                let level = match rule {
                    RuleRef::Index(i) => usize::try_from(i)
                        .ok()
                        .and_then(|i| run.rule_levels.get(i).copied())
                        .unwrap_or(Level::Warning),
                    RuleRef::Id(id) => run.rule_ids.get(&id).copied().unwrap_or(Level::Warning),
                };
                self.log.add(level, n);
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum RunKey {
    Tool,
    Results,
    #[serde(other)]
    Other,
}

struct RunSeed<'a> {
    run: &'a mut Run,
    slot: &'a FailSlot,
}

impl<'de> DeserializeSeed<'de> for RunSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RunSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a run object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<RunKey>()? {
            match key {
                RunKey::Tool => map.next_value_seed(ToolSeed {
                    run: &mut *self.run,
                    slot: self.slot,
                    depth: 0,
                })?,
                RunKey::Results => {
                    if std::mem::replace(&mut self.run.saw_results, true) {
                        return Err(malformed(
                            self.slot,
                            "one \"results\" property per run",
                            "a second one".into(),
                        ));
                    }
                    map.next_value_seed(Nullable(ResultsSeed {
                        run: &mut *self.run,
                        slot: self.slot,
                    }))?
                }
                RunKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

// ----- tool.driver.rules -----

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum ToolKey {
    Driver,
    Rules,
    #[serde(other)]
    Other,
}

/// Visits `tool` (depth 0) and then `tool.driver` (depth 1), whose `rules` are read.
struct ToolSeed<'a> {
    run: &'a mut Run,
    slot: &'a FailSlot,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for ToolSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ToolSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.depth == 0 {
            "a tool object"
        } else {
            "a tool component object"
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<ToolKey>()? {
            match key {
                ToolKey::Driver if self.depth == 0 => map.next_value_seed(ToolSeed {
                    run: &mut *self.run,
                    slot: self.slot,
                    depth: 1,
                })?,
                ToolKey::Rules if self.depth == 1 => map.next_value_seed(Nullable(RulesSeed {
                    run: &mut *self.run,
                    slot: self.slot,
                }))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct RulesSeed<'a> {
    run: &'a mut Run,
    slot: &'a FailSlot,
}

impl<'de> DeserializeSeed<'de> for RulesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// The parts of a `reportingDescriptor` that decide its results' default level.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    default_configuration: Option<RuleConfiguration>,
}

#[derive(Deserialize)]
struct RuleConfiguration {
    #[serde(default)]
    level: Option<String>,
}

impl<'de> Visitor<'de> for RulesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of rules")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            self.run.check_room(self.slot)?;
            let Some(rule) = seq.next_element::<Rule>()? else {
                return Ok(());
            };
            let level = match rule.default_configuration.and_then(|c| c.level) {
                None => Level::Warning,
                Some(text) => match Level::parse(&text) {
                    Some(level) => level,
                    None => {
                        return Err(malformed(
                            self.slot,
                            "rule defaultConfiguration.level none, note, warning or error",
                            format!("{text:?}"),
                        ));
                    }
                },
            };
            self.run.rule_levels.push(level);
            if let Some(id) = rule.id
                && level != Level::Warning
            {
                self.run.rule_ids.insert(digest(&id), level);
            }
        }
    }
}

// ----- results -----

struct ResultsSeed<'a> {
    run: &'a mut Run,
    slot: &'a FailSlot,
}

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

/// The parts of a `result` that decide whether and how it counts.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    rule_index: Option<i64>,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    rule: Option<RuleReference>,
    #[serde(default)]
    suppressions: Option<Suppressions>,
    #[serde(default)]
    baseline_state: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<i64>,
    #[serde(default)]
    tool_component: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct Suppression {
    #[serde(default)]
    status: Option<String>,
}

/// A result's `suppressions` array, reduced while it is read to whether it suppresses the result:
/// non-empty, and no suppression `underReview` or `rejected`.
struct Suppressions {
    suppressed: bool,
}

impl<'de> Deserialize<'de> for Suppressions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SuppressionsVisitor;
        impl<'de> Visitor<'de> for SuppressionsVisitor {
            type Value = Suppressions;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of suppressions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Suppressions, A::Error> {
                let mut any = false;
                let mut blocked = false;
                while let Some(suppression) = seq.next_element::<Suppression>()? {
                    any = true;
                    blocked |= matches!(
                        suppression.status.as_deref(),
                        Some("underReview" | "rejected")
                    );
                }
                Ok(Suppressions {
                    suppressed: any && !blocked,
                })
            }
        }
        d.deserialize_seq(SuppressionsVisitor)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of results")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(result) = seq.next_element::<SarifResult>()? {
            // A result keeps only a few strings (each bounded by the guard) and one flag for its
            // suppressions, so memory does not depend on the result's size.
            let suppressed = result.suppressions.is_some_and(|s| s.suppressed);
            if suppressed || result.baseline_state.as_deref() == Some("absent") {
                continue;
            }
            if let Some(text) = &result.level {
                let Some(level) = Level::parse(text) else {
                    return Err(malformed(
                        self.slot,
                        "result level none, note, warning or error",
                        format!("{text:?}"),
                    ));
                };
                self.run.count(level);
                continue;
            }
            if result.kind.as_deref().is_some_and(|kind| kind != "fail") {
                self.run.count(Level::None);
                continue;
            }
            let (rule_index, rule_id, extension) = match &result.rule {
                Some(rule) => (
                    rule.index.or(result.rule_index),
                    rule.id.as_deref().or(result.rule_id.as_deref()),
                    rule.tool_component.is_some(),
                ),
                None => (result.rule_index, result.rule_id.as_deref(), false),
            };
            let reference = match (rule_index.and_then(|i| u64::try_from(i).ok()), rule_id) {
                _ if extension => None,
                (Some(index), _) => Some(RuleRef::Index(index)),
                (None, Some(id)) => Some(RuleRef::Id(digest(id))),
                (None, None) => None,
            };
            match reference {
                Some(reference) => {
                    if !self.run.pending.contains_key(&reference) {
                        self.run.check_room(self.slot)?;
                    }
                    *self.run.pending.entry(reference).or_insert(0) += 1;
                }
                None => self.run.count(Level::Warning),
            }
        }
        Ok(())
    }
}

// ----- byte-level guard -----

/// Scans the JSON text on its way to serde_json and refuses over-long strings / numbers and too
/// deep nesting, which serde_json would otherwise buffer (strings, long numbers) or track (the
/// nesting of skipped values) without limit.
struct JsonGuard<R> {
    inner: R,
    token_limit: usize,
    depth_limit: usize,
    in_string: bool,
    escaped: bool,
    token_len: usize,
    depth: usize,
    offset: u64,
    exceeded: Option<String>,
}

impl<R: BufRead> JsonGuard<R> {
    fn new(inner: R, token_limit: usize, depth_limit: usize) -> Self {
        JsonGuard {
            inner,
            token_limit,
            depth_limit,
            in_string: false,
            escaped: false,
            token_len: 0,
            depth: 0,
            offset: 0,
            exceeded: None,
        }
    }

    /// Feeds one byte through the scanner; `Err` names the limit that was hit.
    fn scan(&mut self, b: u8) -> Result<(), String> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_string = false;
                self.token_len = 0;
                return Ok(());
            }
            self.token_len += 1;
        } else {
            match b {
                b'"' => {
                    self.in_string = true;
                    self.token_len = 0;
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    self.token_len = 0;
                    if self.depth > self.depth_limit {
                        return Err(format!(
                            "nesting deeper than {} at byte {}",
                            self.depth_limit, self.offset
                        ));
                    }
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    self.token_len = 0;
                }
                b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => self.token_len = 0,
                _ => self.token_len += 1,
            }
        }
        if self.token_len > self.token_limit {
            return Err(format!("JSON token at byte {}", self.offset));
        }
        Ok(())
    }
}

impl<R: BufRead> Read for JsonGuard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.exceeded.is_some() {
            return Err(io::Error::other("SARIF input exceeds a limit"));
        }
        let available = self.inner.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.inner.consume(n);
        for (i, &b) in out[..n].iter().enumerate() {
            if let Err(what) = self.scan(b) {
                self.exceeded = Some(what);
                // Hand over only the bytes before the offending one.
                if i == 0 {
                    return Err(io::Error::other("SARIF input exceeds a limit"));
                }
                return Ok(i);
            }
            self.offset += 1;
        }
        Ok(n)
    }
}

/// Parses a SARIF 2.1.0 log into lint counts; see the module documentation for the counting rules.
///
/// Errors: [`ReportError::Malformed`] (at `line L column C`) for invalid JSON, a document that is
/// not a SARIF log, a version other than `2.1.0`, a missing `version` or `runs`, or an unknown level;
/// [`ReportError::TooLarge`] for a string or number over [`MAX_TOKEN_BYTES`], nesting deeper than
/// [`MAX_JSON_DEPTH`] or too many rules in a run; [`ReportError::Io`].
pub fn parse(reader: impl BufRead) -> Result<LintCounts, ReportError> {
    parse_with_limits(reader, MAX_TOKEN_BYTES, MAX_JSON_DEPTH)
}

fn parse_with_limits(
    reader: impl BufRead,
    token_limit: usize,
    depth_limit: usize,
) -> Result<LintCounts, ReportError> {
    const FORMAT: ReportFormat = ReportFormat::Sarif;
    let mut guard = JsonGuard::new(reader, token_limit, depth_limit);
    let slot = FailSlot::new(None);
    let mut log = Log {
        counts: LintCounts::default(),
        version: None,
        saw_runs: false,
    };
    let result = {
        let mut de = serde_json::Deserializer::from_reader(&mut guard);
        LogSeed {
            log: &mut log,
            slot: &slot,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end())
    };
    if let Err(err) = result {
        let location =
            (err.line() > 0).then(|| format!("line {} column {}", err.line(), err.column()));
        if let Some(what) = guard.exceeded.take() {
            let limit = if what.starts_with("nesting") {
                depth_limit
            } else {
                token_limit
            };
            return Err(ReportError::TooLarge {
                format: FORMAT,
                what,
                limit: limit as u64,
            });
        }
        return Err(match slot.take() {
            Some(Failure::Malformed { expected, found }) => ReportError::Malformed {
                format: FORMAT,
                location,
                expected,
                found,
            },
            Some(Failure::TooLarge { what, limit }) => ReportError::TooLarge {
                format: FORMAT,
                what: format!("{what} ({})", location.as_deref().unwrap_or("in the log")),
                limit,
            },
            None if err.is_io() => ReportError::Io {
                format: FORMAT,
                source: io::Error::new(
                    err.io_error_kind().unwrap_or(io::ErrorKind::Other),
                    err.to_string(),
                ),
            },
            None => {
                let text = err.to_string();
                let suffix = format!(" at line {} column {}", err.line(), err.column());
                let found = text.strip_suffix(&suffix).unwrap_or(&text).to_string();
                ReportError::Malformed {
                    format: FORMAT,
                    location,
                    expected: "a SARIF 2.1.0 JSON document".to_string(),
                    found,
                }
            }
        });
    }
    let missing = |expected: &str, found: &str| ReportError::Malformed {
        format: FORMAT,
        location: None,
        expected: expected.to_string(),
        found: found.to_string(),
    };
    if log.version.is_none() {
        return Err(missing(
            "SARIF version \"2.1.0\"",
            "no \"version\" property",
        ));
    }
    if !log.saw_runs {
        return Err(missing("a \"runs\" property", "none"));
    }
    Ok(log.counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(input: &str) -> LintCounts {
        match parse(input.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn lc(errors: u64, warnings: u64, notes: u64) -> LintCounts {
        LintCounts {
            errors,
            warnings,
            notes,
        }
    }

    fn malformed(input: &str) -> (Option<String>, String, String) {
        super::super::test_support::malformed_parts(parse(input.as_bytes()))
    }

    /// ESLint's `@microsoft/eslint-formatter-sarif` output shape.
    const ESLINT: &str = include_str!("../../tests/fixtures/reports/eslint.sarif");

    /// semgrep `--sarif` output shape: rules with default levels, results with explicit levels.
    const SEMGREP: &str = include_str!("../../tests/fixtures/reports/semgrep.sarif");

    #[test]
    fn counts_eslint_results_by_level() {
        // 2 errors, 1 warning, plus one result without level whose rule defaults to "error".
        assert_eq!(lint(ESLINT), lc(3, 1, 0));
    }

    #[test]
    fn counts_semgrep_results_and_skips_suppressed_ones() {
        // error, warning, note, and one error suppressed with an inline nosemgrep comment.
        assert_eq!(lint(SEMGREP), lc(1, 1, 1));
    }

    #[test]
    fn absent_level_defaults_to_warning() {
        let input = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":[
            {"message":{"text":"a"}},{"ruleId":"unknown","message":{"text":"b"}}]}]}"#;
        assert_eq!(lint(input), lc(0, 2, 0));
    }

    #[test]
    fn absent_level_uses_the_rule_default_by_index_or_id() {
        let input = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t","rules":[
              {"id":"R0","defaultConfiguration":{"level":"error"}},
              {"id":"R1","defaultConfiguration":{"level":"note"}},
              {"id":"R2"}]}},
            "results":[{"ruleIndex":0},{"ruleId":"R1"},{"rule":{"id":"R1","index":1}},{"ruleId":"R2"},
                       {"ruleIndex":0,"level":"warning"}]}]}"#;
        assert_eq!(lint(input), lc(1, 2, 2));
    }

    #[test]
    fn rule_defaults_apply_even_when_results_come_before_the_tool() {
        let input = r#"{"runs":[{"results":[{"ruleIndex":0},{"ruleIndex":0}],
            "tool":{"driver":{"rules":[{"id":"R0","defaultConfiguration":{"level":"error"}}]}}}],
            "version":"2.1.0"}"#;
        assert_eq!(lint(input), lc(2, 0, 0));
    }

    #[test]
    fn rule_defaults_do_not_leak_between_runs() {
        let input = r#"{"version":"2.1.0","runs":[
            {"tool":{"driver":{"rules":[{"id":"R","defaultConfiguration":{"level":"error"}}]}},"results":[{"ruleId":"R"}]},
            {"tool":{"driver":{"name":"other"}},"results":[{"ruleId":"R"}]}]}"#;
        assert_eq!(lint(input), lc(1, 1, 0));
    }

    #[test]
    fn extension_rules_fall_back_to_warning() {
        let input = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"rules":[{"id":"R","defaultConfiguration":{"level":"error"}}]}},
            "results":[{"rule":{"id":"R","index":0,"toolComponent":{"index":0}}}]}]}"#;
        assert_eq!(lint(input), lc(0, 1, 0));
    }

    #[test]
    fn non_fail_kinds_without_level_count_nowhere() {
        let input = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":[
            {"kind":"pass"},{"kind":"informational"},{"kind":"fail"},{"level":"none"}]}]}"#;
        assert_eq!(lint(input), lc(0, 1, 0));
    }

    #[test]
    fn suppressed_results_do_not_count_unless_under_review_or_rejected() {
        let input = r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":[
            {"level":"error","suppressions":[{"kind":"inSource"}]},
            {"level":"error","suppressions":[{"kind":"external","status":"accepted"}]},
            {"level":"error","suppressions":[{"kind":"external","status":"underReview"}]},
            {"level":"error","suppressions":[{"kind":"external","status":"rejected"}]},
            {"level":"error","suppressions":[]},
            {"level":"error","baselineState":"absent"},
            {"level":"error","baselineState":"new"}]}]}"#;
        assert_eq!(lint(input), lc(4, 0, 0));
    }

    #[test]
    fn null_runs_and_results_are_empty() {
        assert_eq!(lint(r#"{"version":"2.1.0","runs":null}"#), lc(0, 0, 0));
        assert_eq!(
            lint(r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"t"}},"results":null}]}"#),
            lc(0, 0, 0)
        );
    }

    #[test]
    fn rejects_other_sarif_versions() {
        let (location, expected, found) = malformed(r#"{"version":"1.0.0","runs":[]}"#);
        assert_eq!(location.as_deref(), Some("line 1 column 19"));
        assert_eq!(expected, "SARIF version \"2.1.0\"");
        assert_eq!(found, "\"1.0.0\"");
    }

    #[test]
    fn rejects_a_missing_version() {
        let (_, expected, found) = malformed(r#"{"runs":[]}"#);
        assert_eq!(expected, "SARIF version \"2.1.0\"");
        assert_eq!(found, "no \"version\" property");
    }

    #[test]
    fn rejects_a_missing_runs_property() {
        let (_, expected, _) = malformed(r#"{"version":"2.1.0"}"#);
        assert_eq!(expected, "a \"runs\" property");
    }

    #[test]
    fn rejects_an_unknown_level_with_position() {
        let input = "{\"version\":\"2.1.0\",\n\"runs\":[{\"results\":[{\"level\":\"fatal\"}]}]}";
        let (location, expected, found) = malformed(input);
        assert!(location.is_some_and(|l| l.starts_with("line 2 ")));
        assert_eq!(expected, "result level none, note, warning or error");
        assert_eq!(found, "\"fatal\"");
    }

    #[test]
    fn rejects_truncated_json_with_position() {
        let cut = &SEMGREP[..SEMGREP.len() / 2];
        let (location, expected, found) = malformed(cut);
        assert!(location.is_some());
        assert_eq!(expected, "a SARIF 2.1.0 JSON document");
        assert!(found.contains("EOF"), "{found}");
    }

    #[test]
    fn rejects_a_document_that_is_not_an_object() {
        let (_, _, found) = malformed("[1,2,3]");
        assert!(found.contains("a SARIF log object"), "{found}");
    }

    #[test]
    fn rejects_trailing_garbage() {
        let (_, _, found) = malformed(r#"{"version":"2.1.0","runs":[]} {}"#);
        assert!(found.contains("trailing"), "{found}");
    }

    #[test]
    fn refuses_an_over_long_string_without_buffering_it() {
        let input = format!(
            r#"{{"version":"2.1.0","runs":[{{"results":[{{"level":"{}"}}]}}]}}"#,
            "e".repeat(5000)
        );
        let err = parse_with_limits(input.as_bytes(), 1000, 64).expect_err("too long");
        assert!(
            matches!(err, ReportError::TooLarge { limit: 1000, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_deep_nesting_even_inside_ignored_values() {
        let input = format!(
            r#"{{"version":"2.1.0","runs":[],"properties":{}"#,
            "[".repeat(10_000)
        );
        let err = parse_with_limits(input.as_bytes(), 1000, 64).expect_err("too deep");
        match err {
            ReportError::TooLarge { what, limit, .. } => {
                assert!(what.starts_with("nesting"), "{what}");
                assert_eq!(limit, 64);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn guard_ignores_structure_inside_strings() {
        let input = r#"{"version":"2.1.0","runs":[{"results":[{"level":"note","message":{"text":"[[[[{{{{ \" ]]"}}]}]}"#;
        assert_eq!(
            parse_with_limits(input.as_bytes(), 1000, 8).expect("valid"),
            lc(0, 0, 1)
        );
    }

    #[test]
    fn large_generated_log_streams() {
        let mut input = String::from(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"gen"}},"results":["#,
        );
        for i in 0..20_000 {
            if i > 0 {
                input.push(',');
            }
            let level = ["error", "warning", "note"][i % 3];
            input.push_str(&format!(
                r#"{{"ruleId":"r{i}","level":"{level}","message":{{"text":"finding {i}"}},"locations":[{{"physicalLocation":{{"artifactLocation":{{"uri":"src/f.js"}},"region":{{"startLine":{i}}}}}}}]}}"#
            ));
        }
        input.push_str("]}]}");
        let reader = std::io::BufReader::with_capacity(1024, input.as_bytes());
        assert_eq!(parse(reader).expect("valid"), lc(6_667, 6_667, 6_666));
    }
}
