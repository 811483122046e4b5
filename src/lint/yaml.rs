//! Kubernetes YAML as a tree of nodes that know their line: every document of a stream (what
//! `helm template` prints, or `kubectl get -o yaml`), built from saphyr's parser events without
//! recursion, nesting and alias expansion bounded.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Deeper than any manifest nests (a PodSpec's deepest field is about 15 levels down).
const MAX_DEPTH: usize = 128;
/// Bytes read again to accept closing brackets at go-yaml's indentation (see [`documents`]).
const REPARSE_BUDGET: usize = 16 * 1024 * 1024;
/// Nodes in one stream, aliases expanded: a stream of "billion laughs" anchors stops here.
const MAX_NODES: usize = 2_000_000;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    /// The scalar's text, and whether it was written plain (unquoted: `true` is a boolean only so).
    Scalar(String, bool),
    Sequence(Vec<Node>),
    Mapping(Vec<(String, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    /// 1-based line where the node starts.
    pub line: usize,
    /// A literal block scalar (`|`): the node's line is its text's first, so line N of the text
    /// is the node's line + N - 1.
    pub block: bool,
}

static NULL: Node = Node { value: Value::Null, line: 0, block: false };

impl Node {
    /// The value under `key` of a mapping (a missing key, or not a mapping: Null).
    pub fn get(&self, key: &str) -> &Node {
        match &self.value {
            Value::Mapping(entries) => entries.iter().rev().find(|(k, _)| k == key).map_or(&NULL, |(_, v)| v),
            _ => &NULL,
        }
    }

    /// `a.b.c`.
    pub fn at(&self, path: &str) -> &Node {
        path.split('.').fold(self, |node, key| node.get(key))
    }

    pub fn is_null(&self) -> bool {
        self.value == Value::Null
    }

    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(text, _) => Some(text),
            _ => None,
        }
    }

    /// A boolean as Kubernetes' decoder (go-yaml through sigs.k8s.io/yaml, YAML 1.1) reads a
    /// plain scalar; a quoted one is a string, which the API server refuses for a boolean field.
    pub fn boolean(&self) -> Option<bool> {
        match &self.value {
            Value::Scalar(text, true) => match text.as_str() {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Some(true),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    pub fn integer(&self) -> Option<i64> {
        self.text()?.parse().ok()
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Sequence(items) => items,
            _ => &[],
        }
    }

    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Mapping(entries) => entries,
            _ => &[],
        }
    }

    /// The line of this node, or `fallback`'s where it has none (a missing field).
    pub fn line_or(&self, fallback: usize) -> usize {
        if self.line == 0 { fallback } else { self.line }
    }
}

/// One document of the stream, numbered from 1 as `---` separates them.
#[derive(Debug)]
pub struct Document {
    pub index: usize,
    pub root: Node,
}

enum Frame {
    Sequence { items: Vec<Node>, line: usize, anchor: usize },
    Mapping { entries: Vec<(String, Node)>, key: Option<String>, line: usize, anchor: usize },
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn count(node: &Node) -> usize {
    let mut total = 0;
    let mut pending = vec![node];
    while let Some(node) = pending.pop() {
        total += 1;
        match &node.value {
            Value::Sequence(items) => pending.extend(items),
            Value::Mapping(entries) => pending.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    total
}

/// Every document of `text`. Err: one line, `LINE: what`.
///
/// Kubernetes reads YAML with go-yaml, which takes a flow collection's closing bracket on a line
/// of its own at its key's indentation (openbao-helm's preStop `command: [ ... ]` is written so);
/// YAML 1.2, and saphyr, want it indented further. When the parser stops at such a line, every
/// line outside a block scalar that holds only closing brackets (no plain scalar starts with one)
/// is indented as the line above it, and the stream read again; then, should the parser stop at
/// one again, that line alone, within a bounded amount of reading. Lines keep their numbers, and
/// no scalar changes.
pub fn documents(text: &str) -> Result<Vec<Document>, String> {
    let mut text = std::borrow::Cow::Borrowed(text);
    let mut every_line_fixed = false;
    // Each fix reads the stream again: the bytes read again are bounded, not the fixes.
    let mut budget = REPARSE_BUDGET.max(2 * text.len());
    while let Some(left) = budget.checked_sub(text.len()) {
        budget = left;
        match parse(&text) {
            Err((line, message)) if message == "invalid indentation" => {
                let fixed = if every_line_fixed {
                    reindent_closing_brackets(&text, Some(line))
                } else {
                    every_line_fixed = true;
                    reindent_closing_brackets(&text, None)
                };
                match fixed {
                    Some(fixed) => text = std::borrow::Cow::Owned(fixed),
                    None => return Err(format!("{line}: {message}")),
                }
            }
            other => return other.map_err(|(line, message)| format!("{line}: {message}")),
        }
    }
    Err(format!("more closing brackets out of their indentation than {REPARSE_BUDGET} bytes of reading allow"))
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether a line opens a block scalar: it ends in `|` or `>` (with chomping and indentation
/// indicators) after a key or a sequence dash.
fn opens_block_scalar(line: &str) -> bool {
    let code = line.split(" #").next().unwrap_or(line).trim_end();
    let indicator = code.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
    let Some(before) = indicator.strip_suffix('|').or_else(|| indicator.strip_suffix('>')) else { return false };
    let before = before.trim_end();
    before.is_empty() || before.ends_with(':') || before.ends_with('-')
}

/// `text` with its lines that hold only closing brackets (and commas, a comment) indented as
/// the nearest non-blank line above, where less: `only` that line (1-based), or every such line
/// outside block scalars. None when nothing changes.
fn reindent_closing_brackets(text: &str, only: Option<usize>) -> Option<String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut changed = false;
    let mut block: Option<usize> = None;
    let mut above_indentation = None;
    for (index, line) in lines.iter_mut().enumerate() {
        let blank = line.trim().is_empty();
        if let Some(parent) = block {
            if blank || indentation(line) > parent {
                continue;
            }
            block = None;
        }
        if blank {
            continue;
        }
        let rest = line.trim_start_matches(' ').to_string();
        let content = rest.split(" #").next().unwrap_or(&rest).trim_end();
        let closing = !content.is_empty() && content.chars().all(|c| matches!(c, ']' | '}' | ',' | ' '));
        let chosen = only.is_none_or(|n| n == index + 1);
        if closing && chosen {
            if let Some(wanted) = above_indentation.filter(|w| *w > indentation(line)) {
                *line = format!("{}{rest}", " ".repeat(wanted));
                changed = true;
            }
        }
        if opens_block_scalar(line) {
            block = Some(indentation(line));
        }
        above_indentation = Some(indentation(line));
    }
    changed.then(|| lines.join("\n"))
}

fn parse(text: &str) -> Result<Vec<Document>, (usize, String)> {
    let mut parser = Parser::new_from_str(text);
    let mut documents = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut root: Option<Node> = None;
    let mut nodes = 0usize;
    let mut index = 0;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| (e.marker().line(), e.info().to_string()))?;
        let line = span.start.line();
        let complete = match event {
            Event::DocumentStart(_) => {
                index += 1;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                if let Some(root) = root.take().filter(|r| !r.is_null()) {
                    documents.push(Document { index, root });
                }
                None
            }
            Event::Scalar(text, style, anchor, _) => {
                let value = if style == ScalarStyle::Plain && is_null(&text) {
                    Value::Null
                } else {
                    Value::Scalar(text.into_owned(), style == ScalarStyle::Plain)
                };
                Some((Node { value, line, block: style == ScalarStyle::Literal }, anchor))
            }
            Event::Alias(id) => {
                let node = anchors.iter().rev().find(|(a, _)| *a == id).map(|(_, n)| n.clone());
                let node = node.ok_or_else(|| (line, "an alias to an unknown anchor".to_string()))?;
                nodes += count(&node);
                Some((node, 0))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err((line, format!("nested more than {MAX_DEPTH} levels deep")));
                }
                stack.push(match event {
                    Event::SequenceStart(..) => Frame::Sequence { items: Vec::new(), line, anchor },
                    _ => Frame::Mapping { entries: Vec::new(), key: None, line, anchor },
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Sequence { items, line, anchor }) => {
                    Some((Node { value: Value::Sequence(items), line, block: false }, anchor))
                }
                Some(Frame::Mapping { entries, line, anchor, .. }) => {
                    Some((Node { value: Value::Mapping(entries), line, block: false }, anchor))
                }
                None => return Err((line, "a collection ends that never began".to_string())),
            },
            _ => None,
        };
        let Some((node, anchor)) = complete else { continue };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err((line, format!("more than {MAX_NODES} nodes (aliases expanded)")));
        }
        if anchor != 0 {
            anchors.push((anchor, node.clone()));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node.value {
                    Value::Scalar(text, _) => *key = Some(text),
                    Value::Null => *key = Some(String::new()),
                    _ => return Err((node.line, "a mapping key that is not a scalar".to_string())),
                },
            },
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lines_and_scalars() {
        let docs =
            documents("a: 1\n---\n# nothing\n---\nkind: Pod\nspec:\n  x: [true, \"true\", ~]\n  s: |\n    one\n")
                .unwrap();
        assert_eq!(docs.iter().map(|d| d.index).collect::<Vec<_>>(), [1, 3]);
        let pod = &docs[1].root;
        assert_eq!(pod.get("kind").text(), Some("Pod"));
        assert_eq!(pod.at("spec.x").items()[0].boolean(), Some(true));
        assert_eq!(pod.at("spec.x").items()[1].boolean(), None);
        assert!(pod.at("spec.x").items()[2].is_null());
        assert_eq!(pod.at("spec.s").line, 9);
        assert!(pod.at("spec.s").block);
        assert_eq!(pod.at("spec.missing.deeper").line_or(7), 7);
    }

    #[test]
    fn bounded_nesting_and_aliases() {
        let deep = "[".repeat(100_000);
        assert!(documents(&deep).is_err());
        assert!(documents(&format!("{}1", "- ".repeat(200))).unwrap_err().contains("nested more than"));
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for n in 1..9 {
            let prev = (b'a' + n - 1) as char;
            let this = (b'a' + n) as char;
            laughs.push_str(&format!("{this}: &{this} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(documents(&laughs).unwrap_err().contains("nodes (aliases expanded)"));
        assert!(documents("a: [1, 2\n").is_err());
        // go-yaml's leniency, as openbao-helm's preStop needs it; nothing else is re-indented.
        let docs = documents("a:\n  b: [\n    \"x\",\n  ]\n  c: 1\n").unwrap();
        assert_eq!(docs[0].root.at("a.b").items()[0].text(), Some("x"));
        assert_eq!(docs[0].root.at("a.c").line, 5);
        assert!(documents("a:\n  b: 1\n c: 2\n").is_err());
        // A block scalar's lines are left as they are, closing brackets included.
        let text = "a:\n  b: [\n    1,\n  ]\n  s: |\n    x = [\n      1,\n    ]\n  c: [\n    2,\n  ]\n";
        let docs = documents(text).unwrap();
        assert_eq!(docs[0].root.at("a.s").text(), Some("x = [\n  1,\n]\n"));
        assert_eq!(docs[0].root.at("a.c").items()[0].text(), Some("2"));
        // Many such lines: fixed together, not one reading each (3000 readings took a minute).
        let many: String =
            (0..3000).map(|i| format!("---\na{i}:\n  c: [\n    \"x\",\n    # why\n    \"y\",\n  ]\n")).collect();
        assert!(parse(&many).is_err(), "YAML 1.2 refuses it");
        let started = std::time::Instant::now();
        assert_eq!(documents(&many).unwrap().len(), 3000);
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    }
}
