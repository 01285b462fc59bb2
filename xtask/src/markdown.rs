//! The README's Markdown, as far as the README uses it, into roff: one
//! source for the README and the man pages.
//!
//! Handled: `## ` sections (found by title), `### ` headings, paragraphs,
//! indented and fenced code blocks, `- ` lists, tables, and inline code,
//! `**bold**`, `[links](...)` and `\|`. Anything else is text.

/// The body of the `## ` section whose title starts with `title` (fenced
/// blocks taken into account), without its heading line.
pub fn section<'a>(md: &'a str, title: &str) -> Option<Vec<&'a str>> {
    let mut out = None::<Vec<&str>>;
    let mut fenced = false;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if !fenced && line.starts_with("## ") {
            if out.is_some() {
                break;
            }
            if line[3..].starts_with(title) {
                out = Some(Vec::new());
            }
            continue;
        }
        if let Some(o) = out.as_mut() {
            o.push(line);
        }
    }
    out
}

/// One block of Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    Code(Vec<String>),
    List(Vec<String>),
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// Split lines into blocks.
pub fn blocks(lines: &[&str]) -> Vec<Block> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
        } else if let Some(h) = line.strip_prefix("### ") {
            out.push(Block::Heading(h.trim().to_string()));
            i += 1;
        } else if line.trim_start().starts_with("```") {
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(lines[i].to_string());
                i += 1;
            }
            i += 1;
            out.push(Block::Code(code));
        } else if line.starts_with("    ") {
            let mut code = Vec::new();
            while i < lines.len() && (lines[i].starts_with("    ") || lines[i].trim().is_empty()) {
                code.push(lines[i].get(4..).unwrap_or("").to_string());
                i += 1;
            }
            while code.last().is_some_and(|l| l.trim().is_empty()) {
                code.pop();
            }
            out.push(Block::Code(code));
        } else if line.starts_with('|') {
            let mut table = Vec::new();
            while i < lines.len() && lines[i].starts_with('|') {
                table.push(cells(lines[i]));
                i += 1;
            }
            let header = table.first().cloned().unwrap_or_default();
            let rows = table
                .into_iter()
                .skip(1)
                .filter(|r| !r.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')))
                .collect();
            out.push(Block::Table { header, rows });
        } else if line.starts_with("- ") {
            let mut items: Vec<String> = Vec::new();
            while i < lines.len() {
                let l = lines[i];
                if let Some(item) = l.strip_prefix("- ") {
                    items.push(item.trim().to_string());
                } else if l.starts_with("  ") && !l.trim().is_empty() {
                    if let Some(last) = items.last_mut() {
                        last.push(' ');
                        last.push_str(l.trim());
                    }
                } else {
                    break;
                }
                i += 1;
            }
            out.push(Block::List(items));
        } else {
            let mut text = Vec::new();
            while i < lines.len() {
                let l = lines[i];
                if l.trim().is_empty()
                    || l.starts_with("### ")
                    || l.starts_with('|')
                    || l.starts_with("- ")
                    || l.trim_start().starts_with("```")
                {
                    break;
                }
                text.push(l.trim());
                i += 1;
            }
            out.push(Block::Paragraph(text.join(" ")));
        }
    }
    out
}

/// The cells of a table row (`\|` is a `|` inside a cell).
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                out.last_mut().unwrap().push_str("\\|");
            }
            '|' => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|c| c.trim().to_string()).collect()
}

/// Escape text for roff (not at the start of a line: see [`line`]); in
/// `code`, `-` is a minus sign (so that copied options work).
pub fn escape_text(s: &str, code: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' if code => out.push_str("\\-"),
            _ => out.push(c),
        }
    }
    out
}

/// A text line that roff will not take for a request.
pub fn line(s: &str) -> String {
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s.to_string()
    }
}

/// Inline Markdown into roff: code and bold in bold, links as their text
/// (and the address, when absolute).
pub fn inline(s: &str) -> String {
    let s = s.replace("\\|", "|");
    let mut out = String::new();
    let mut rest = s.as_str();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`') {
            if let Some(end) = r.find('`') {
                out.push_str(&format!("\\fB{}\\fR", escape_text(&r[..end], true)));
                rest = &r[end + 1..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                out.push_str(&format!(
                    "\\fB{}\\fR",
                    inline(&r[..end]).replace("\\fR", "\\fB")
                ));
                rest = &r[end + 2..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('[') {
            if let Some((text, after)) = r.split_once("](") {
                if let Some(end) = after.find(')') {
                    let url = &after[..end];
                    out.push_str(&inline(text));
                    if url.starts_with("http://") || url.starts_with("https://") {
                        out.push_str(&format!(" <{}>", escape_text(url, false)));
                    }
                    rest = &after[end + 1..];
                    continue;
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push_str(&escape_text(&c.to_string(), false));
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The header of the column that describes (rendered unlabelled).
const DESCRIBING: &[&str] = &["meaning", "what it does", "check", "role"];

/// Blocks into roff. `### ` headings become `.SH` (upper case) when
/// `headings_as_sections`, else `.SS`.
pub fn to_roff(blocks: &[Block], headings_as_sections: bool) -> String {
    let mut out = String::new();
    for b in blocks {
        match b {
            Block::Heading(h) if headings_as_sections => {
                out.push_str(&format!(".SH {}\n", inline(&h.to_uppercase())));
            }
            Block::Heading(h) => out.push_str(&format!(".SS {}\n", inline(h))),
            Block::Paragraph(p) => {
                out.push_str(".PP\n");
                out.push_str(&line(&inline(p)));
                out.push('\n');
            }
            Block::Code(code) => {
                out.push_str(".PP\n.RS 4\n.nf\n");
                for l in code {
                    out.push_str(&line(&escape_text(l, true)));
                    out.push('\n');
                }
                out.push_str(".fi\n.RE\n");
            }
            Block::List(items) => {
                for item in items {
                    out.push_str(".IP \\(bu 2\n");
                    out.push_str(&line(&inline(item)));
                    out.push('\n');
                }
            }
            Block::Table { header, rows } => {
                let describing = header
                    .iter()
                    .position(|h| DESCRIBING.contains(&h.to_lowercase().as_str()))
                    .unwrap_or(header.len().saturating_sub(1));
                for row in rows {
                    out.push_str(".TP\n");
                    out.push_str(&line(&inline(row.first().map_or("", String::as_str))));
                    out.push('\n');
                    if let Some(d) = row.get(describing).filter(|_| describing > 0) {
                        out.push_str(&line(&inline(d)));
                        out.push('\n');
                    }
                    let labelled: Vec<String> = row
                        .iter()
                        .enumerate()
                        .skip(1)
                        .filter(|(i, c)| *i != describing && !c.is_empty())
                        .map(|(i, c)| {
                            let h = header.get(i).map_or("", String::as_str);
                            format!("\\fI{}\\fR: {}", inline(h), inline(c))
                        })
                        .collect();
                    if !labelled.is_empty() {
                        out.push_str(".br\n");
                        out.push_str(&line(&labelled.join("; ")));
                        out.push('\n');
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
/// The directive tables: (first cell, the other cells by header) of each
/// row of each table whose first header is `directive`.
pub fn directive_rows(blocks: &[Block]) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for b in blocks {
        if let Block::Table { header, rows } = b {
            if header.first().map(String::as_str) != Some("directive") {
                continue;
            }
            for row in rows {
                let rest = header
                    .iter()
                    .zip(row.iter())
                    .skip(1)
                    .map(|(h, c)| (h.clone(), c.clone()))
                    .collect();
                out.push((row.first().cloned().unwrap_or_default(), rest));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MD: &str = "# T\n\nintro\n\n## One\n\nA `-f` para\nwith **bold `x`** and [a link](https://e.org/) and [rel](a.md).\n\n\
        ### Sub\n\n    code \\ -x\n\n    .dot\n\n| directive | where | meaning |\n| --- | --- | --- |\n\
        | `a` | both | does `a\\|b` |\n\n- item one\n  continued\n- two\n\n```yaml\n## not a heading\nk: v\n```\n\n## Two\n\nnext\n";

    #[test]
    fn finds_sections_and_skips_fences() {
        let s = section(MD, "One").unwrap();
        assert_eq!(s.first(), Some(&""));
        assert!(s.contains(&"## not a heading"));
        assert!(!s.contains(&"next"));
        assert!(section(MD, "Three").is_none());
    }

    #[test]
    fn blocks_of_each_kind() {
        let b = blocks(&section(MD, "One").unwrap());
        assert_eq!(
            b,
            vec![
                Block::Paragraph(
                    "A `-f` para with **bold `x`** and [a link](https://e.org/) and [rel](a.md)."
                        .into()
                ),
                Block::Heading("Sub".into()),
                Block::Code(vec!["code \\ -x".into(), "".into(), ".dot".into()]),
                Block::Table {
                    header: vec!["directive".into(), "where".into(), "meaning".into()],
                    rows: vec![vec!["`a`".into(), "both".into(), "does `a\\|b`".into()]],
                },
                Block::List(vec!["item one continued".into(), "two".into()]),
                Block::Code(vec!["## not a heading".into(), "k: v".into()]),
            ]
        );
    }

    #[test]
    fn roff_output() {
        let r = to_roff(&blocks(&section(MD, "One").unwrap()), false);
        assert!(r.contains(".PP\nA \\fB\\-f\\fR para with \\fBbold \\fBx\\fB\\fR and a link <https://e.org/> and rel.\n"), "{r}");
        assert!(r.contains(".SS Sub\n"), "{r}");
        assert!(r.contains(".nf\ncode \\e \\-x\n\n\\&.dot\n.fi\n"), "{r}");
        assert!(
            r.contains(".TP\n\\fBa\\fR\ndoes \\fBa|b\\fR\n.br\n\\fIwhere\\fR: both\n"),
            "{r}"
        );
        assert!(r.contains(".IP \\(bu 2\nitem one continued\n"), "{r}");
        let r = to_roff(&blocks(&section(MD, "One").unwrap()), true);
        assert!(r.contains(".SH SUB\n"), "{r}");
    }

    #[test]
    fn directive_rows_by_header() {
        let rows = directive_rows(&blocks(&section(MD, "One").unwrap()));
        assert_eq!(
            rows,
            vec![(
                "`a`".to_string(),
                vec![
                    ("where".to_string(), "both".to_string()),
                    ("meaning".to_string(), "does `a\\|b`".to_string())
                ]
            )]
        );
    }
}
