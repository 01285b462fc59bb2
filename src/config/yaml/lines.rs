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
///
/// The entries (one per key or `-`) form a tree, built once in linear time:
/// a lookup then costs the depth of the path times the keys of a map, not
/// the size of the document (a scan per lookup made 20,000 virtuals take
/// minutes).
pub struct LineIndex {
    entries: Vec<Entry>,
    /// The direct children of node `i` (entries `0..n`, the document `n`)
    /// are `kids[first[i]..first[i + 1]]`.
    first: Vec<usize>,
    kids: Vec<usize>,
    /// Of node `i`, the children at the smallest column that are `-` items,
    /// in order: `items[ifirst[i]..ifirst[i + 1]]`.
    ifirst: Vec<usize>,
    items: Vec<usize>,
    /// The smallest column of node `i`'s children (`usize::MAX`: none).
    child_col: Vec<usize>,
}

#[derive(Debug)]
struct Entry {
    line: usize,
    col: usize,
    dash: bool,
    text: String,
}

impl Entry {
    /// Whether `next` (an entry after this one, with every entry between
    /// them inside this one) is inside this one: deeper, or a `-` item of
    /// a key written at the key's own column.
    fn contains(&self, next: &Entry) -> bool {
        next.col > self.col || (!self.dash && next.dash && next.col == self.col)
    }
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
        // Parents, with a stack of the entries still open: an entry ends
        // the open ones that do not contain it (if one does, every one
        // under it in the stack does too).
        let n = entries.len();
        let root = n;
        let mut parent = vec![root; n];
        let mut open: Vec<usize> = Vec::new();
        for j in 0..n {
            while let Some(&top) = open.last() {
                if entries[top].contains(&entries[j]) {
                    parent[j] = top;
                    break;
                }
                open.pop();
            }
            open.push(j);
        }
        // Children lists (in document order), grouped by parent.
        let mut first = vec![0usize; n + 2];
        for &p in &parent {
            first[p + 1] += 1;
        }
        for i in 0..=n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut kids = vec![0usize; n];
        for (j, &p) in parent.iter().enumerate() {
            kids[fill[p]] = j;
            fill[p] += 1;
        }
        let mut child_col = vec![usize::MAX; n + 1];
        let mut ifirst = vec![0usize; n + 2];
        let mut items = Vec::new();
        for node in 0..=n {
            let ks = &kids[first[node]..first[node + 1]];
            let col = ks
                .iter()
                .map(|&k| entries[k].col)
                .min()
                .unwrap_or(usize::MAX);
            child_col[node] = col;
            items.extend(
                ks.iter()
                    .copied()
                    .filter(|&k| entries[k].dash && entries[k].col == col),
            );
            ifirst[node + 1] = items.len();
        }
        LineIndex {
            entries,
            first,
            kids,
            ifirst,
            items,
            child_col,
        }
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
        let mut node = e.len();
        let mut found = 0;
        for seg in path {
            let col = self.child_col[node];
            if col == usize::MAX {
                return found;
            }
            let idx = match seg {
                Seg::Key(k) => self.kids[self.first[node]..self.first[node + 1]]
                    .iter()
                    .copied()
                    .find(|&i| e[i].col == col && !e[i].dash && Self::key_matches(&e[i].text, k)),
                Seg::Index(n) => self.items[self.ifirst[node]..self.ifirst[node + 1]]
                    .get(*n)
                    .copied(),
            };
            let Some(idx) = idx else { return found };
            found = e[idx].line;
            node = idx;
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
