//! Checkpoints: C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes.
//!
//! A signed note is its text (lines ending in `\n`), a blank line, then one or more signature
//! lines `— <key name> <base64(4-byte key hint || signature)>\n`. The text of a checkpoint is
//! `<origin>\n<tree size>\n<base64 root hash>\n` followed by optional non-empty extension lines
//! (Rekor v1 adds `Timestamp: <ns>`).
//!
//! Key hints: Rekor v1 signs with ECDSA and uses the first 4 bytes of SHA-256 of the key's DER
//! SubjectPublicKeyInfo (which is also its log id). Rekor v2 signs with Ed25519 and uses the C2SP
//! key id, the first 4 bytes of `SHA-256(<key name> || 0x0A || 0x01 || <32-byte key>)`; the
//! trusted root's log id for such a log is that whole SHA-256. A signature line is tried when its
//! hint equals either form for the log's key; witness cosignatures and other logs' lines are
//! ignored; at least one line must verify with the log's key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::verify::pki::{HashAlg, VerifyingKey};

/// Largest signed note accepted.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most signature lines a note may carry.
pub const MAX_SIGNATURE_LINES: usize = 64;
/// Most extension lines a checkpoint body may carry.
pub const MAX_EXTENSION_LINES: usize = 64;

/// The em dash and space that start a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a checkpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The note is not a well-formed signed note or checkpoint.
    #[error("malformed checkpoint: expected {expected}, found {found}")]
    Malformed {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// No signature line verifies with the log's key.
    #[error(
        "checkpoint signature: expected a signature line with key hint {expected_hints} that verifies with the log key, found {found}"
    )]
    NoValidSignature {
        /// The key hints of the log's key (hex).
        expected_hints: String,
        /// What the note carries.
        found: String,
    },
}

fn malformed(expected: impl Into<String>, found: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed {
        expected: expected.into(),
        found: found.into(),
    }
}

/// One signature line of a signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The 4-byte key hint.
    pub key_hint: [u8; 4],
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// A parsed (not yet verified) checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The signed text, through the `\n` that ends its last line.
    pub text: String,
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash.
    pub root_hash: Vec<u8>,
    /// Extension lines after the root hash.
    pub extensions: Vec<String>,
    /// The signature lines.
    pub signatures: Vec<NoteSignature>,
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(80).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    format!("{s:?}")
}

impl Checkpoint {
    /// Parses a signed note holding a checkpoint (size-limited, strict).
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`] saying what was expected where.
    pub fn parse(note: &str) -> Result<Checkpoint, CheckpointError> {
        if note.len() > MAX_NOTE_BYTES {
            return Err(malformed(
                format!("a signed note of at most {MAX_NOTE_BYTES} bytes"),
                format!("{} bytes", note.len()),
            ));
        }
        if let Some(c) = note.chars().find(|c| c.is_control() && *c != '\n') {
            return Err(malformed(
                "no control characters other than newline",
                format!("{c:?}"),
            ));
        }
        let Some(split) = note.rfind("\n\n") else {
            return Err(malformed(
                "a blank line between the note text and its signatures",
                short(note),
            ));
        };
        let text = &note[..=split];
        let sig_block = &note[split + 2..];
        if sig_block.is_empty() {
            return Err(malformed(
                "at least one signature line after the blank line",
                "none",
            ));
        }
        if !sig_block.ends_with('\n') {
            return Err(malformed(
                "signature lines ending in a newline",
                short(sig_block),
            ));
        }
        let mut signatures = Vec::new();
        for line in sig_block[..sig_block.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURE_LINES {
                return Err(malformed(
                    format!("at most {MAX_SIGNATURE_LINES} signature lines"),
                    "more",
                ));
            }
            signatures.push(parse_signature_line(line)?);
        }

        let mut lines = text[..text.len() - 1].split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(malformed("an origin line", "an empty first line"));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| malformed("a tree size line", "end of text"))?;
        let size = parse_decimal(size_line).ok_or_else(|| {
            malformed(
                "the tree size in decimal on the second line",
                short(size_line),
            )
        })?;
        let root_line = lines
            .next()
            .ok_or_else(|| malformed("a root hash line", "end of text"))?;
        let root_hash = STANDARD
            .decode(root_line)
            .map_err(|_| malformed("the base64 root hash on the third line", short(root_line)))?;
        if root_hash.len() != 32 {
            return Err(malformed(
                "a 32-byte root hash",
                format!("{} bytes", root_hash.len()),
            ));
        }
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(malformed("non-empty extension lines", "an empty line"));
            }
            if extensions.len() == MAX_EXTENSION_LINES {
                return Err(malformed(
                    format!("at most {MAX_EXTENSION_LINES} extension lines"),
                    "more",
                ));
            }
            extensions.push(line.to_string());
        }
        Ok(Checkpoint {
            text: text.to_string(),
            origin: origin.to_string(),
            size,
            root_hash,
            extensions,
            signatures,
        })
    }

    /// Checks that a signature line by the log's key verifies over the note text.
    ///
    /// `log_id` is the trusted root's log id; `key_details` its `keyDetails` (for the hash).
    ///
    /// # Errors
    /// [`CheckpointError::NoValidSignature`] when no line with the log's key hint verifies.
    pub fn verify_signature(
        &self,
        key: &VerifyingKey,
        key_der: &[u8],
        log_id: &[u8],
        hash: HashAlg,
    ) -> Result<(), CheckpointError> {
        let mut hints = Vec::new();
        if let Some(h) = log_id.get(..4) {
            hints.push(h.to_vec());
        }
        hints.push(Sha256::digest(key_der)[..4].to_vec());
        let mut tried = 0usize;
        for sig in &self.signatures {
            let mut candidates = hints.clone();
            if let VerifyingKey::Ed25519(k) = key {
                candidates.push(c2sp_ed25519_key_hint(&sig.name, k.as_bytes()).to_vec());
            }
            if !candidates.iter().any(|h| h.as_slice() == sig.key_hint) {
                continue;
            }
            tried += 1;
            if key
                .verify(self.text.as_bytes(), &sig.signature, hash)
                .is_ok()
            {
                return Ok(());
            }
        }
        let found_hints: Vec<String> = self
            .signatures
            .iter()
            .map(|s| format!("{} {}", s.name, hex::encode(s.key_hint)))
            .collect();
        Err(CheckpointError::NoValidSignature {
            expected_hints: hints
                .iter()
                .map(hex::encode)
                .collect::<Vec<_>>()
                .join(" or "),
            found: if tried == 0 {
                format!(
                    "no line with a matching hint among {} line(s) [{}]",
                    self.signatures.len(),
                    found_hints.join(", ")
                )
            } else {
                format!("{tried} line(s) with a matching hint whose signature does not verify")
            },
        })
    }
}

/// The C2SP signed-note key id of an Ed25519 key: the first 4 bytes of
/// `SHA-256(name || 0x0A || 0x01 || key)`.
#[must_use]
pub fn c2sp_ed25519_key_hint(name: &str, key: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x01]);
    h.update(key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn parse_signature_line(line: &str) -> Result<NoteSignature, CheckpointError> {
    let Some(rest) = line.strip_prefix(SIG_PREFIX) else {
        return Err(malformed(
            "a signature line starting with \"— \"",
            short(line),
        ));
    };
    let Some((name, b64)) = rest.split_once(' ') else {
        return Err(malformed("\"— <name> <base64 signature>\"", short(line)));
    };
    if name.is_empty() || b64.contains(' ') {
        return Err(malformed("\"— <name> <base64 signature>\"", short(line)));
    }
    let blob = STANDARD
        .decode(b64)
        .map_err(|_| malformed("base64 after the key name", short(line)))?;
    if blob.len() < 5 {
        return Err(malformed(
            "a 4-byte key hint followed by a signature",
            format!("{} bytes", blob.len()),
        ));
    }
    Ok(NoteSignature {
        name: name.to_string(),
        key_hint: [blob[0], blob[1], blob[2], blob[3]],
        signature: blob[4..].to_vec(),
    })
}

/// A non-negative decimal without sign or leading zeros that fits in u64 and i64.
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse::<u64>().ok().filter(|n| i64::try_from(*n).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "rekor.sigstore.dev - 2605736670972794746\n75408393\nFnnj13Uu1jdksPc4HZLapKX329dVlD5+MGNsiqBq1XM=\n\n\u{2014} rekor.sigstore.dev wNI9ajBFAiBTyiBM9WtyOTgohje6QZ5rFGJUdMq7Wk3A6oThE98SUgIhAMvxDwa7FyqRqg+YV3rdPPrfS23w19iK+piMSGVOmP5w\n";

    #[test]
    fn parses_a_rekor_v1_checkpoint() {
        let c = Checkpoint::parse(V1).expect("parses");
        assert_eq!(c.origin, "rekor.sigstore.dev - 2605736670972794746");
        assert_eq!(c.size, 75408393);
        assert_eq!(c.root_hash.len(), 32);
        assert!(c.extensions.is_empty());
        assert_eq!(c.signatures.len(), 1);
        assert_eq!(c.signatures[0].name, "rekor.sigstore.dev");
        assert_eq!(hex::encode(c.signatures[0].key_hint), "c0d23d6a");
        assert!(c.text.ends_with("XM=\n"));
    }

    #[test]
    fn keeps_extension_lines_in_the_signed_text() {
        let note = V1.replacen("XM=\n\n", "XM=\nTimestamp: 1\n\n", 1);
        let c = Checkpoint::parse(&note).expect("parses");
        assert_eq!(c.extensions, vec!["Timestamp: 1".to_string()]);
        assert!(c.text.ends_with("Timestamp: 1\n"));
    }

    #[test]
    fn rejects_malformed_notes_saying_what_was_expected() {
        let cases: [(&str, String); 8] = [
            ("no blank line", V1.replacen("\n\n", "\n", 1)),
            (
                "no signature",
                V1.split("\n\n").next().expect("text").to_string() + "\n\n",
            ),
            ("missing size", V1.replacen("75408393\n", "", 1)),
            ("size not decimal", V1.replacen("75408393", "0x10", 1)),
            ("leading zero", V1.replacen("75408393", "075408393", 1)),
            ("root not base64", V1.replacen("Fnnj", "!!!!", 1)),
            ("signature without dash", V1.replacen('\u{2014}', "-", 1)),
            ("carriage return", V1.replacen("\n", "\r\n", 1)),
        ];
        for (what, note) in cases {
            let err = Checkpoint::parse(&note).expect_err(what);
            assert!(
                matches!(err, CheckpointError::Malformed { .. }),
                "{what}: {err}"
            );
        }
        let big = "a".repeat(MAX_NOTE_BYTES + 1);
        assert!(Checkpoint::parse(&big).is_err());
    }

    #[test]
    fn the_c2sp_key_hint_of_rekor_v2_staging_matches_its_log_id() {
        // log2025-alpha1.rekor.sigstage.dev: log id f30d5a99..., key from the staging root.
        let key = STANDARD
            .decode("MCowBQYDK2VwAyEAPn+AREHoBaZ7wgS1zBqpxmLSGnyhxXj4lFxSdWVB8o8=")
            .expect("b64");
        let hint = c2sp_ed25519_key_hint("log2025-alpha1.rekor.sigstage.dev", &key[12..]);
        assert_eq!(hex::encode(hint), "f30d5a99");
    }
}
