//! `[[rule]]` entries: CEL expressions over the verified statement.
//!
//! A rule is compiled when the policy loads and evaluated once against a complete sample
//! statement ([`sample_predicate`]), so a syntax error, an unknown field or a type error (an
//! integer count multiplied by a double) is a load error at the expression's `file:line:column`,
//! not a surprise at verification time. At verification time a rule that is false rejects with
//! its message, and one that cannot be evaluated (a field the statement lacks, a type error, a
//! result that is not a bool) rejects too: an error is never a pass.
//!
//! The environment ([`Environment`]) holds four variables: `predicate` (the local-run predicate
//! as JSON, lowerCamelCase field names), `checks` (the predicate's checks keyed by name),
//! `subject` (the statement's subject list) and `signer` (who signed, as verified). Counts are
//! CEL `int`s and percentages `double`s, as in the statement's JSON; fields the JSON leaves out
//! when empty (`failedTests`, `problems`, `caches`, ...) are present with their empty value.

use crate::finding::{Code, Finding, Origin, clip};
use crate::statement::{
    CacheRecord, CheckKind, CheckRecord, ConfigRecord, ConfigSource, Coverage, CoverageDetail,
    CoverageRecord, CoverageSource, FailedTest, FileRecord, Host, Isolation, IsolationMode,
    LocalRunPredicate, Outcome, ReportedTests, Repository, ResourceDescriptor, Source, Tool,
};
use crate::verify::{VerifiedSigner, VerifiedStatement};
use cel::objects::{Key, Map};
use cel::{Context, ExecutionError, IdedExpr, Value};
use serde_json::Value as Json;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// Most `[[rule]]` entries one policy may hold.
pub const MAX_RULES: usize = 64;

/// Longest expression a rule may have, in characters.
pub const MAX_RULE_EXPR_CHARS: usize = 4096;

/// Deepest bracket nesting the CEL parser accepts in a rule (its default is 96).
const MAX_EXPR_DEPTH: u16 = 32;

/// Deepest syntax tree a rule may have. CEL evaluates recursively: `a + b + c ...` is a tree as
/// deep as the chain is long, and 1,600 terms overflow a 2 MiB thread stack; 100 leaves a margin
/// of 8x (measured with the evaluator optimised, as in every profile of this package).
const MAX_AST_DEPTH: usize = 100;

/// The variables a rule can read.
pub const VARIABLES: &[&str] = &["predicate", "checks", "subject", "signer"];

/// One `[[rule]]`: a CEL expression that must be true, and what to say when it is not.
#[derive(Clone)]
#[non_exhaustive]
pub struct Rule {
    /// The rule's optional name (shown in findings).
    pub name: Option<String>,
    /// The CEL expression as written.
    pub expr: String,
    /// What a rejection says.
    pub message: String,
    /// Where the rule's `expr` value starts in the policy file.
    pub origin: Origin,
    program: Arc<IdedExpr>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("expr", &self.expr)
            .field("message", &self.message)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        // The program is compiled from `expr`: equal expressions compile alike.
        (&self.name, &self.expr, &self.message, &self.origin)
            == (&other.name, &other.expr, &other.message, &other.origin)
    }
}

/// Why a rule does not load: a message and, where known, the byte offset inside the expression
/// (as decoded from TOML) of the offending text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleError {
    pub(crate) offset: Option<usize>,
    pub(crate) message: String,
}

impl Rule {
    /// Compiles `expr` and evaluates it once against the sample statement.
    pub(crate) fn compile(
        name: Option<String>,
        expr: &str,
        message: String,
        origin: Origin,
    ) -> Result<Rule, RuleError> {
        let chars = expr.chars().count();
        if chars > MAX_RULE_EXPR_CHARS {
            return Err(RuleError {
                offset: None,
                message: format!(
                    "rule expression is too long: expected at most {MAX_RULE_EXPR_CHARS} \
                     characters, found {chars}"
                ),
            });
        }
        if expr.trim().is_empty() {
            return Err(RuleError {
                offset: None,
                message: "rule expression is empty: expected a CEL expression such as \
                          `checks.tests.tests.failed == 0`"
                    .into(),
            });
        }
        if let Some(at) = too_deep(expr, usize::from(MAX_EXPR_DEPTH)) {
            return Err(RuleError {
                offset: Some(at),
                message: format!(
                    "rule expression nests too deep: expected at most {MAX_EXPR_DEPTH} levels of \
                     brackets"
                ),
            });
        }
        let program = compile(expr).map_err(|e| {
            let first = e.errors.first();
            RuleError {
                offset: first.and_then(|p| offset_of(expr, p.pos)),
                message: format!(
                    "rule expression does not compile: {}",
                    first.map_or_else(|| "malformed expression".to_string(), |p| lower(&p.msg))
                ),
            }
        })?;
        if ast_depth(&program.expr, 0) > MAX_AST_DEPTH {
            return Err(RuleError {
                offset: None,
                message: format!(
                    "rule expression nests too deep: expected a syntax tree at most \
                     {MAX_AST_DEPTH} levels deep (a chain of as many operators); split it into \
                     several [[rule]] tables"
                ),
            });
        }
        let rule = Rule {
            name,
            expr: expr.to_string(),
            message,
            origin,
            program: Arc::new(program),
        };
        rule.check_against_sample()?;
        Ok(rule)
    }

    /// Evaluates the rule against a complete sample statement whose `checks` hold a complete
    /// check under every name the expression mentions: an error here is an unknown field or a
    /// type error in the rule itself.
    fn check_against_sample(&self) -> Result<(), RuleError> {
        let mut names = BTreeSet::new();
        check_names(&self.program.expr, &mut names);
        let env = Environment::sample(&names);
        match env.evaluate(&self.program) {
            Ok(Value::Bool(_)) => Ok(()),
            Ok(other) => Err(RuleError {
                offset: None,
                message: format!(
                    "rule expression is not a condition: expected a bool, found {} on a sample \
                     statement",
                    type_name(&other)
                ),
            }),
            // Errors that depend on the values (division by zero, overflow, an index out of
            // range) say nothing about the rule: the sample's figures are arbitrary.
            Err(
                ExecutionError::DivisionByZero(_)
                | ExecutionError::RemainderByZero(_)
                | ExecutionError::Overflow(..)
                | ExecutionError::IndexOutOfBounds(_),
            ) => Ok(()),
            Err(e) => Err(RuleError {
                offset: error_offset(&self.expr, &e),
                message: format!(
                    "rule expression fails on a complete sample statement: {}{}",
                    describe_error(&e),
                    error_hint(&e)
                ),
            }),
        }
    }

    /// Judges one statement: no finding when the rule holds.
    pub(crate) fn judge(&self, env: &Environment) -> Option<Finding> {
        let label = self
            .name
            .as_deref()
            .map_or_else(|| "a rule".to_string(), |n| format!("rule `{n}`"));
        let found = || {
            let read = env.describe_reads(&self.program);
            if read.is_empty() {
                String::new()
            } else {
                format!(" ({read})")
            }
        };
        match env.evaluate(&self.program) {
            Ok(Value::Bool(true)) => None,
            Ok(Value::Bool(false)) => Some(
                Finding::error(Code::RuleFailed, clip(&self.message))
                    .expected_found(clip(&self.expr), format!("false{}", found()))
                    .origin(Some(self.origin.clone()))
                    .hint(format!(
                        "{label} of the policy is not met: fix what it checks and run \
                         `ci-attest run` again, or change the rule"
                    )),
            ),
            Ok(other) => Some(
                Finding::error(
                    Code::RuleError,
                    format!("{label} did not give a bool: {}", clip(&self.message)),
                )
                .expected_found(
                    format!("{} to be true", clip(&self.expr)),
                    format!("a {} value{}", type_name(&other), found()),
                )
                .origin(Some(self.origin.clone()))
                .hint("a rule must be a condition (true or false); fix the rule in the policy"),
            ),
            Err(e) => Some(
                Finding::error(
                    Code::RuleError,
                    format!("{label} could not be evaluated: {}", clip(&self.message)),
                )
                .expected_found(
                    format!("{} to be true", clip(&self.expr)),
                    clip(&describe_error(&e)),
                )
                .origin(Some(self.origin.clone()))
                .hint(
                    "the statement lacks what the rule reads (a check or field it does not \
                     record) or holds a value of another type; a rule that cannot be evaluated \
                     rejects",
                ),
            ),
        }
    }
}

/// Parses with the standard environment's macros and a nesting limit.
fn compile(expr: &str) -> Result<IdedExpr, cel::ParseErrors> {
    cel::Env::stdlib()
        .parser()
        .max_recursion_depth(MAX_EXPR_DEPTH)
        .parse(expr)
}

/// The CEL variables for one statement, built once per statement and shared by its rules.
pub(crate) struct Environment {
    vars: Vec<(&'static str, Value)>,
    /// The CEL context holding `vars`, built once: building the standard library's function
    /// table is most of what evaluating a small rule costs.
    ctx: Context<'static, 'static>,
}

/// The standard CEL environment, built once per process.
fn stdlib() -> Arc<cel::Env> {
    static ENV: std::sync::OnceLock<Arc<cel::Env>> = std::sync::OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(cel::Env::stdlib())))
}

impl Environment {
    /// The environment of a verified statement.
    pub(crate) fn of(statement: &VerifiedStatement) -> Environment {
        Environment::new(
            statement.predicate(),
            &statement.statement().subject,
            signer_value(statement.verified_signer()),
        )
    }

    fn new(predicate: &LocalRunPredicate, subject: &[ResourceDescriptor], signer: Value) -> Self {
        let mut json = serde_json::to_value(predicate).unwrap_or(Json::Null);
        fill_defaults(&mut json);
        let predicate = cel_of(&json);
        // The checks by name, sharing the predicate's converted values.
        let checks: HashMap<Key, Value> = match &predicate {
            Value::Map(m) => match m.map.get(&Key::String(Arc::new("checks".into()))) {
                Some(Value::List(list)) => list
                    .iter()
                    .filter_map(|c| match c {
                        Value::Map(cm) => match cm.map.get(&Key::String(Arc::new("name".into()))) {
                            Some(Value::String(n)) => Some((Key::String(n.clone()), c.clone())),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect(),
                _ => HashMap::new(),
            },
            _ => HashMap::new(),
        };
        let subject = serde_json::to_value(subject).unwrap_or(Json::Null);
        let vars = vec![
            ("predicate", predicate),
            (
                "checks",
                Value::Map(Map {
                    map: Arc::new(checks),
                }),
            ),
            ("subject", cel_of(&subject)),
            ("signer", signer),
        ];
        let mut ctx = Context::with_env(stdlib());
        for (name, value) in &vars {
            ctx.add_variable_from_value(*name, value.clone());
        }
        Environment { vars, ctx }
    }

    /// A complete sample: every optional field present, and a complete check under each name.
    fn sample(names: &BTreeSet<String>) -> Environment {
        let mut p = sample_predicate();
        let template = p.checks[0].clone();
        for n in names {
            if !p.checks.iter().any(|c| &c.name == n) {
                p.checks.push(CheckRecord {
                    name: n.clone(),
                    ..template.clone()
                });
            }
        }
        let subject = [ResourceDescriptor {
            name: Some("https://github.com/acme/app@".to_string() + &"0".repeat(40)),
            uri: None,
            digest: [
                ("gitCommit".to_string(), "0".repeat(40)),
                ("sha256".to_string(), "0".repeat(64)),
            ]
            .into(),
        }];
        Environment::new(
            &p,
            &subject,
            signer_map("alice", "key", "sha256:00", "", ""),
        )
    }

    fn evaluate(&self, program: &IdedExpr) -> Result<Value, ExecutionError> {
        Value::resolve(program, &self.ctx)
    }

    /// `path = value` for each field path the program reads that this statement has (at most
    /// eight, values clipped), for a finding's `found`.
    fn describe_reads(&self, program: &IdedExpr) -> String {
        let mut paths = Vec::new();
        field_paths(&program.expr, &mut paths);
        let mut out: Vec<String> = Vec::new();
        for path in paths {
            let Some((root, rest)) = path.split_first() else {
                continue;
            };
            let Some((_, mut v)) = self.vars.iter().find(|(n, _)| n == root).cloned() else {
                continue;
            };
            let mut ok = true;
            for seg in rest {
                let next = match &v {
                    Value::Map(m) => m.map.get(&Key::String(Arc::new(seg.clone()))).cloned(),
                    _ => None,
                };
                match next {
                    Some(n) => v = n,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok || matches!(v, Value::Map(_) | Value::List(_)) {
                continue;
            }
            let shown = format!("{} = {}", path.join("."), clip(&show(&v)));
            if !out.contains(&shown) {
                out.push(shown);
            }
            if out.len() == 8 {
                break;
            }
        }
        out.join(", ")
    }
}

/// The `signer` variable: `name`, `kind` (`key` or `keyless`), `fingerprint`, `issuer` and
/// `identity` (the certificate SAN); fields that do not apply are empty strings.
fn signer_value(s: &VerifiedSigner) -> Value {
    match s {
        VerifiedSigner::Key { name, fingerprint } => signer_map(name, "key", fingerprint, "", ""),
        VerifiedSigner::Keyless { name, issuer, san } => {
            signer_map(name, "keyless", "", issuer, san)
        }
    }
}

fn signer_map(name: &str, kind: &str, fingerprint: &str, issuer: &str, identity: &str) -> Value {
    let map: HashMap<Key, Value> = [
        ("name", name),
        ("kind", kind),
        ("fingerprint", fingerprint),
        ("issuer", issuer),
        ("identity", identity),
    ]
    .into_iter()
    .map(|(k, v)| {
        (
            Key::String(Arc::new(k.into())),
            Value::String(Arc::new(v.into())),
        )
    })
    .collect();
    Value::Map(Map { map: Arc::new(map) })
}

/// Adds the values the statement's JSON leaves out when empty, so that `size(c.failedTests)`
/// works on a run with no failures.
fn fill_defaults(p: &mut Json) {
    let Some(obj) = p.as_object_mut() else {
        return;
    };
    obj.entry("caches").or_insert_with(|| Json::Array(vec![]));
    let Some(Json::Array(checks)) = obj.get_mut("checks") else {
        return;
    };
    for c in checks.iter_mut().filter_map(Json::as_object_mut) {
        c.entry("failedTests")
            .or_insert_with(|| Json::Array(vec![]));
        c.entry("failedTestsOmitted")
            .or_insert_with(|| Json::from(0));
        c.entry("problems").or_insert_with(|| Json::Array(vec![]));
        c.entry("reports").or_insert_with(|| Json::Array(vec![]));
        if let Some(Json::Array(failed)) = c.get_mut("failedTests") {
            for f in failed.iter_mut().filter_map(Json::as_object_mut) {
                f.entry("error").or_insert(Json::Bool(false));
            }
        }
        if let Some(t) = c.get_mut("tests").and_then(Json::as_object_mut) {
            t.entry("reportedMismatch").or_insert(Json::Bool(false));
        }
    }
}

/// JSON to CEL: integers are `int` (`uint` only above `i64::MAX`), other numbers `double`.
fn cel_of(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (None, Some(u), _) => Value::UInt(u),
            (_, _, Some(f)) => Value::Float(f),
            _ => Value::Null,
        },
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(cel_of).collect())),
        Json::Object(o) => Value::Map(Map {
            map: Arc::new(
                o.iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), cel_of(v)))
                    .collect(),
            ),
        }),
    }
}

/// The depth of the syntax tree, counted until it passes [`MAX_AST_DEPTH`].
fn ast_depth(e: &cel::common::ast::Expr, at: usize) -> usize {
    use cel::common::ast::{EntryExpr, Expr};
    if at > MAX_AST_DEPTH {
        return at;
    }
    let next = at + 1;
    let deepest = |xs: &mut dyn Iterator<Item = &cel::common::ast::Expr>| {
        xs.map(|x| ast_depth(x, next)).max().unwrap_or(next)
    };
    match e {
        Expr::Select(s) => ast_depth(&s.operand.expr, next),
        Expr::Call(c) => deepest(
            &mut c
                .target
                .iter()
                .map(|t| &t.expr)
                .chain(c.args.iter().map(|a| &a.expr)),
        ),
        Expr::Comprehension(c) => deepest(
            &mut [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]
            .into_iter()
            .map(|x| &x.expr),
        ),
        Expr::List(l) => deepest(&mut l.elements.iter().map(|x| &x.expr)),
        Expr::Map(m) => deepest(&mut m.entries.iter().flat_map(|en| match &en.expr {
            EntryExpr::MapEntry(me) => vec![&me.key.expr, &me.value.expr],
            EntryExpr::StructField(f) => vec![&f.value.expr],
        })),
        Expr::Struct(s) => deepest(&mut s.entries.iter().flat_map(|en| match &en.expr {
            EntryExpr::MapEntry(me) => vec![&me.key.expr, &me.value.expr],
            EntryExpr::StructField(f) => vec![&f.value.expr],
        })),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => next,
    }
}

/// The names of checks the expression selects: `checks.NAME` and `checks["NAME"]`.
fn check_names(e: &cel::common::ast::Expr, out: &mut BTreeSet<String>) {
    use cel::common::ast::{EntryExpr, Expr, LiteralValue};
    let is_checks = |x: &Expr| matches!(x, Expr::Ident(n) if n == "checks");
    match e {
        Expr::Select(s) => {
            if is_checks(&s.operand.expr) {
                out.insert(s.field.clone());
            }
            check_names(&s.operand.expr, out);
        }
        Expr::Call(c) => {
            if c.func_name == "_[_]" && c.args.len() == 2 && is_checks(&c.args[0].expr) {
                if let Expr::Literal(LiteralValue::String(s)) = &c.args[1].expr {
                    out.insert(s.inner().to_string());
                }
            }
            if c.func_name == "@in" && c.args.len() == 2 && is_checks(&c.args[1].expr) {
                if let Expr::Literal(LiteralValue::String(s)) = &c.args[0].expr {
                    out.insert(s.inner().to_string());
                }
            }
            if let Some(t) = &c.target {
                check_names(&t.expr, out);
            }
            for a in &c.args {
                check_names(&a.expr, out);
            }
        }
        Expr::Comprehension(c) => {
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                check_names(&x.expr, out);
            }
        }
        Expr::List(l) => {
            for x in &l.elements {
                check_names(&x.expr, out);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    check_names(&me.key.expr, out);
                    check_names(&me.value.expr, out);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    check_names(&f.value.expr, out);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// Every maximal `a.b.c` path on one of the variables, in expression order.
fn field_paths(e: &cel::common::ast::Expr, out: &mut Vec<Vec<String>>) {
    use cel::common::ast::{EntryExpr, Expr};
    if let Some(path) = select_path(e) {
        if VARIABLES.contains(&path[0].as_str()) {
            out.push(path);
            return;
        }
    }
    match e {
        Expr::Select(s) => field_paths(&s.operand.expr, out),
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                field_paths(&t.expr, out);
            }
            for a in &c.args {
                field_paths(&a.expr, out);
            }
        }
        Expr::Comprehension(c) => field_paths(&c.iter_range.expr, out),
        Expr::List(l) => {
            for x in &l.elements {
                field_paths(&x.expr, out);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    field_paths(&me.value.expr, out);
                }
            }
        }
        Expr::Struct(_) | Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// `a.b.c` as segments, root first, for an identifier with field selections on it.
fn select_path(e: &cel::common::ast::Expr) -> Option<Vec<String>> {
    use cel::common::ast::Expr;
    match e {
        Expr::Ident(n) => Some(vec![n.clone()]),
        Expr::Select(s) if !s.test => {
            let mut p = select_path(&s.operand.expr)?;
            p.push(s.field.clone());
            Some(p)
        }
        _ => None,
    }
}

/// A value as a finding shows it.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.as_str()),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => format!("{u}u"),
        Value::Float(f) => format!("{f}"),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => type_name(other).to_string(),
    }
}

/// CEL's name for a value's type.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Function(..) => "function",
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "double",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Bool(_) => "bool",
        Value::Opaque(_) | Value::Struct(_) => "object",
        Value::Null => "null",
    }
}

/// An evaluation error as one lowercase line.
fn describe_error(e: &ExecutionError) -> String {
    match e {
        ExecutionError::NoSuchKey(k) => format!("no field or check `{k}`"),
        ExecutionError::UndeclaredReference(r) => format!(
            "undeclared reference to `{r}` (the variables are {})",
            VARIABLES.join(", ")
        ),
        ExecutionError::UnsupportedBinaryOperator(op, a, b) => format!(
            "operator `{op}` does not apply to {} and {}",
            type_name(a),
            type_name(b)
        ),
        ExecutionError::ValuesNotComparable(a, b) => {
            format!("cannot compare {} with {}", type_name(a), type_name(b))
        }
        other => lower(&other.to_string()),
    }
}

/// The byte offset where brackets first nest deeper than `max` (outside string literals).
///
/// The CEL parser is recursive: its own depth limit applies after the grammar has already
/// recursed, so a policy of a few hundred `(` would overflow the stack before it.
fn too_deep(expr: &str, max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in expr.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// A hint for the common load-time mistakes.
fn error_hint(e: &ExecutionError) -> &'static str {
    match e {
        ExecutionError::UnsupportedBinaryOperator(_, Value::Int(_), Value::Float(_))
        | ExecutionError::UnsupportedBinaryOperator(_, Value::Float(_), Value::Int(_)) => {
            "; counts are integers and percentages doubles: convert with double(...), e.g. \
             `double(c.skipped) <= double(c.total) * 0.05`"
        }
        ExecutionError::NoSuchKey(_) => {
            "; field names are the statement's (lowerCamelCase, see docs/policy.md)"
        }
        _ => "",
    }
}

/// Where in the expression an evaluation error points: the first `.name`/`name` it names.
fn error_offset(expr: &str, e: &ExecutionError) -> Option<usize> {
    let name = match e {
        ExecutionError::NoSuchKey(k) | ExecutionError::UndeclaredReference(k) => k.as_str(),
        _ => return None,
    };
    let bytes = expr.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(i) = expr[from..].find(name).map(|i| i + from) {
        let end = i + name.len();
        let before_ok = i == 0 || !is_ident(bytes[i - 1]);
        let after_ok = end >= bytes.len() || !is_ident(bytes[end]);
        if before_ok && after_ok {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

/// The byte offset of CEL's 1-based (line, column-in-characters) position in `expr`.
fn offset_of(expr: &str, (line, column): (isize, isize)) -> Option<usize> {
    let line = usize::try_from(line).ok().filter(|l| *l >= 1)?;
    let column = usize::try_from(column).ok().filter(|c| *c >= 1)?;
    let start: usize = expr
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let text = expr.get(start..)?;
    let within = text
        .char_indices()
        .nth(column - 1)
        .map_or(text.len(), |(i, _)| i);
    Some(start + within)
}

/// A message with a lowercase first letter, on one line.
fn lower(s: &str) -> String {
    let s = s.replace('\n', "; ");
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => s,
    }
}

/// A predicate with every optional field present and one complete check named `tests`.
fn sample_predicate() -> LocalRunPredicate {
    let ratio = |covered, total| Coverage {
        covered,
        total,
        percent: Some(90.0),
        source: Some(CoverageSource::Detail),
        detail: Some(CoverageDetail {
            covered,
            total,
            percent: Some(90.0),
        }),
    };
    let file = || FileRecord {
        path: "report.xml".into(),
        format: Some("junit".into()),
        sha256: "0".repeat(64),
    };
    let check = CheckRecord {
        name: "tests".into(),
        kind: CheckKind::Tests,
        command: "cargo test".into(),
        exit_code: Some(0),
        duration_ms: 1000,
        result: Outcome::Passed,
        tests: Some(crate::statement::TestCounts {
            reported: Some(ReportedTests {
                tests: 10,
                failures: 1,
                errors: 0,
                skipped: 1,
            }),
            reported_mismatch: false,
            ..crate::statement::TestCounts::new(10, 8, 1, 1)
        }),
        coverage: Some(CoverageRecord {
            lines: Some(ratio(9, 10)),
            branches: Some(ratio(9, 10)),
            functions: Some(ratio(9, 10)),
        }),
        lint: Some(crate::collect::LintCounts {
            errors: 1,
            warnings: 1,
            notes: 1,
        }),
        failed_tests: vec![FailedTest {
            suite: Some("suite".into()),
            name: "a_test".into(),
            error: true,
        }],
        failed_tests_omitted: 1,
        network: Some(false),
        reports: vec![file()],
        log: Some(file()),
        problems: vec!["a problem".into()],
    };
    LocalRunPredicate {
        tool: Tool {
            name: "ci-attest".into(),
            version: "0.1.0".into(),
        },
        host: Host {
            os: "linux".into(),
            arch: "x86_64".into(),
            toolchains: [("rustc".to_string(), "1.86.0".to_string())].into(),
        },
        started_on: "2026-01-01T00:00:00Z".into(),
        finished_on: "2026-01-01T00:01:00Z".into(),
        source: Source {
            commit: "0".repeat(40),
            tree: "1".repeat(40),
            git_ref: Some("refs/heads/main".into()),
            pristine: true,
            uncommitted_changes_ignored: false,
        },
        repository: Repository {
            uri: Some("https://github.com/acme/app".into()),
            forge_id: Some(1),
        },
        checks: vec![check],
        result: Outcome::Passed,
        isolation: Some(Isolation {
            mode: IsolationMode::Sandbox,
            mechanism: Some("bubblewrap".into()),
        }),
        config: Some(ConfigRecord {
            source: ConfigSource::Commit,
            path: ".ci-attest.toml".into(),
            sha256: "0".repeat(64),
            content: Some(String::new()),
        }),
        caches: vec![CacheRecord {
            path: "cargo".into(),
            key: "0".repeat(64),
            restored: false,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{
        SIGNER_TOML, coverage_check, lint_check, parse, policy, predicate, tests_check, verified,
    };
    use crate::finding::Code;

    fn rule(expr: &str) -> String {
        format!("[[rule]]\nname = \"r\"\nexpr = '{expr}'\nmessage = \"too many skipped\"\n")
    }

    fn judged(expr: &str, skipped: u64) -> Vec<crate::finding::Finding> {
        let p = policy(&rule(expr));
        let s = verified(predicate(vec![
            tests_check(90, 0, skipped),
            lint_check(0, 3),
            coverage_check(85, 100),
        ]));
        super::super::evaluate(
            &p,
            &s,
            super::super::test_support::at("2026-11-01T12:00:00Z"),
        )
    }

    const RATIO: &str =
        "double(checks.tests.tests.skipped) <= double(checks.tests.tests.total) * 0.05";

    #[test]
    fn a_true_rule_passes_and_a_false_one_rejects_with_its_message_and_origin() {
        assert_eq!(judged(RATIO, 4), vec![]);
        let f = judged(RATIO, 10);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, Code::RuleFailed);
        assert_eq!(f[0].message, "too many skipped");
        assert_eq!(f[0].expected.as_deref(), Some(RATIO));
        let found = f[0].found.clone().unwrap_or_default();
        assert!(found.starts_with("false"), "{found}");
        assert!(found.contains("checks.tests.tests.skipped = 10"), "{found}");
        assert!(found.contains("checks.tests.tests.total = 100"), "{found}");
        let o = f[0].origin.clone().expect("origin");
        assert_eq!((o.file.as_str(), o.line, o.column), ("policy.toml", 7, 8));
    }

    #[test]
    fn the_variables_reach_the_whole_statement() {
        for expr in [
            "checks.coverage.coverage.lines.percent >= 85.0",
            "checks.lint.lint.warnings < 5 && checks.lint.kind == \"lint\"",
            "predicate.source.pristine && predicate.repository.uri.startsWith(\"https://github.com/acme/\")",
            "size(predicate.checks) == 3 && predicate.checks.all(c, c.result != \"FAILED\")",
            "size(checks.tests.failedTests) == 0 && size(predicate.caches) == 0",
            "\"tests\" in checks && !(\"e2e\" in checks)",
            "signer.name == \"alice\" && signer.kind == \"key\" && signer.fingerprint.startsWith(\"sha256:\")",
            "size(subject) == 0",
            "checks.tests.tests.failed == 0",
        ] {
            assert_eq!(judged(expr, 0), vec![], "{expr}");
        }
    }

    #[test]
    fn an_evaluation_error_is_a_rejection_never_a_pass() {
        // `e2e` is not in this statement: the rule cannot be evaluated.
        let f = judged("checks.e2e.tests.failed == 0", 0);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, Code::RuleError);
        assert!(f[0].is_error());
        assert!(
            f[0].found.as_deref().is_some_and(|s| s.contains("e2e")),
            "{f:?}"
        );
        // A lint check has no coverage: a field the statement lacks.
        let f = judged("checks.lint.coverage.lines.percent > 0.0", 0);
        assert_eq!(f[0].code, Code::RuleError);
        // Division by zero at run time.
        let f = judged("checks.tests.tests.total / checks.lint.lint.errors > 0", 0);
        assert_eq!(f[0].code, Code::RuleError);
    }

    #[test]
    fn a_compile_error_is_a_load_error_at_the_expression_position() {
        let e = parse(&format!(
            "{SIGNER_TOML}{}",
            rule("checks.tests.tests.failed == = 0")
        ))
        .expect_err("does not compile");
        // `expr = '` starts at column 8 of line 7; the second `=` is 30 characters in.
        assert_eq!((e.line, e.column), (7, 8 + 1 + 29), "{e}");
        assert!(e.message.contains("does not compile"), "{e}");
    }

    #[test]
    fn positions_follow_toml_escapes_and_multi_line_strings() {
        let text = format!(
            "{SIGNER_TOML}[[rule]]\nmessage = \"m\"\nexpr = \"\"\"\nchecks.tests.tests.failed == 0 &&\n  checks.tests.tests.passed > \\u0030 )\n\"\"\"\n"
        );
        let e = parse(&text).expect_err("stray )");
        // The expression's second line is line 9 of the file; `\u0030` (6 characters) decodes to
        // one, so the `)` 33 characters in is 38 characters into the line.
        assert_eq!((e.line, e.column), (9, 38), "{e}");
        let text = format!(
            "{SIGNER_TOML}[[rule]]\nmessage = \"m\"\nexpr = \"\\\"a\\\" == \\\"a\\\" && ) \"\n"
        );
        let e = parse(&text).expect_err("stray )");
        // Four `\"` before the `)` (decoded index 14) take one more character each.
        assert_eq!((e.line, e.column), (7, 9 + 14 + 4), "{e}");
    }

    #[test]
    fn an_unknown_field_fails_at_load_naming_it() {
        let e = parse(&format!(
            "{SIGNER_TOML}{}",
            rule("checks.tests.tests.skiped <= 3")
        ))
        .expect_err("unknown field");
        assert!(e.message.contains("skiped"), "{e}");
        // Points at the field inside the expression.
        assert_eq!((e.line, e.column), (7, 8 + 1 + 19), "{e}");
        let e = parse(&format!(
            "{SIGNER_TOML}{}",
            rule("chekcs.tests.tests.failed == 0")
        ))
        .expect_err("unknown variable");
        assert!(e.message.contains("chekcs"), "{e}");
        assert!(
            e.message.contains("predicate, checks, subject, signer"),
            "{e}"
        );
    }

    #[test]
    fn an_int_times_a_double_fails_at_load_with_the_fix() {
        let e = parse(&format!(
            "{SIGNER_TOML}{}",
            rule("checks.tests.tests.skipped <= checks.tests.tests.total * 0.05")
        ))
        .expect_err("int * double");
        assert!(e.message.contains("double("), "{e}");
        assert_eq!((e.line, e.column), (7, 8), "{e}");
    }

    #[test]
    fn a_rule_that_is_not_a_condition_fails_at_load() {
        let e = parse(&format!(
            "{SIGNER_TOML}{}",
            rule("checks.tests.tests.failed")
        ))
        .expect_err("an int");
        assert!(e.message.contains("expected a bool, found int"), "{e}");
    }

    #[test]
    fn a_field_guarded_by_has_is_judged_either_way() {
        let expr = "!has(predicate.isolation) || predicate.isolation.mode == \"sandbox\"";
        assert_eq!(judged(expr, 0), vec![]);
    }

    #[test]
    fn rule_limits_hold() {
        let long = format!("{} == 0", "1 + ".repeat(super::MAX_RULE_EXPR_CHARS / 4));
        let e = parse(&format!("{SIGNER_TOML}{}", rule(&long))).expect_err("too long");
        assert!(e.message.contains("too long"), "{e}");
        let deep = format!("{}true{}", "(".repeat(200), ")".repeat(200));
        let e = parse(&format!("{SIGNER_TOML}{}", rule(&deep))).expect_err("too deep");
        assert!(e.message.contains("nests too deep"), "{e}");
        // A long flat chain nests as deep as it is long: up to the limit it loads and runs.
        let chain = |n: usize| format!("{} == {n}", vec!["1"; n].join(" + "));
        assert_eq!(judged(&chain(90), 0), vec![]);
        let e = parse(&format!("{SIGNER_TOML}{}", rule(&chain(200)))).expect_err("too deep");
        assert!(e.message.contains("nests too deep"), "{e}");
        let many = rule("true").repeat(super::MAX_RULES + 1);
        let many = many.replace("name = \"r\"\n", "");
        let e = parse(&format!("{SIGNER_TOML}{many}")).expect_err("too many");
        assert!(e.message.contains("too many rules"), "{e}");
        let e = parse(&format!("{SIGNER_TOML}{}{}", rule("true"), rule("true")))
            .expect_err("same name");
        assert!(e.message.contains("duplicate rule name"), "{e}");
        let e = parse(&format!(
            "{SIGNER_TOML}[[rule]]\nexpr = \"true\"\nmessage = \"m\"\nseverity = \"x\"\n"
        ))
        .expect_err("unknown key");
        assert_eq!(e.line, 8, "{e}");
    }

    #[test]
    fn a_policy_with_rules_is_shareable_across_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<super::super::Policy>();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever the expression, loading gives a rule or an error, never a panic.
        #[test]
        fn any_expression_loads_or_is_refused_without_panicking(
            expr in "[a-z.()\\[\\]{}\"'\\\\ 0-9+*/%<>=!&|?:,_-]{0,120}",
        ) {
            let _ = super::Rule::compile(
                None,
                &expr,
                "m".into(),
                crate::finding::Origin { file: "p".into(), line: 1, column: 1 },
            );
        }
    }
}
