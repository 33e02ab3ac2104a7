//! Verification: the ordered checks of DESIGN.md, producing findings, never printing.

use crate::statement::{LocalRunPredicate, LocalRunStatement};

/// A statement whose envelope signature, signer and subject have been verified.
///
/// Only the verifier constructs one, so [`crate::policy::evaluate`] can only ever judge statements
/// that passed verification.
#[derive(Debug, Clone)]
pub struct VerifiedStatement {
    statement: LocalRunStatement,
    signer: String,
}

impl VerifiedStatement {
    /// Wraps a statement that passed verification, with the name of the signer that signed it.
    pub(crate) fn new(statement: LocalRunStatement, signer: String) -> VerifiedStatement {
        VerifiedStatement { statement, signer }
    }

    /// The verified statement.
    pub fn statement(&self) -> &LocalRunStatement {
        &self.statement
    }

    /// Its predicate.
    pub fn predicate(&self) -> &LocalRunPredicate {
        &self.statement.predicate
    }

    /// The policy name of the signer whose signature verified.
    pub fn signer(&self) -> &str {
        &self.signer
    }
}
