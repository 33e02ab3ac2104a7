//! A bounded, streaming XML element reader shared by the JUnit and Cobertura parsers.
//!
//! It wraps `quick_xml`'s pull reader and adds what report parsing needs on top: a limit on the
//! size of any single token ([`MAX_TOKEN_BYTES`], enforced on the underlying reader so an endless
//! tag or text node is never buffered), a limit on nesting depth (quick-xml keeps the names of open
//! elements), a check of the root element's name, detection of truncated documents, and conversion
//! of every failure into a [`ReportError`] with a byte offset.
//!
//! Entities are never expanded: quick-xml does not resolve DTDs or external entities, and the
//! parsers only read raw attribute values (numbers), so no "billion laughs" growth is possible.

use super::{MAX_TOKEN_BYTES, ReportError, ReportFormat};
use quick_xml::events::{BytesStart, Event};
use std::borrow::Cow;
use std::io::{self, BufRead, Read};

/// Deepest element nesting accepted; real reports nest fewer than a dozen levels.
pub(crate) const MAX_DEPTH: usize = 256;

/// Most bytes of open element names kept at once (quick-xml stores them to match end tags).
const MAX_OPEN_NAME_BYTES: usize = 64 * 1024;

/// One structural event: an element opening or closing. Empty elements (`<a/>`) produce both.
pub(crate) enum XmlEvent<'b> {
    /// An element starts; `depth` is 0 for the root.
    Open {
        /// The start tag, for its name and attributes.
        tag: BytesStart<'b>,
        /// Nesting depth of this element (root = 0).
        depth: usize,
    },
    /// The element opened at `depth` ends.
    Close {
        /// Nesting depth of the element that closes (root = 0).
        depth: usize,
    },
    /// Something the parsers do not count (declaration, comment, text inside an element...).
    Other,
    /// The document ended after its root element was closed.
    End,
}

/// Caps how many bytes the XML reader may consume for a single event.
struct TokenLimit<R> {
    inner: R,
    budget: usize,
    exceeded: bool,
}

impl<R: BufRead> Read for TokenLimit<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for TokenLimit<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.budget == 0 {
            self.exceeded = true;
            return Err(io::Error::other("XML token exceeds the size limit"));
        }
        let budget = self.budget;
        let available = self.inner.fill_buf()?;
        let n = available.len().min(budget);
        Ok(&available[..n])
    }

    fn consume(&mut self, amount: usize) {
        self.budget = self.budget.saturating_sub(amount);
        self.inner.consume(amount);
    }
}

/// Streaming reader of a report's elements; see the module documentation.
pub(crate) struct XmlReader<R> {
    reader: quick_xml::Reader<TokenLimit<R>>,
    format: ReportFormat,
    roots: &'static [&'static str],
    token_limit: usize,
    /// Lengths of the names of the currently open elements (the stack of open elements).
    open: Vec<usize>,
    /// The names of the open elements, concatenated (for "expected </x>" messages).
    open_names: Vec<u8>,
    root_seen: bool,
    root_closed: bool,
    event_start: u64,
}

impl<R: BufRead> XmlReader<R> {
    /// A reader whose document must have one of `roots` (local names) as its root element.
    pub(crate) fn new(reader: R, format: ReportFormat, roots: &'static [&'static str]) -> Self {
        Self::with_token_limit(reader, format, roots, MAX_TOKEN_BYTES)
    }

    /// As [`XmlReader::new`] with a custom token size limit (tests use a small one).
    pub(crate) fn with_token_limit(
        reader: R,
        format: ReportFormat,
        roots: &'static [&'static str],
        token_limit: usize,
    ) -> Self {
        let mut reader = quick_xml::Reader::from_reader(TokenLimit {
            inner: reader,
            budget: token_limit,
            exceeded: false,
        });
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.allow_unmatched_ends = false;
        XmlReader {
            reader,
            format,
            roots,
            token_limit,
            open: Vec::new(),
            open_names: Vec::new(),
            root_seen: false,
            root_closed: false,
            event_start: 0,
        }
    }

    /// Byte offset at which the event last returned starts, e.g. `byte 120`.
    pub(crate) fn location(&self) -> Option<String> {
        Some(format!("byte {}", self.event_start))
    }

    /// A [`ReportError::Malformed`] located at the event last returned.
    pub(crate) fn malformed(
        &self,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ReportError {
        ReportError::Malformed {
            format: self.format,
            location: self.location(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn expected_root(&self) -> String {
        let names: Vec<String> = self.roots.iter().map(|r| format!("<{r}>")).collect();
        format!("a {} root element", names.join(" or "))
    }

    /// The next event. `buf` is cleared and reused; the returned tag borrows from it.
    pub(crate) fn next<'b>(&mut self, buf: &'b mut Vec<u8>) -> Result<XmlEvent<'b>, ReportError> {
        buf.clear();
        self.reader.get_mut().budget = self.token_limit;
        self.event_start = self.reader.buffer_position();
        let event = match self.reader.read_event_into(buf) {
            Ok(event) => event,
            Err(err) => return Err(self.convert_error(err)),
        };
        match event {
            Event::Start(tag) => {
                let depth = self.open.len();
                let name = tag.name().as_ref().len();
                if depth == 0 {
                    let local = tag.local_name();
                    if self.root_closed {
                        return Err(self.malformed(
                            "end of document after the root element",
                            format!(
                                "another element <{}>",
                                String::from_utf8_lossy(tag.name().as_ref())
                            ),
                        ));
                    }
                    if !self.roots.iter().any(|r| r.as_bytes() == local.as_ref()) {
                        return Err(self.malformed(
                            self.expected_root(),
                            format!("<{}>", String::from_utf8_lossy(tag.name().as_ref())),
                        ));
                    }
                    self.root_seen = true;
                }
                if depth >= MAX_DEPTH || self.open_names.len() + name > MAX_OPEN_NAME_BYTES {
                    return Err(self.malformed(
                        format!("elements nested at most {MAX_DEPTH} deep"),
                        format!(
                            "<{}> nested deeper",
                            String::from_utf8_lossy(tag.name().as_ref())
                        ),
                    ));
                }
                self.open.push(name);
                self.open_names.extend_from_slice(tag.name().as_ref());
                return Ok(XmlEvent::Open { tag, depth });
            }
            Event::End(_) => {
                // quick-xml has checked that the name matches the open element.
                let Some(len) = self.open.pop() else {
                    return Err(self.malformed("an element", "a stray end tag"));
                };
                self.open_names
                    .truncate(self.open_names.len().saturating_sub(len));
                let depth = self.open.len();
                if depth == 0 {
                    self.root_closed = true;
                }
                return Ok(XmlEvent::Close { depth });
            }
            Event::Empty(_) => {
                // Not produced with `expand_empty_elements`; refuse rather than miscount.
                return Err(self.malformed("an expanded element", "an empty element event"));
            }
            Event::Text(text)
                if self.open.is_empty() && !text.iter().all(u8::is_ascii_whitespace) =>
            {
                return Err(self.malformed(
                    if self.root_seen {
                        "end of document".to_string()
                    } else {
                        self.expected_root()
                    },
                    format!("text {}", super::lines::preview(&text)),
                ));
            }
            Event::CData(_) | Event::GeneralRef(_) if self.open.is_empty() => {
                return Err(
                    self.malformed(self.expected_root(), "character data outside any element")
                );
            }
            Event::Eof => {
                if !self.open.is_empty() {
                    return Err(ReportError::Malformed {
                        format: self.format,
                        location: Some(format!("byte {}", self.reader.buffer_position())),
                        expected: format!(
                            "closing tag </{}> (the document looks truncated)",
                            String::from_utf8_lossy(self.innermost())
                        ),
                        found: "end of input".to_string(),
                    });
                }
                if !self.root_seen {
                    return Err(ReportError::Malformed {
                        format: self.format,
                        location: Some(format!("byte {}", self.reader.buffer_position())),
                        expected: self.expected_root(),
                        found: "end of input".to_string(),
                    });
                }
                return Ok(XmlEvent::End);
            }
            // Declarations, comments, processing instructions, DOCTYPE (never expanded), text
            // and references inside elements carry nothing the parsers count.
            _ => {}
        }
        Ok(XmlEvent::Other)
    }

    /// The name of the innermost open element (empty when none is open).
    fn innermost(&self) -> &[u8] {
        let len = self.open.last().copied().unwrap_or(0);
        &self.open_names[self.open_names.len().saturating_sub(len)..]
    }

    fn convert_error(&self, err: quick_xml::Error) -> ReportError {
        if self.reader.get_ref().exceeded {
            return ReportError::TooLarge {
                format: self.format,
                what: format!("XML token at byte {}", self.event_start),
                limit: self.token_limit as u64,
            };
        }
        match err {
            quick_xml::Error::Io(io) => ReportError::Io {
                format: self.format,
                source: io::Error::new(io.kind(), io.to_string()),
            },
            other => ReportError::Malformed {
                format: self.format,
                location: Some(format!("byte {}", self.reader.error_position())),
                expected: "well-formed XML".to_string(),
                found: other.to_string(),
            },
        }
    }

    /// The raw (unescaped) value of attribute `name` on `tag`, if present.
    pub(crate) fn attr<'t>(
        &self,
        tag: &'t BytesStart<'_>,
        name: &str,
    ) -> Result<Option<Cow<'t, [u8]>>, ReportError> {
        for attr in tag.attributes() {
            let attr = attr.map_err(|e| self.malformed("well-formed attributes", e.to_string()))?;
            if attr.key.local_name().as_ref() == name.as_bytes() {
                return Ok(Some(attr.value));
            }
        }
        Ok(None)
    }

    /// Attribute `name` of `tag` as a non-negative integer, if present.
    pub(crate) fn attr_u64(
        &self,
        tag: &BytesStart<'_>,
        name: &str,
    ) -> Result<Option<u64>, ReportError> {
        let Some(value) = self.attr(tag, name)? else {
            return Ok(None);
        };
        match parse_u64(&value) {
            Some(n) => Ok(Some(n)),
            None => Err(self.malformed(
                format!(
                    "a non-negative integer in the {name} attribute of <{}>",
                    String::from_utf8_lossy(tag.name().as_ref())
                ),
                super::lines::preview(&value),
            )),
        }
    }
}

/// Parses ASCII decimal digits (surrounding whitespace allowed) into a u64, saturating on overflow.
pub(crate) fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOTS: &[&str] = &["doc"];

    fn events(input: &str) -> Result<Vec<String>, ReportError> {
        let mut xml = XmlReader::new(input.as_bytes(), ReportFormat::Junit, ROOTS);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match xml.next(&mut buf)? {
                XmlEvent::Open { tag, depth } => out.push(format!(
                    "open {} {depth}",
                    String::from_utf8_lossy(tag.name().as_ref())
                )),
                XmlEvent::Close { depth } => out.push(format!("close {depth}")),
                XmlEvent::Other => {}
                XmlEvent::End => return Ok(out),
            }
        }
    }

    fn malformed(err: ReportError) -> (Option<String>, String, String) {
        match err {
            ReportError::Malformed {
                location,
                expected,
                found,
                ..
            } => (location, expected, found),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn expands_empty_elements_into_open_and_close() {
        let ev =
            events("<?xml version=\"1.0\"?><!-- c --><doc><a/><b>t</b></doc>\n").expect("valid");
        assert_eq!(
            ev,
            [
                "open doc 0",
                "open a 1",
                "close 1",
                "open b 1",
                "close 1",
                "close 0"
            ]
        );
    }

    #[test]
    fn rejects_a_foreign_root_naming_what_was_expected() {
        let (_, expected, found) = malformed(events("<html></html>").expect_err("wrong root"));
        assert_eq!(expected, "a <doc> root element");
        assert_eq!(found, "<html>");
    }

    #[test]
    fn rejects_empty_input() {
        let (_, expected, found) = malformed(events("  \n").expect_err("empty"));
        assert_eq!(expected, "a <doc> root element");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn rejects_truncated_document_with_position() {
        let input = "<doc><a></a><b>";
        let (location, expected, found) = malformed(events(input).expect_err("truncated"));
        assert_eq!(location.as_deref(), Some("byte 15"));
        assert!(expected.contains("</b>"), "{expected}");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn rejects_a_tag_cut_in_half_with_position() {
        let (location, expected, _) = malformed(events("<doc><a attr=\"x").expect_err("cut"));
        assert_eq!(expected, "well-formed XML");
        assert!(location.is_some());
    }

    #[test]
    fn rejects_mismatched_end_tags() {
        let (_, expected, found) = malformed(events("<doc><a></b></doc>").expect_err("mismatch"));
        assert_eq!(expected, "well-formed XML");
        assert!(found.contains('a') && found.contains('b'), "{found}");
    }

    #[test]
    fn rejects_a_second_root_element() {
        let (_, expected, _) = malformed(events("<doc/><doc/>").expect_err("two roots"));
        assert_eq!(expected, "end of document after the root element");
    }

    #[test]
    fn rejects_nesting_deeper_than_the_limit() {
        let input = format!("<doc>{}", "<a>".repeat(MAX_DEPTH + 5));
        let (_, expected, _) = malformed(events(&input).expect_err("too deep"));
        assert!(expected.contains("nested at most"), "{expected}");
    }

    #[test]
    fn never_expands_entities_from_a_dtd() {
        let input = r#"<?xml version="1.0"?>
<!DOCTYPE doc [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<doc><a v="&lol3;">&lol3;</a></doc>"#;
        assert_eq!(
            events(input).expect("valid"),
            ["open doc 0", "open a 1", "close 1", "close 0"]
        );
    }

    #[test]
    fn refuses_a_token_larger_than_the_limit() {
        let input = format!("<doc><a>{}</a></doc>", "x".repeat(10_000));
        let mut xml =
            XmlReader::with_token_limit(input.as_bytes(), ReportFormat::Junit, ROOTS, 1000);
        let mut buf = Vec::new();
        let err = loop {
            match xml.next(&mut buf) {
                Ok(XmlEvent::End) => panic!("should not finish"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, ReportError::TooLarge { limit: 1000, .. }),
            "{err:?}"
        );
        assert!(buf.capacity() <= 4096);
    }

    #[test]
    fn parses_integers_strictly() {
        assert_eq!(parse_u64(b"42"), Some(42));
        assert_eq!(parse_u64(b" 7 "), Some(7));
        assert_eq!(parse_u64(b"99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_u64(b"1.5"), None);
        assert_eq!(parse_u64(b""), None);
    }
}
