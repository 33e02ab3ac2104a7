//! sigstore bundle v0.3 (JSON) read and write.
