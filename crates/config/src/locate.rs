//! Maps between byte spans in the TOML source and key paths, in both directions.
//!
//! Serde errors come with a span but no key path; conversion errors come with a key path but no
//! span. Both become a [`ConfigError`] with file, line, column and key path through this map,
//! built from `toml`'s spanned document tree.

use std::ops::Range;
use std::path::Path;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::DeTable;
use toml::de::DeValue;

use crate::error::ConfigError;
use crate::error::ErrorKind;
use crate::error::Issue;
use crate::error::KeyPath;
use crate::error::Location;
use crate::error::Segment;

/// The source text and its spanned tree.
pub(crate) struct SourceMap<'a> {
    file: &'a Path,
    source: &'a str,
    /// Every key and value in the document with its span and path, in document order.
    nodes: Vec<Node>,
}

/// The position of every key path in a file, kept with the loaded [`crate::Config`] so that
/// later checks (engine support) can point into the file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Positions {
    file: PathBuf,
    entries: Vec<(KeyPath, Location)>,
}

impl Positions {
    /// Locates `issue` at its key path or the nearest enclosing key that exists.
    pub(crate) fn locate(&self, issue: Issue) -> ConfigError {
        let mut segments = issue.key.segments();
        let location = loop {
            if segments.is_empty() {
                break None;
            }
            if let Some((_, location)) = self
                .entries
                .iter()
                .find(|(path, _)| path.segments() == segments)
            {
                break Some(*location);
            }
            segments = &segments[..segments.len() - 1];
        };
        ConfigError::new(issue, &self.file, location, None)
    }
}

/// A key or value in the document.
struct Node {
    path: KeyPath,
    /// The key's span (empty for array elements).
    key: Range<usize>,
    /// The value's span; for tables, their header.
    value: Range<usize>,
}

impl<'a> SourceMap<'a> {
    /// Parses `source` for its spans.
    ///
    /// # Errors
    ///
    /// A TOML syntax error, with its position.
    pub(crate) fn new(file: &'a Path, source: &'a str) -> Result<Self, ConfigError> {
        let mut map = Self {
            file,
            source,
            nodes: Vec::new(),
        };
        let root = DeTable::parse(source).map_err(|error| map.toml_error(&error, true))?;
        collect_table(root.get_ref(), &KeyPath::root(), &mut map.nodes);
        Ok(map)
    }

    /// Turns a `toml` error (syntax or deserialization) into a located error.
    pub(crate) fn toml_error(&self, error: &toml::de::Error, syntax: bool) -> ConfigError {
        let span = error.span();
        let raw = error.message();
        let (kind, message) = if syntax {
            (ErrorKind::Syntax, format!("invalid TOML: {raw}"))
        } else if let Some(rest) = raw.strip_prefix("unknown field ") {
            (ErrorKind::UnknownKey, format!("unknown key {rest}"))
        } else if let Some(rest) = raw.strip_prefix("missing field ") {
            (ErrorKind::MissingKey, format!("missing key {rest}"))
        } else if let Some(rest) = raw.strip_prefix("unknown variant ") {
            (ErrorKind::InvalidValue, format!("unknown value {rest}"))
        } else {
            (ErrorKind::InvalidValue, raw.to_owned())
        };
        let key = match &span {
            Some(span) if !syntax => self.path_at(span),
            _ => KeyPath::root(),
        };
        let mut issue = Issue::new(kind, key, message);
        if issue.kind == ErrorKind::MissingKey {
            // Name the missing key in the path, so the path says what to add.
            if let Some(name) = raw
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                issue.key.push(Segment::Key(name.to_owned()));
                issue.message = "missing key".to_owned();
            }
        }
        self.error_at(issue, span)
    }

    /// Locates a conversion issue by its key path (or the nearest enclosing key that exists).
    pub(crate) fn locate(&self, issue: Issue) -> ConfigError {
        let span = self.span_of(&issue.key);
        self.error_at(issue, span)
    }

    /// The positions of every key path, to keep after the source is gone.
    pub(crate) fn positions(&self) -> Positions {
        Positions {
            file: self.file.to_path_buf(),
            entries: self
                .nodes
                .iter()
                .map(|node| (node.path.clone(), self.position(node.value.clone()).0))
                .collect(),
        }
    }

    /// The position of the value at `path` (or of its nearest existing ancestor).
    pub(crate) fn location_of(&self, path: &KeyPath) -> Option<Location> {
        self.span_of(path).map(|span| self.position(span).0)
    }

    /// The span of the value at `path`, or of its nearest existing ancestor.
    fn span_of(&self, path: &KeyPath) -> Option<Range<usize>> {
        let mut segments = path.segments();
        loop {
            if segments.is_empty() {
                return None;
            }
            if let Some(node) = self.nodes.iter().find(|n| n.path.segments() == segments) {
                return Some(node.value.clone());
            }
            segments = &segments[..segments.len() - 1];
        }
    }

    /// The path of the smallest key or value whose span contains `span`.
    fn path_at(&self, span: &Range<usize>) -> KeyPath {
        let contains = |outer: &Range<usize>| {
            outer.start <= span.start && span.end <= outer.end && outer.start < outer.end
        };
        self.nodes
            .iter()
            .flat_map(|node| [(&node.key, &node.path), (&node.value, &node.path)])
            .filter(|(range, _)| contains(range))
            .min_by_key(|(range, path)| {
                (range.end - range.start, usize::MAX - path.segments().len())
            })
            .map(|(_, path)| path.clone())
            .unwrap_or_default()
    }

    fn error_at(&self, issue: Issue, span: Option<Range<usize>>) -> ConfigError {
        let Some(span) = span else {
            return ConfigError::new(issue, self.file, None, None);
        };
        let (location, excerpt) = self.position(span);
        ConfigError::new(issue, self.file, Some(location), Some(excerpt))
    }

    /// Line, column and the excerpt (line text, caret offset, caret width) of a span.
    fn position(&self, span: Range<usize>) -> (Location, (String, usize, usize)) {
        let start = floor_char_boundary(self.source, span.start.min(self.source.len()));
        let end = floor_char_boundary(self.source, span.end.min(self.source.len())).max(start);
        let line_start = self.source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = self.source[start..]
            .find('\n')
            .map_or(self.source.len(), |i| start + i);
        let line = self.source[..start].matches('\n').count() + 1;
        let column_chars = self.source[line_start..start].chars().count();
        let text = redact(self.source[line_start..line_end].trim_end_matches('\r'));
        let width = self.source[start..end.min(line_end)].chars().count().max(1);
        (
            Location {
                line,
                column: column_chars + 1,
            },
            (text.replace('\t', " "), column_chars, width),
        )
    }
}

fn collect_table(table: &DeTable<'_>, path: &KeyPath, nodes: &mut Vec<Node>) {
    for (key, value) in table.iter() {
        let child = path.key(key.get_ref());
        nodes.push(Node {
            path: child.clone(),
            key: key.span(),
            value: value.span(),
        });
        collect_value(value, &child, nodes);
    }
}

fn collect_value(value: &Spanned<DeValue<'_>>, path: &KeyPath, nodes: &mut Vec<Node>) {
    match value.get_ref() {
        DeValue::Table(table) => collect_table(table, path, nodes),
        DeValue::Array(array) => {
            for (i, element) in array.iter().enumerate() {
                let child = path.index(i);
                nodes.push(Node {
                    path: child.clone(),
                    key: 0..0,
                    value: element.span(),
                });
                collect_value(element, &child, nodes);
            }
        }
        _ => {}
    }
}

/// Hides the value of an inline `psk = …` line, so an error never echoes a secret.
fn redact(line: &str) -> String {
    let trimmed = line.trim_start();
    let Some(rest) = trimmed.strip_prefix("psk") else {
        return line.to_owned();
    };
    match rest.trim_start().strip_prefix('=') {
        Some(_) => {
            let indent = &line[..line.len() - trimmed.len()];
            format!("{indent}psk = \"[redacted]\"")
        }
        None => line.to_owned(),
    }
}

/// The largest char boundary at or below `index` (`str::floor_char_boundary` is unstable).
fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while index > 0 && !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "[daemon]\nlog_level = 3\n\n[connections.a]\nremote_addrs = ['x', 'y']\n\
                       [connections.a.children.net]\nmode = 'tunel'\n";

    #[test]
    fn path_of_array_element() {
        let map = SourceMap::new(Path::new("t.toml"), DOC).unwrap();
        let offset = DOC.find("'y'").unwrap();
        let path = map.path_at(&(offset..offset + 3));
        assert_eq!(path.to_string(), "connections.a.remote_addrs[1]");
    }

    #[test]
    fn span_of_nested_key_and_fallback_to_ancestor() {
        let map = SourceMap::new(Path::new("t.toml"), DOC).unwrap();
        let mode = KeyPath::root()
            .key("connections")
            .key("a")
            .key("children")
            .key("net")
            .key("mode");
        let span = map.span_of(&mode).unwrap();
        assert_eq!(&DOC[span], "'tunel'");
        let absent = KeyPath::root().key("connections").key("a").key("psk_file");
        let span = map.span_of(&absent).unwrap();
        assert_eq!(&DOC[span], "[connections.a]");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let error = SourceMap::new(Path::new("t.toml"), "a = 1\nb = [1,\n")
            .err()
            .unwrap();
        assert_eq!(error.kind(), ErrorKind::Syntax);
        assert_eq!(error.line(), Some(2));
        assert!(
            error.message().starts_with("invalid TOML"),
            "{}",
            error.message()
        );
    }

    #[test]
    fn position_counts_characters_not_bytes() {
        let source = "name = \"äö\" # x\nkey = 1\n";
        let map = SourceMap::new(Path::new("t.toml"), source).unwrap();
        let offset = source.find('#').unwrap();
        let (location, _) = map.position(offset..offset + 1);
        assert_eq!(
            location,
            Location {
                line: 1,
                column: 13
            }
        );
    }
}
