//! A bounded line reader shared by the line-oriented parsers (LCOV, libtest JSON, cargo JSON).
//!
//! [`BufRead::read_line`] grows its `String` for as long as no newline arrives, so a report made of
//! one endless line would exhaust memory. [`Lines`] copies at most [`MAX_TOKEN_BYTES`] bytes of a
//! line and reports [`ReportError::TooLarge`] instead of buffering more.

use super::{MAX_TOKEN_BYTES, ReportError, ReportFormat};
use std::io::{self, BufRead};

/// Reads `\n`-terminated lines (a trailing `\r` is stripped) with a hard length limit.
pub(crate) struct Lines<R> {
    reader: R,
    format: ReportFormat,
    limit: usize,
    buf: Vec<u8>,
    line_no: u64,
}

impl<R: BufRead> Lines<R> {
    /// A line reader for a report of `format` that accepts lines of up to [`MAX_TOKEN_BYTES`].
    pub(crate) fn new(reader: R, format: ReportFormat) -> Self {
        Self::with_limit(reader, format, MAX_TOKEN_BYTES)
    }

    /// A line reader with a custom limit (tests use a small one).
    pub(crate) fn with_limit(reader: R, format: ReportFormat, limit: usize) -> Self {
        Lines {
            reader,
            format,
            limit,
            buf: Vec::new(),
            line_no: 0,
        }
    }

    /// The 1-based number of the line last returned by [`Lines::next_line`] (0 before the first).
    pub(crate) fn line_no(&self) -> u64 {
        self.line_no
    }

    /// `line N` for the line last returned, for error locations.
    pub(crate) fn location(&self) -> Option<String> {
        Some(format!("line {}", self.line_no))
    }

    /// A `Malformed` error located at the line last returned.
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

    /// The next line without its terminator, or `None` at end of input.
    pub(crate) fn next_line(&mut self) -> Result<Option<&[u8]>, ReportError> {
        self.buf.clear();
        let mut saw_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ReportError::Io {
                        format: self.format,
                        source,
                    });
                }
            };
            if available.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, found_newline) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            if self.buf.len() + chunk.len() > self.limit {
                return Err(ReportError::TooLarge {
                    format: self.format,
                    what: format!("line {}", self.line_no + 1),
                    limit: self.limit as u64,
                });
            }
            self.buf.extend_from_slice(chunk);
            let used = chunk.len() + usize::from(found_newline);
            self.reader.consume(used);
            if found_newline {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        self.line_no += 1;
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(&self.buf))
    }
}

/// A short, printable excerpt of `bytes` for "found ..." in error messages.
pub(crate) fn preview(bytes: &[u8]) -> String {
    const MAX_CHARS: usize = 60;
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push_str("...");
    }
    format!("{out:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(input: &[u8], limit: usize) -> Result<Vec<String>, ReportError> {
        let mut lines = Lines::with_limit(input, ReportFormat::Lcov, limit);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line()? {
            out.push(String::from_utf8_lossy(line).into_owned());
        }
        Ok(out)
    }

    #[test]
    fn splits_on_newlines_and_strips_carriage_returns() {
        let lines = all_lines(b"a\r\nbb\n\nccc", 100).expect("valid input");
        assert_eq!(lines, ["a", "bb", "", "ccc"]);
    }

    #[test]
    fn empty_input_has_no_lines() {
        assert!(all_lines(b"", 100).expect("valid input").is_empty());
    }

    #[test]
    fn final_newline_does_not_add_an_empty_line() {
        assert_eq!(all_lines(b"x\n", 100).expect("valid input"), ["x"]);
    }

    #[test]
    fn counts_line_numbers() {
        let mut lines = Lines::new(&b"one\ntwo\n"[..], ReportFormat::Lcov);
        assert_eq!(lines.line_no(), 0);
        lines.next_line().expect("line").expect("some");
        lines.next_line().expect("line").expect("some");
        assert_eq!(lines.line_no(), 2);
        assert_eq!(lines.location().as_deref(), Some("line 2"));
    }

    #[test]
    fn refuses_a_line_longer_than_the_limit_with_its_number() {
        let err = all_lines(b"short\n0123456789abc\n", 10).expect_err("too long");
        match err {
            ReportError::TooLarge { what, limit, .. } => {
                assert_eq!(what, "line 2");
                assert_eq!(limit, 10);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_accepted() {
        assert_eq!(
            all_lines(b"0123456789\n", 10).expect("fits"),
            ["0123456789"]
        );
    }

    #[test]
    fn refuses_an_endless_line_from_a_tiny_buffer_without_buffering_it() {
        // A reader with an 8-byte buffer over a 1 MiB line: the limit trips long before the end.
        let data = vec![b'x'; 1 << 20];
        let reader = std::io::BufReader::with_capacity(8, &data[..]);
        let mut lines = Lines::with_limit(reader, ReportFormat::Clippy, 1000);
        assert!(matches!(
            lines.next_line(),
            Err(ReportError::TooLarge { .. })
        ));
        assert!(lines.buf.capacity() < 4096);
    }

    #[test]
    fn preview_truncates_long_text() {
        let long = "y".repeat(200);
        let p = preview(long.as_bytes());
        assert!(p.ends_with("...\""));
        assert!(p.len() < 80);
    }
}
