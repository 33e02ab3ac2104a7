//! Parser stub: replaced by the real streaming parser.

use super::{LintCounts, ReportError};
use std::io::BufRead;

/// Parses a report (not implemented yet).
pub fn parse(_reader: impl BufRead) -> Result<LintCounts, ReportError> {
    todo!("parser")
}
