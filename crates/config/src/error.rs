//! Configuration errors: where (file, line, column, key path), what is wrong, what was expected.
//!
//! Every error the loader returns names the file and, when it comes from the file's contents,
//! the line and column and the key path (`connections.site-b.children.net.esp_proposals[1]`),
//! so an operator can go straight to the offending value. [`ConfigError::render`] adds the source
//! line with a caret, the way rustc shows errors.

use std::fmt;
use std::io;
use std::path::Path;
use std::path::PathBuf;

/// A configuration file that cannot be used.
#[derive(Debug)]
pub struct ConfigError(Box<Details>);

#[derive(Debug)]
struct Details {
    kind: ErrorKind,
    file: PathBuf,
    location: Option<Location>,
    key: KeyPath,
    message: String,
    expected: Option<String>,
    excerpt: Option<Excerpt>,
    source: Option<io::Error>,
}

/// What kind of mistake an error reports.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ErrorKind {
    /// The configuration file itself cannot be read.
    Read,
    /// The file is not valid TOML.
    Syntax,
    /// A key this version of hitless does not know (a typo, or a setting from another tool).
    UnknownKey,
    /// A required key is missing.
    MissingKey,
    /// A value has the wrong type or an unacceptable value.
    InvalidValue,
    /// Values that are acceptable alone contradict each other (life time not above rekey time,
    /// a certificate without its private key, a reference to an undefined pool).
    Inconsistent,
    /// A file the configuration names (PSK, certificate, key) is missing, unreadable or
    /// readable by others, or a host name does not resolve.
    ReferencedFile,
    /// A valid setting the IKE engine cannot carry out yet.
    Unsupported,
}

/// A position in the configuration file, both 1-based; the column counts characters.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Location {
    /// Line number, from 1.
    pub line: usize,
    /// Column number in characters, from 1.
    pub column: usize,
}

/// The path of a key in the configuration, such as `connections.site-b.esp_proposals[1]`.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct KeyPath(Vec<Segment>);

/// One step of a [`KeyPath`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Segment {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// The source line an error points at, for [`ConfigError::render`].
#[derive(Clone, Debug, Eq, PartialEq)]
struct Excerpt {
    text: String,
    /// Characters before the caret.
    start: usize,
    /// Number of carets (at least one).
    width: usize,
}

/// A problem found while converting, before its position in the file is known.
#[derive(Debug)]
pub(crate) struct Issue {
    pub(crate) kind: ErrorKind,
    pub(crate) key: KeyPath,
    pub(crate) message: String,
    pub(crate) expected: Option<String>,
    pub(crate) source: Option<io::Error>,
}

impl ConfigError {
    /// The kind of mistake.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The configuration file.
    pub fn file(&self) -> &Path {
        &self.0.file
    }

    /// Line and column in the file, when the error has a position.
    pub fn location(&self) -> Option<Location> {
        self.0.location
    }

    /// The line number, when the error has a position.
    pub fn line(&self) -> Option<usize> {
        self.0.location.map(|location| location.line)
    }

    /// The key path, empty for errors about the whole file.
    pub fn key_path(&self) -> &KeyPath {
        &self.0.key
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// What would have been accepted, when that can be said.
    pub fn expected(&self) -> Option<&str> {
        self.0.expected.as_deref()
    }

    /// A multi-line rendering with the offending source line and a caret, for terminals.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}", self.headline());
        let position = match self.0.location {
            Some(location) => {
                format!(
                    "{}:{}:{}",
                    self.0.file.display(),
                    location.line,
                    location.column
                )
            }
            None => self.0.file.display().to_string(),
        };
        let (Some(location), Some(excerpt)) = (self.0.location, &self.0.excerpt) else {
            out.push_str(&format!("\n  --> {position}"));
            if let Some(expected) = &self.0.expected {
                out.push_str(&format!("\n  = expected {expected}"));
            }
            return out;
        };
        let number = location.line.to_string();
        let pad = " ".repeat(number.len());
        out.push_str(&format!(
            "\n{pad}--> {position}\n{pad} |\n{number} | {}\n",
            excerpt.text
        ));
        out.push_str(&format!(
            "{pad} | {}{}",
            " ".repeat(excerpt.start),
            "^".repeat(excerpt.width)
        ));
        if let Some(expected) = &self.0.expected {
            out.push_str(&format!("\n{pad} = expected {expected}"));
        }
        out
    }

    pub(crate) fn read(file: &Path, source: io::Error) -> Self {
        Self(Box::new(Details {
            kind: ErrorKind::Read,
            file: file.to_path_buf(),
            location: None,
            key: KeyPath::default(),
            message: format!("cannot read the configuration file: {source}"),
            expected: None,
            excerpt: None,
            source: Some(source),
        }))
    }

    pub(crate) fn new(
        issue: Issue,
        file: &Path,
        location: Option<Location>,
        excerpt: Option<(String, usize, usize)>,
    ) -> Self {
        Self(Box::new(Details {
            kind: issue.kind,
            file: file.to_path_buf(),
            location,
            key: issue.key,
            message: issue.message,
            expected: issue.expected,
            excerpt: excerpt.map(|(text, start, width)| Excerpt { text, start, width }),
            source: issue.source,
        }))
    }

    /// `key: message` or just the message.
    fn headline(&self) -> String {
        if self.0.key.is_empty() {
            self.0.message.clone()
        } else {
            format!("{}: {}", self.0.key, self.0.message)
        }
    }
}

impl KeyPath {
    /// The empty path (the whole file).
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a table key.
    pub fn key(&self, key: &str) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        Self(segments)
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut segments = self.0.clone();
        segments.push(Segment::Index(index));
        Self(segments)
    }

    /// The steps of the path.
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }
}

impl Issue {
    /// A problem of `kind` at `key`. When `message` has the form `problem, expected what`, the
    /// part after `, expected ` becomes [`ConfigError::expected`].
    pub(crate) fn new(kind: ErrorKind, key: KeyPath, message: impl Into<String>) -> Self {
        let message = message.into();
        let (message, expected) = match message.split_once(", expected ") {
            Some((problem, expected)) => (problem.to_owned(), Some(expected.to_owned())),
            None => (message, None),
        };
        Self {
            kind,
            key,
            message,
            expected,
            source: None,
        }
    }

    /// An invalid value at `key`.
    pub(crate) fn invalid(key: KeyPath, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidValue, key, message)
    }

    /// Values that contradict each other; `key` is the one to change.
    pub(crate) fn inconsistent(key: KeyPath, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Inconsistent, key, message)
    }

    /// A required key that is missing; `key` names it.
    pub(crate) fn missing(key: KeyPath, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::MissingKey, key, message)
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.file.display())?;
        if let Some(location) = self.0.location {
            write!(f, ":{}:{}", location.line, location.column)?;
        }
        write!(f, ": {}", self.headline())?;
        if let Some(expected) = &self.0.expected {
            write!(f, " (expected {expected})")?;
        }
        Ok(())
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    if is_bare_key(key) {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Whether TOML accepts `key` without quotes.
fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_path_display_quotes_keys_that_need_it() {
        let path = KeyPath::root()
            .key("connections")
            .key("site-b")
            .key("esp_proposals")
            .index(1);
        assert_eq!(path.to_string(), "connections.site-b.esp_proposals[1]");
        let odd = KeyPath::root().key("connections").key("a.b");
        assert_eq!(odd.to_string(), "connections.\"a.b\"");
    }

    #[test]
    fn issue_splits_expected() {
        let issue = Issue::invalid(KeyPath::root(), "unknown thing `x`, expected `a` or `b`");
        assert_eq!(issue.message, "unknown thing `x`");
        assert_eq!(issue.expected.as_deref(), Some("`a` or `b`"));
    }
}
