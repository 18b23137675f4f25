//! The readable record of a run: one line per IKE message with what the network did to it, and
//! notes (engine events, test actions). Printed when a scenario fails; snapshot-tested with
//! `insta` where a flow is deterministic.

use std::fmt;
use std::time::Duration;

use crate::link::DropCause;

/// The transcript of a simulation.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    entries: Vec<Entry>,
}

/// One line of a transcript.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Entry {
    /// Virtual time since the start.
    pub at: Duration,
    /// What happened.
    pub kind: EntryKind,
}

/// What a transcript line records.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum EntryKind {
    /// An IKE message sent from one node to another.
    Message {
        /// The sender's name.
        from: String,
        /// The receiver's name.
        to: String,
        /// The message summary, e.g. `CREATE_CHILD_SA req mid=3 [SA No KE TSi TSr N(REKEY_SA)]`.
        summary: String,
        /// What the network did with it.
        fate: Fate,
    },
    /// Something a node or the test did.
    Note {
        /// The node's name, or `test`.
        node: String,
        /// The text.
        text: String,
    },
}

/// What the network did with a message.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Fate {
    /// Sent normally.
    Sent,
    /// Sent, and delivered twice.
    Duplicated,
    /// Sent, and held back so that later packets overtake it.
    Reordered,
    /// Queued for the test (message-level stepping).
    Held,
    /// Dropped by the network.
    Dropped(DropCause),
    /// A held message the test delivered.
    DeliveredByTest,
    /// A held message the test dropped.
    DroppedByTest,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a message line.
    pub fn message(&mut self, at: Duration, from: &str, to: &str, summary: String, fate: Fate) {
        let kind = EntryKind::Message {
            from: from.to_owned(),
            to: to.to_owned(),
            summary,
            fate,
        };
        self.entries.push(Entry { at, kind });
    }

    /// Appends a note.
    pub fn note(&mut self, at: Duration, node: &str, text: impl Into<String>) {
        let kind = EntryKind::Note {
            node: node.to_owned(),
            text: text.into(),
        };
        self.entries.push(Entry { at, kind });
    }

    /// Every line.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The message lines only, without times: `a→b IKE_SA_INIT req mid=0 [SA KE No] (lost)`.
    /// This is what snapshot tests compare, so timing changes that keep the flow do not show.
    pub fn messages(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            if let EntryKind::Message { .. } = entry.kind {
                out.push_str(&entry.kind.to_string());
                out.push('\n');
            }
        }
        out
    }

    /// Every line without times: messages and notes. Snapshot tests of flows that include
    /// engine events compare this.
    pub fn flow(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            out.push_str(&entry.kind.to_string());
            out.push('\n');
        }
        out
    }

    /// Replaces the summary of message line `index` (a summary completed once its IKE SA's keys
    /// became known).
    pub(crate) fn set_summary(&mut self, index: usize, text: String) {
        if let Some(Entry {
            kind: EntryKind::Message { summary, .. },
            ..
        }) = self.entries.get_mut(index)
        {
            *summary = text;
        }
    }

    /// How many lines there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The last `n` lines with times, for failure reports of long runs.
    pub fn tail(&self, n: usize) -> String {
        let skip = self.entries.len().saturating_sub(n);
        let mut out = String::new();
        if skip > 0 {
            out.push_str(&format!("… {skip} earlier lines\n"));
        }
        for entry in &self.entries[skip..] {
            out.push_str(&entry.to_string());
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            writeln!(f, "{entry}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.at.as_millis();
        write!(
            f,
            "[{:>6}.{:03}s] {}",
            millis / 1000,
            millis % 1000,
            self.kind
        )
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message {
                from,
                to,
                summary,
                fate,
            } => {
                write!(f, "{from}→{to} {summary}")?;
                match fate {
                    Fate::Sent => Ok(()),
                    Fate::Duplicated => f.write_str(" (duplicated)"),
                    Fate::Reordered => f.write_str(" (held back)"),
                    Fate::Held => f.write_str(" (held)"),
                    Fate::Dropped(DropCause::Loss) => f.write_str(" (lost)"),
                    Fate::Dropped(cause) => write!(f, " (dropped: {cause:?})"),
                    Fate::DeliveredByTest => f.write_str(" (delivered by test)"),
                    Fate::DroppedByTest => f.write_str(" (dropped by test)"),
                }
            }
            Self::Note { node, text } => write!(f, "{node}: {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_well() {
        let mut transcript = Transcript::new();
        let at = Duration::from_millis(1234);
        transcript.message(
            at,
            "a",
            "b",
            "IKE_SA_INIT req mid=0 [SA KE No]".into(),
            Fate::Sent,
        );
        transcript.message(
            at,
            "b",
            "a",
            "IKE_SA_INIT rsp mid=0 [SA KE No]".into(),
            Fate::Dropped(DropCause::Loss),
        );
        transcript.note(at, "a", "IKE SA established");
        assert_eq!(
            transcript.messages(),
            "a→b IKE_SA_INIT req mid=0 [SA KE No]\nb→a IKE_SA_INIT rsp mid=0 [SA KE No] (lost)\n"
        );
        assert_eq!(
            transcript.to_string().lines().last(),
            Some("[     1.234s] a: IKE SA established")
        );
        assert!(transcript.tail(1).starts_with("… 2 earlier lines\n"));
    }
}
