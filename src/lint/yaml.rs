//! Kubernetes YAML as a tree of nodes that know their line: every document of a stream (what
//! `helm template` prints, or `kubectl get -o yaml`), built from saphyr's parser events without
//! recursion, nesting and alias expansion bounded.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Deeper than any manifest nests (a PodSpec's deepest field is about 15 levels down).
const MAX_DEPTH: usize = 128;
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
/// YAML 1.2, and saphyr, want it indented further. Such a line, and only such a line the parser
/// stops at, is indented as the line above it and the stream read again: lines keep their
/// numbers, and no scalar changes (a block scalar's lines are never where the parser stops).
pub fn documents(text: &str) -> Result<Vec<Document>, String> {
    let mut text = std::borrow::Cow::Borrowed(text);
    for _ in 0..10_000 {
        match parse(&text) {
            Err((line, message)) if message == "invalid indentation" => match reindent_closing_bracket(&text, line) {
                Some(fixed) => text = std::borrow::Cow::Owned(fixed),
                None => return Err(format!("{line}: {message}")),
            },
            other => return other.map_err(|(line, message)| format!("{line}: {message}")),
        }
    }
    Err("too many closing brackets out of their indentation".to_string())
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// `text` with its line `number` (1-based), if it holds only closing brackets (and commas, a
/// comment), indented as the nearest non-blank line above.
fn reindent_closing_bracket(text: &str, number: usize) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let target = lines.get(number.checked_sub(1)?)?;
    let rest = target.trim_start_matches(' ');
    let content = rest.split(" #").next().unwrap_or(rest).trim_end();
    if content.is_empty() || !content.chars().all(|c| matches!(c, ']' | '}' | ',' | ' ')) {
        return None;
    }
    let above = lines[..number - 1].iter().rev().find(|l| !l.trim().is_empty())?;
    let wanted = indentation(above);
    if wanted <= indentation(target) {
        return None;
    }
    let mut fixed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    fixed[number - 1] = format!("{}{rest}", " ".repeat(wanted));
    Some(fixed.join("\n"))
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
    }
}
