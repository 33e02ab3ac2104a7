//! Local ECDSA P-256 keys: generation, encrypted PKCS#8 PEM, signatures.
