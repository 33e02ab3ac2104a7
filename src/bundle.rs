//! sigstore bundle v0.3 (JSON) read and write.
/// Largest bundle accepted (stub until the bundle model lands).
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;
