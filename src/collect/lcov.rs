//! LCOV tracefiles (`genhtml` input), as written by cargo-llvm-cov, grcov, c8, coverage.py `lcov`
//! and lcov 1.x / 2.x itself.
//!
//! Each record runs from `SF:<path>` to `end_of_record`. A record's figure for a dimension is the
//! producer's own summary when the record has one — `LF`/`LH` for lines, `BRF`/`BRH` for
//! branches, `FNF`/`FNH` for functions — since that is what the tool that wrote the tracefile
//! prints (`cargo llvm-cov report`, `genhtml`, c8, jest). The detail entries are counted too:
//! lines from `DA` (distinct line numbers; covered when the hit count is above zero), branches from
//! `BRDA` (distinct line/block/branch; `-` means never taken), functions from `FN`/`FNDA` (by name)
//! or lcov 2.2's `FNL`/`FNA` (by index, aliases merged). A record without a summary for a dimension
//! uses its detail count; both totals are kept (see [`super::Dimension`]), so a tracefile whose
//! summaries disagree with its entries is recorded with both figures. A dimension that appears in
//! no record is `None`. `TN`, `VER` and unknown upper-case entries (for example lcov 2.3's `MCDC`)
//! are ignored.
//!
//! A summary is refused when its hit count exceeds its found count (`LH` > `LF`), when the hit
//! count comes without the found count, or when a count exceeds [`MAX_ENTRIES_PER_RECORD`] (no
//! record can list more entries than that, so no record can summarise more either).
//!
//! Simplification: records for the same source file are not merged as `lcov -a` would; each record
//! is counted on its own. Memory is bounded by the per-record limit [`MAX_ENTRIES_PER_RECORD`].

use super::lines::{Lines, preview};
use super::xml::parse_u64;
use super::{CoverageCounts, Dimension, Ratio, ReportError, ReportFormat};
use std::collections::HashMap as StdHashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::BufRead;

/// Most distinct lines, branches and functions kept for one record (one source file). A file with
/// more than a million instrumented items is not a real source file; refusing it bounds memory.
pub const MAX_ENTRIES_PER_RECORD: usize = 1 << 20;

/// Maps keyed by line numbers or 64-bit digests: foldhash is several times faster than SipHash and,
/// seeded per process, still resists crafted collisions.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

/// Coverage of one `SF` record, and whether its detail entries were seen.
#[derive(Default)]
struct Record {
    /// `DA` line number -> covered.
    lines: HashMap<u64, bool>,
    /// Hash of (line, block, branch) -> taken.
    branches: HashMap<u64, bool>,
    /// Hash of the function's name (`FN`/`FNDA`) or index (`FNL`/`FNA`) -> hit.
    functions: HashMap<u64, bool>,
    lf_lh: Option<Ratio>,
    brf_brh: Option<Ratio>,
    fnf_fnh: Option<Ratio>,
    /// `LF`, `LH` etc. seen without their partner are kept half-filled here.
    partial: [Option<u64>; 6],
}

impl Record {
    fn clear(&mut self) {
        self.lines.clear();
        self.branches.clear();
        self.functions.clear();
        self.lf_lh = None;
        self.brf_brh = None;
        self.fnf_fnh = None;
        self.partial = [None; 6];
    }
}

fn ratio_of(map: &HashMap<u64, bool>) -> Ratio {
    Ratio {
        covered: map.values().filter(|&&hit| hit).count() as u64,
        total: map.len() as u64,
    }
}

fn key(parts: &[&[u8]]) -> u64 {
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

/// Parser state across records.
struct Parser<R> {
    lines: Lines<R>,
    in_record: bool,
    records: u64,
    totals: CoverageCounts,
}

impl<R: BufRead> Parser<R> {
    fn malformed(&self, expected: impl Into<String>, found: impl Into<String>) -> ReportError {
        self.lines.malformed(expected, found)
    }

    fn number(&self, tag: &str, what: &str, field: &[u8]) -> Result<u64, ReportError> {
        parse_u64(field).ok_or_else(|| self.malformed(format!("{what} in {tag}"), preview(field)))
    }

    /// Splits `value` into exactly `n` comma-separated fields (the last one keeps any commas).
    fn fields<'v>(
        &self,
        tag: &str,
        value: &'v [u8],
        n: usize,
        shape: &str,
    ) -> Result<Vec<&'v [u8]>, ReportError> {
        let fields: Vec<&[u8]> = value.splitn(n, |&b| b == b',').collect();
        if fields.len() == n {
            Ok(fields)
        } else {
            Err(self.malformed(format!("{tag}:{shape}"), preview(value)))
        }
    }

    fn insert(
        &self,
        map: DetailMap,
        key: u64,
        hit: bool,
        record: &mut Record,
    ) -> Result<(), ReportError> {
        let total = record.lines.len() + record.branches.len() + record.functions.len();
        let target = match map {
            DetailMap::Lines => &mut record.lines,
            DetailMap::Branches => &mut record.branches,
            DetailMap::Functions => &mut record.functions,
        };
        if !target.contains_key(&key) && total >= MAX_ENTRIES_PER_RECORD {
            return Err(ReportError::TooLarge {
                format: ReportFormat::Lcov,
                what: format!(
                    "record ending at line {} (too many entries)",
                    self.lines.line_no()
                ),
                limit: MAX_ENTRIES_PER_RECORD as u64,
            });
        }
        let entry = target.entry(key).or_insert(false);
        *entry |= hit;
        Ok(())
    }

    fn run(mut self) -> Result<CoverageCounts, ReportError> {
        let mut record = Record::default();
        let mut line = Vec::new();
        while let Some(next) = self.lines.next_line()? {
            line.clear();
            line.extend_from_slice(next.trim_ascii());
            self.line(&line, &mut record)?;
        }
        if self.in_record {
            return Err(ReportError::Malformed {
                format: ReportFormat::Lcov,
                location: Some(format!("line {}", self.lines.line_no() + 1)),
                expected: "end_of_record (the tracefile looks truncated)".to_string(),
                found: "end of input".to_string(),
            });
        }
        if self.records == 0 {
            return Err(ReportError::Malformed {
                format: ReportFormat::Lcov,
                location: None,
                expected: "at least one SF record".to_string(),
                found: "no records".to_string(),
            });
        }
        Ok(self.totals)
    }

    fn line(&mut self, line: &[u8], record: &mut Record) -> Result<(), ReportError> {
        if line.is_empty() {
            return Ok(());
        }
        if line == b"end_of_record" {
            if !self.in_record {
                return Err(self.malformed("SF:<path> before end_of_record", "end_of_record"));
            }
            self.finish(record)?;
            return Ok(());
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(self.malformed("an LCOV entry like DA:<line>,<hits>", preview(line)));
        };
        let (tag, value) = (&line[..colon], &line[colon + 1..]);
        // Only used in messages and in the match below; tags are short ASCII in valid input.
        let tag_str = String::from_utf8_lossy(tag);
        match tag {
            b"TN" | b"VER" => return Ok(()),
            b"SF" => {
                if self.in_record {
                    return Err(self.malformed("end_of_record before the next SF", preview(line)));
                }
                self.in_record = true;
                record.clear();
                return Ok(());
            }
            _ => {}
        }
        if !tag.iter().all(u8::is_ascii_uppercase) || tag.is_empty() {
            return Err(self.malformed("an LCOV entry like DA:<line>,<hits>", preview(line)));
        }
        let known = matches!(
            tag,
            b"DA"
                | b"LF"
                | b"LH"
                | b"BRDA"
                | b"BRF"
                | b"BRH"
                | b"FN"
                | b"FNDA"
                | b"FNF"
                | b"FNH"
                | b"FNL"
                | b"FNA"
        );
        if !known {
            // Entries of newer lcov versions (MCDC, ...) that this parser does not count.
            return Ok(());
        }
        if !self.in_record {
            return Err(self.malformed(format!("SF:<path> before {tag_str}"), preview(line)));
        }
        let tag = tag_str.as_ref();
        match tag {
            "DA" => {
                // DA:<line>,<hits>[,<checksum>]
                let f = self.fields(tag, value, 2, "<line>,<hits>")?;
                let number = self.number(tag, "a line number", f[0])?;
                let hits = f[1].split(|&b| b == b',').next().unwrap_or_default();
                let hits = self.hits(tag, hits)?;
                self.insert(DetailMap::Lines, number, hits > 0, record)?;
            }
            "BRDA" => {
                // BRDA:<line>,[e]<block>,<branch>,<taken>; lcov 2 branches may be text with commas.
                let f = self.fields(tag, value, 3, "<line>,<block>,<branch>,<taken>")?;
                let number = self.number(tag, "a line number", f[0])?;
                let Some(comma) = f[2].iter().rposition(|&b| b == b',') else {
                    return Err(
                        self.malformed("BRDA:<line>,<block>,<branch>,<taken>", preview(value))
                    );
                };
                let (branch, taken) = (&f[2][..comma], &f[2][comma + 1..]);
                let taken = if taken.trim_ascii() == b"-" {
                    0
                } else {
                    self.hits(tag, taken)?
                };
                let k = key(&[&number.to_le_bytes(), f[1], branch]);
                self.insert(DetailMap::Branches, k, taken > 0, record)?;
            }
            "FN" => {
                // FN:<line>,<name> (lcov 1) or FN:<start>,<end>,<name> (lcov 2).
                let f = self.fields(tag, value, 2, "<line>,<name>")?;
                self.number(tag, "a line number", f[0])?;
                let name = match f[1].iter().position(|&b| b == b',') {
                    Some(i) if parse_u64(&f[1][..i]).is_some() => &f[1][i + 1..],
                    _ => f[1],
                };
                self.insert(DetailMap::Functions, key(&[b"name", name]), false, record)?;
            }
            "FNDA" => {
                let f = self.fields(tag, value, 2, "<hits>,<name>")?;
                let hits = self.hits(tag, f[0])?;
                self.insert(
                    DetailMap::Functions,
                    key(&[b"name", f[1]]),
                    hits > 0,
                    record,
                )?;
            }
            "FNL" => {
                // FNL:<index>,<start>[,<end>]
                let f = self.fields(tag, value, 2, "<index>,<line>")?;
                let index = self.number(tag, "a function index", f[0])?;
                self.insert(
                    DetailMap::Functions,
                    key(&[b"index", &index.to_le_bytes()]),
                    false,
                    record,
                )?;
            }
            "FNA" => {
                // FNA:<index>,<hits>,<alias>
                let f = self.fields(tag, value, 3, "<index>,<hits>,<name>")?;
                let index = self.number(tag, "a function index", f[0])?;
                let hits = self.hits(tag, f[1])?;
                self.insert(
                    DetailMap::Functions,
                    key(&[b"index", &index.to_le_bytes()]),
                    hits > 0,
                    record,
                )?;
            }
            summary => {
                let n = self.number(tag, "a count", value)?;
                if n > MAX_ENTRIES_PER_RECORD as u64 {
                    return Err(self.malformed(
                        format!(
                            "a count of at most {MAX_ENTRIES_PER_RECORD} in {tag} (the most \
                             entries one record may have)"
                        ),
                        preview(value),
                    ));
                }
                let slot = match summary {
                    "LF" => 0,
                    "LH" => 1,
                    "BRF" => 2,
                    "BRH" => 3,
                    "FNF" => 4,
                    _ => 5, // FNH
                };
                record.partial[slot] = Some(n);
            }
        }
        Ok(())
    }

    /// A hit count: non-negative; an overflowing count saturates (it is still "hit").
    fn hits(&self, tag: &str, field: &[u8]) -> Result<u64, ReportError> {
        self.number(tag, "a non-negative hit count", field)
    }

    fn finish(&mut self, record: &mut Record) -> Result<(), ReportError> {
        for (i, (found, hit)) in [("LF", "LH"), ("BRF", "BRH"), ("FNF", "FNH")]
            .into_iter()
            .enumerate()
        {
            let summary = match (record.partial[2 * i], record.partial[2 * i + 1]) {
                (None, None) => None,
                (Some(total), covered) => {
                    let covered = covered.unwrap_or(0);
                    if covered > total {
                        return Err(self.malformed(
                            format!("{hit} not greater than {found} in the record"),
                            format!("{hit}:{covered} with {found}:{total}"),
                        ));
                    }
                    Some(Ratio { covered, total })
                }
                (None, Some(covered)) => {
                    return Err(self.malformed(
                        format!("{found} alongside {hit}"),
                        format!("{hit}:{covered} without {found}"),
                    ));
                }
            };
            match i {
                0 => record.lf_lh = summary,
                1 => record.brf_brh = summary,
                _ => record.fnf_fnh = summary,
            }
        }
        let detail = |map: &HashMap<u64, bool>| (!map.is_empty()).then(|| ratio_of(map));
        self.totals.add(&CoverageCounts {
            lines: Dimension::of(record.lf_lh, detail(&record.lines)),
            branches: Dimension::of(record.brf_brh, detail(&record.branches)),
            functions: Dimension::of(record.fnf_fnh, detail(&record.functions)),
        });
        self.records += 1;
        self.in_record = false;
        record.clear();
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum DetailMap {
    Lines,
    Branches,
    Functions,
}

/// Parses an LCOV tracefile into coverage counts.
///
/// Errors: [`ReportError::Malformed`] with the line number for a malformed entry or number, an
/// entry outside a record, a missing `end_of_record` or a file without any record;
/// [`ReportError::TooLarge`] for a line over [`super::MAX_TOKEN_BYTES`] or a record with more than
/// [`MAX_ENTRIES_PER_RECORD`] entries; [`ReportError::Io`].
pub fn parse(reader: impl BufRead) -> Result<CoverageCounts, ReportError> {
    Parser {
        lines: Lines::new(reader, ReportFormat::Lcov),
        in_record: false,
        records: 0,
        totals: CoverageCounts::default(),
    }
    .run()
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_support::{Figures, counted, used};
    use crate::statement::CoverageSource;

    fn counts(input: &str) -> CoverageCounts {
        match parse(input.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    /// The figures recorded.
    fn cov(input: &str) -> Figures {
        used(&counts(input))
    }

    /// The figures the detail entries give.
    fn detail(input: &str) -> Figures {
        counted(&counts(input))
    }

    fn r(covered: u64, total: u64) -> Option<Ratio> {
        Some(Ratio { covered, total })
    }

    fn malformed(input: &str) -> (Option<String>, String, String) {
        super::super::test_support::malformed_parts(parse(input.as_bytes()))
    }

    /// Real output of `coverage lcov` (coverage.py 7.17, branch coverage on): string branch names.
    const COVERAGE_PY: &str = include_str!("../../tests/fixtures/reports/coveragepy.lcov");

    #[test]
    fn counts_real_coverage_py_tracefile() {
        let c = cov(COVERAGE_PY);
        assert_eq!(c.lines, r(32, 37));
        assert_eq!(c.branches, r(4, 6));
        assert_eq!(c.functions, r(9, 12));
    }

    /// cargo-llvm-cov (`llvm-cov export -format=lcov`) style: FN/FNDA with mangled names, no
    /// branch data unless `--branch`, BRF/BRH zero.
    const LLVM_COV: &str = "SF:/home/dev/app/src/lib.rs
FN:1,_RNvCs1234_3app3add
FN:6,_RNvCs1234_3app12unused_thing
FNDA:3,_RNvCs1234_3app3add
FNDA:0,_RNvCs1234_3app12unused_thing
FNF:2
FNH:1
DA:1,3
DA:2,3
DA:3,3
DA:4,3
DA:6,0
DA:7,0
DA:8,0
DA:9,0
DA:10,0
BRF:0
BRH:0
LF:9
LH:4
end_of_record
SF:/home/dev/app/src/main.rs
FN:1,_RNvCs1234_3app4main
FNDA:1,_RNvCs1234_3app4main
FNF:1
FNH:1
DA:1,1
DA:2,1
DA:3,1
BRF:0
BRH:0
LF:3
LH:3
end_of_record
";

    #[test]
    fn counts_cargo_llvm_cov_tracefile() {
        let c = cov(LLVM_COV);
        assert_eq!(c.lines, r(7, 12));
        assert_eq!(c.functions, r(2, 3));
        // BRF:0 is a summary with nothing in it: the dimension appears, empty.
        assert_eq!(c.branches, r(0, 0));
    }

    #[test]
    fn lcov_branch_dash_means_not_taken() {
        let c =
            cov("SF:a.c\nBRDA:4,0,0,1\nBRDA:4,0,1,-\nBRDA:9,e1,0,0\nBRF:3\nBRH:1\nend_of_record\n");
        assert_eq!(c.branches, r(1, 3));
        assert_eq!(c.lines, None);
        assert_eq!(c.functions, None);
    }

    #[test]
    fn the_summary_is_used_and_disagreeing_entries_are_recorded_beside_it() {
        // The figure is what the producer printed (LF/LH); what the DA entries give is kept.
        let input = "SF:a.c\nDA:1,1\nDA:2,0\nLF:100\nLH:100\nend_of_record\n";
        assert_eq!(cov(input).lines, r(100, 100));
        assert_eq!(detail(input).lines, r(1, 2));
        let lines = counts(input).lines.expect("has lines");
        assert_eq!(lines.source(), CoverageSource::Summary);
        assert_eq!(lines.detail(), r(1, 2));
    }

    #[test]
    fn a_cargo_llvm_cov_record_whose_lf_differs_from_its_da_lines_reports_lf() {
        // llvm-cov's LF/LH come from its line summary, which can count fewer lines than it writes
        // DA entries for; `cargo llvm-cov report` prints the summary.
        let input = "SF:src/lib.rs\nDA:1,1\nDA:2,1\nDA:3,1\nDA:4,0\nLF:3\nLH:2\nend_of_record\n";
        assert_eq!(cov(input).lines, r(2, 3));
        assert_eq!(detail(input).lines, r(3, 4));
    }

    #[test]
    fn a_summary_that_agrees_with_its_entries_records_no_detail() {
        let lines = counts("SF:a.c\nDA:1,1\nDA:2,0\nLF:2\nLH:1\nend_of_record\n")
            .lines
            .expect("has lines");
        assert_eq!(lines.source(), CoverageSource::Summary);
        assert_eq!(lines.detail(), None);
    }

    #[test]
    fn records_without_a_summary_use_their_entries_and_the_source_says_mixed() {
        let input =
            "SF:a.c\nDA:1,1\nLF:5\nLH:5\nend_of_record\nSF:b.c\nDA:1,0\nDA:2,1\nend_of_record\n";
        assert_eq!(cov(input).lines, r(6, 7));
        assert_eq!(detail(input).lines, r(2, 3));
        let c = counts(input);
        assert_eq!(c.lines.map(|d| d.source()), Some(CoverageSource::Mixed));
        let only_detail = counts("SF:b.c\nDA:1,0\nend_of_record\n");
        assert_eq!(
            only_detail.lines.map(|d| d.source()),
            Some(CoverageSource::Detail)
        );
    }

    #[test]
    fn summaries_are_used_when_a_record_has_no_details() {
        let c = cov(
            "SF:a.c\nLF:10\nLH:7\nFNF:2\nFNH:2\nend_of_record\nSF:b.c\nDA:1,0\nend_of_record\n",
        );
        assert_eq!(c.lines, r(7, 11));
        assert_eq!(c.functions, r(2, 2));
        assert_eq!(c.branches, None);
    }

    #[test]
    fn duplicate_da_lines_count_once_and_any_hit_covers() {
        // gcov emits a line once per template instantiation.
        let c = cov("SF:t.cpp\nDA:5,0\nDA:5,2\nDA:6,0\nDA:6,0\nend_of_record\n");
        assert_eq!(c.lines, r(1, 2));
    }

    #[test]
    fn da_checksums_are_ignored() {
        let c = cov("SF:a.c\nDA:1,4,lXxkwb5zL8R1yOWhnqhAyQ\nDA:2,0,AAAA\nend_of_record\n");
        assert_eq!(c.lines, r(1, 2));
    }

    #[test]
    fn lcov2_function_index_entries_merge_aliases() {
        let input = "VER:2.2\nTN:unit\nSF:a.cpp\nFNL:0,10,20\nFNA:0,0,foo<int>\nFNA:0,3,foo<long>\nFNL:1,30,35\nFNA:1,0,bar\nFNF:2\nFNH:1\nend_of_record\n";
        assert_eq!(cov(input).functions, r(1, 2));
    }

    #[test]
    fn lcov2_function_entries_with_end_lines() {
        let c = cov(
            "SF:a.py\nFN:2,3,Calc.add\nFNDA:1,Calc.add\nFN:5,8,Calc.div\nFNDA:0,Calc.div\nend_of_record\n",
        );
        assert_eq!(c.functions, r(1, 2));
    }

    #[test]
    fn unknown_newer_entries_are_ignored() {
        let c = cov("SF:a.c\nMCDC:3,2,t,1,0,a && b\nDA:3,1\nend_of_record\n");
        assert_eq!(c.lines, r(1, 1));
    }

    #[test]
    fn huge_hit_counts_saturate_and_count_as_hit() {
        assert_eq!(
            cov("SF:a.c\nDA:1,99999999999999999999999\nend_of_record\n").lines,
            r(1, 1)
        );
    }

    #[test]
    fn a_summary_larger_than_any_record_can_be_is_refused_where_it_is_written() {
        let (location, expected, found) =
            malformed("SF:a.c\nDA:1,1\nLF:18446744073709551616\nLH:1\nend_of_record\n");
        assert_eq!(location.as_deref(), Some("line 3"));
        assert_eq!(
            expected,
            "a count of at most 1048576 in LF (the most entries one record may have)"
        );
        assert_eq!(found, "\"18446744073709551616\"");
        let (location, expected, _) = malformed("SF:a.c\nBRF:2\nBRH:1048577\nend_of_record\n");
        assert_eq!(location.as_deref(), Some("line 3"));
        assert!(expected.contains("in BRH"), "{expected}");
    }

    #[test]
    fn summaries_at_the_limit_add_up_without_overflow() {
        let record = format!(
            "SF:a.c\nLF:{MAX_ENTRIES_PER_RECORD}\nLH:{MAX_ENTRIES_PER_RECORD}\nend_of_record\n"
        );
        let n = MAX_ENTRIES_PER_RECORD as u64;
        assert_eq!(cov(&record.repeat(3)).lines, r(3 * n, 3 * n));
    }

    #[test]
    fn windows_line_endings_are_accepted() {
        assert_eq!(cov("SF:a.c\r\nDA:1,1\r\nend_of_record\r\n").lines, r(1, 1));
    }

    #[test]
    fn rejects_malformed_numbers_with_line_number() {
        let (location, expected, found) = malformed("SF:a.c\nDA:1,1\nDA:2,x\nend_of_record\n");
        assert_eq!(location.as_deref(), Some("line 3"));
        assert_eq!(expected, "a non-negative hit count in DA");
        assert_eq!(found, "\"x\"");
    }

    #[test]
    fn rejects_negative_hit_counts() {
        let (location, _, found) = malformed("SF:a.c\nDA:7,-1\nend_of_record\n");
        assert_eq!(location.as_deref(), Some("line 2"));
        assert_eq!(found, "\"-1\"");
    }

    #[test]
    fn rejects_a_file_without_records() {
        let (_, expected, found) = malformed("TN:\n\n");
        assert_eq!(expected, "at least one SF record");
        assert_eq!(found, "no records");
    }

    #[test]
    fn rejects_a_truncated_record() {
        let (location, expected, found) = malformed("SF:a.c\nDA:1,1\n");
        assert_eq!(location.as_deref(), Some("line 3"));
        assert!(expected.starts_with("end_of_record"), "{expected}");
        assert_eq!(found, "end of input");
    }

    #[test]
    fn rejects_entries_outside_a_record() {
        let (location, expected, _) = malformed("DA:1,1\n");
        assert_eq!(location.as_deref(), Some("line 1"));
        assert_eq!(expected, "SF:<path> before DA");
    }

    #[test]
    fn rejects_a_missing_end_of_record_between_files() {
        let (location, expected, _) = malformed("SF:a.c\nDA:1,1\nSF:b.c\nend_of_record\n");
        assert_eq!(location.as_deref(), Some("line 3"));
        assert_eq!(expected, "end_of_record before the next SF");
    }

    #[test]
    fn rejects_text_that_is_not_lcov() {
        let (location, expected, found) = malformed("<?xml version=\"1.0\"?>\n");
        assert_eq!(location.as_deref(), Some("line 1"));
        assert_eq!(expected, "an LCOV entry like DA:<line>,<hits>");
        assert!(found.contains("xml"), "{found}");
    }

    #[test]
    fn rejects_hit_summary_above_found_summary() {
        let (_, expected, found) = malformed("SF:a.c\nLF:2\nLH:3\nend_of_record\n");
        assert_eq!(expected, "LH not greater than LF in the record");
        assert_eq!(found, "LH:3 with LF:2");
    }

    #[test]
    fn rejects_truncated_da_entries() {
        let (_, expected, found) = malformed("SF:a.c\nDA:12\nend_of_record\n");
        assert_eq!(expected, "DA:<line>,<hits>");
        assert_eq!(found, "\"12\"");
    }

    #[test]
    fn large_generated_tracefile_counts_exactly() {
        let mut input = String::new();
        for file in 0..20 {
            input.push_str(&format!("SF:src/f{file}.rs\n"));
            for line in 1..=5_000 {
                input.push_str(&format!("DA:{line},{}\n", line % 2));
            }
            input.push_str("end_of_record\n");
        }
        let reader = std::io::BufReader::with_capacity(1024, input.as_bytes());
        assert_eq!(
            used(&parse(reader).expect("valid")).lines,
            r(50_000, 100_000)
        );
    }
}
