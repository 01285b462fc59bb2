//! The line of a value in a YAML document, found by its path
//! (`virtuals[2].reals[1]`), so value errors carry `file:line`.

/// One step of a path into the document.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Finds the line of a value by its path, reading block-style YAML by
/// indentation (what this format's files and `convert` use). For a path it
/// cannot follow (flow style), it answers the deepest line it found.
pub struct LineIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    col: usize,
    dash: bool,
    text: String,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                continue;
            }
            let mut col = raw.len() - trimmed.len();
            let mut rest = trimmed;
            while rest == "-" || rest.starts_with("- ") {
                entries.push(Entry {
                    line: i + 1,
                    col,
                    dash: true,
                    text: String::new(),
                });
                let after = rest[1..].trim_start();
                col += rest.len() - after.len();
                rest = after;
            }
            if !rest.is_empty() && !rest.starts_with('#') {
                entries.push(Entry {
                    line: i + 1,
                    col,
                    dash: false,
                    text: rest.to_string(),
                });
            }
        }
        LineIndex { entries }
    }

    fn key_matches(text: &str, key: &str) -> bool {
        let rest = if let Some(r) = text
            .strip_prefix('"')
            .and_then(|t| t.strip_prefix(key))
            .and_then(|t| t.strip_prefix('"'))
        {
            r
        } else if let Some(r) = text
            .strip_prefix('\'')
            .and_then(|t| t.strip_prefix(key))
            .and_then(|t| t.strip_prefix('\''))
        {
            r
        } else if let Some(r) = text.strip_prefix(key) {
            r
        } else {
            return false;
        };
        let rest = rest.trim_start();
        rest == ":" || rest.starts_with(": ") || rest.starts_with(":\t")
    }

    /// The line of the value at `path` (1-based), or the deepest line found
    /// on the way (0 when none).
    pub fn locate(&self, path: &[Seg]) -> usize {
        let e = &self.entries;
        let (mut lo, mut hi) = (0, e.len());
        let mut found = 0;
        for seg in path {
            let Some(child_col) = e[lo..hi].iter().map(|x| x.col).min() else {
                return found;
            };
            let idx = match seg {
                Seg::Key(k) => (lo..hi).find(|&i| {
                    e[i].col == child_col && !e[i].dash && Self::key_matches(&e[i].text, k)
                }),
                Seg::Index(n) => (lo..hi)
                    .filter(|&i| e[i].col == child_col && e[i].dash)
                    .nth(*n),
            };
            let Some(idx) = idx else { return found };
            found = e[idx].line;
            let c = e[idx].col;
            let is_key = !e[idx].dash;
            let mut j = idx + 1;
            while j < hi && (e[j].col > c || (is_key && e[j].dash && e[j].col == c)) {
                j += 1;
            }
            lo = idx + 1;
            hi = j;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_follows_paths() {
        let text = "a: 1\nvirtuals:\n- virtual: x\n  reals:\n  - r0\n  - r1\n  scheduler: rr\n- fwmark: 3\n  # c\n  reals:\n    - q0\n";
        let ix = LineIndex::new(text);
        assert_eq!(ix.locate(&[Seg::Key("a")]), 1);
        assert_eq!(ix.locate(&[Seg::Key("virtuals"), Seg::Index(0)]), 3);
        assert_eq!(
            ix.locate(&[Seg::Key("virtuals"), Seg::Index(0), Seg::Key("virtual")]),
            3
        );
        assert_eq!(
            ix.locate(&[
                Seg::Key("virtuals"),
                Seg::Index(0),
                Seg::Key("reals"),
                Seg::Index(1)
            ]),
            6
        );
        assert_eq!(
            ix.locate(&[Seg::Key("virtuals"), Seg::Index(0), Seg::Key("scheduler")]),
            7
        );
        assert_eq!(
            ix.locate(&[
                Seg::Key("virtuals"),
                Seg::Index(1),
                Seg::Key("reals"),
                Seg::Index(0)
            ]),
            11
        );
        // Not found: the deepest line found.
        assert_eq!(
            ix.locate(&[Seg::Key("virtuals"), Seg::Index(1), Seg::Key("nope")]),
            8
        );
    }
}
