//! Where a key is in the config text, and reading one part of the config at a time.
//!
//! serde_yaml keeps no positions for values it has read, but its errors carry the position and
//! key path of the node being read when they arise. [`locate`] uses that: it walks the text
//! down a [`KeyPath`] with the same parser and fails on purpose at the node it reaches, so the
//! position reported for a problem found after parsing is exactly what the parser sees, in
//! block and flow style, through quoting, comments and anchors. [`section`] reads just the
//! node at a path into a type, so that one bad section does not hide the problems of the next.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step down into a YAML node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path to a node, shown as `outputs[3].headers.Authorization`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Step>);

impl KeyPath {
    /// This path, one step further down.
    pub fn key(&self, key: &str) -> KeyPath {
        self.with(Step::Key(key.to_string()))
    }

    /// This path, at element `index` of a list.
    pub fn index(&self, index: usize) -> KeyPath {
        self.with(Step::Index(index))
    }

    fn with(&self, step: Step) -> KeyPath {
        let mut steps = self.0.clone();
        steps.push(step);
        KeyPath(steps)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Key(k) if i == 0 => f.write_str(k)?,
                Step::Key(k) => write!(f, ".{k}")?,
                Step::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// The 1-based line and column of the node at `path` in `text`: of its key when the path ends
/// with a key, else of the node itself. A path that goes further than the text gives the
/// deepest node it reaches (a missing key is reported at the mapping that lacks it).
pub fn locate(text: &str, path: &KeyPath) -> (usize, usize) {
    let seek = Seek::<()> {
        path: &path.0,
        goal: Goal::Locate,
    };
    match seek.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Err(e) => e.location().map_or((1, 1), |l| (l.line(), l.column())),
        Ok(()) => (1, 1),
    }
}

/// Reads the node at `path` (which must exist) as a `T`. Errors name their full key path and
/// position, as when the whole file is read at once.
pub fn section<T: de::DeserializeOwned>(
    text: &str,
    path: &KeyPath,
) -> Result<T, serde_yaml::Error> {
    let mut slot = None;
    let seek = Seek {
        path: &path.0,
        goal: Goal::Take(&mut slot),
    };
    seek.deserialize(serde_yaml::Deserializer::from_str(text))?;
    slot.ok_or_else(|| de::Error::custom(format!("{path} is missing")))
}

/// The message of a serde_yaml error without the ` at line L column C` it ends with (the
/// position is shown in front, `FILE:LINE:COL: `).
pub fn message(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(l) => {
            let suffix = format!(" at line {} column {}", l.line(), l.column());
            text.strip_suffix(&suffix).unwrap_or(&text).to_string()
        }
        None => text,
    }
}

/// What to do on reaching the end of the path.
enum Goal<'a, T> {
    /// Fail there, so that the parser reports the position.
    Locate,
    /// Read the node into the slot.
    Take(&'a mut Option<T>),
}

/// Walks down `path`, ignoring every node beside it.
struct Seek<'p, 'a, T> {
    path: &'p [Step],
    goal: Goal<'a, T>,
}

/// Raised on purpose once [`locate`] reaches its node; only its position matters.
const HERE: &str = "here";

impl<'de, T: de::Deserialize<'de>> DeserializeSeed<'de> for Seek<'_, '_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match (self.path.split_first(), self.goal) {
            (None, Goal::Locate) => d.deserialize_any(Here),
            (None, Goal::Take(slot)) => {
                *slot = Some(T::deserialize(d)?);
                Ok(())
            }
            (Some((step, rest)), goal) => d.deserialize_any(SeekVisitor {
                step,
                rest,
                goal: Some(goal),
            }),
        }
    }
}

/// Fails on any node (the default of every `visit_*`), at that node.
struct Here;

impl Visitor<'_> for Here {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(HERE)
    }
}

struct SeekVisitor<'p, 'a, T> {
    step: &'p Step,
    rest: &'p [Step],
    goal: Option<Goal<'a, T>>,
}

impl<'de, T: de::Deserialize<'de>> Visitor<'de> for SeekVisitor<'_, '_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.step {
            Step::Key(k) => write!(f, "a mapping with the key `{k}`"),
            Step::Index(i) => write!(f, "a list with an element {i}"),
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let Step::Key(wanted) = self.step else {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
        };
        let at_key = self.rest.is_empty() && matches!(self.goal, Some(Goal::Locate));
        while let Some(found) = map.next_key_seed(KeySeed { wanted, at_key })? {
            match (found, self.goal.take()) {
                (true, Some(goal)) => map.next_value_seed(Seek {
                    path: self.rest,
                    goal,
                })?,
                (_, goal) => {
                    self.goal = goal;
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.found_or_fail()
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let Step::Index(wanted) = *self.step else {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        };
        let mut index = 0;
        loop {
            let more = match self.goal.take() {
                Some(goal) if index == wanted => seq
                    .next_element_seed(Seek {
                        path: self.rest,
                        goal,
                    })?
                    .is_some(),
                goal => {
                    self.goal = goal;
                    seq.next_element::<IgnoredAny>()?.is_some()
                }
            };
            if !more {
                return self.found_or_fail();
            }
            index += 1;
        }
    }
}

impl<T> SeekVisitor<'_, '_, T> {
    /// After the whole node was read: an error (at this node) if the step was not there.
    fn found_or_fail<E: de::Error>(&self) -> Result<(), E> {
        match self.goal {
            None => Ok(()),
            Some(_) => Err(E::custom(format!(
                "no {}",
                KeyPath(vec![self.step.clone()])
            ))),
        }
    }
}

/// Reads a mapping key: whether it is the one wanted. With `at_key`, finding it fails there,
/// so that [`locate`] reports the key's own position.
struct KeySeed<'p> {
    wanted: &'p str,
    at_key: bool,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        match key == self.wanted {
            true if self.at_key => Err(E::custom(HERE)),
            found => Ok(found),
        }
    }

    // Keys that are not strings are never the one wanted.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> KeyPath {
        KeyPath(
            s.split('.')
                .map(|p| match p.parse() {
                    Ok(i) => Step::Index(i),
                    Err(_) => Step::Key(p.to_string()),
                })
                .collect(),
        )
    }

    const BLOCK: &str = "\
# comment: with a colon
limits:
  max_file_size: 1MiB   # trailing
  rule_timeout: 2s
outputs:
  - type: stdout
  - type: webhook
    url: 'http://x'
    headers:
      \"Authorization\": Bearer ${T}
watch: [{path: a}, {path: b, include: ['*.txt', '[']}]
";

    #[test]
    fn finds_keys_in_block_style() {
        assert_eq!(locate(BLOCK, &path("limits")), (2, 1));
        assert_eq!(locate(BLOCK, &path("limits.rule_timeout")), (4, 3));
        assert_eq!(locate(BLOCK, &path("outputs.1.url")), (8, 5));
        assert_eq!(
            locate(BLOCK, &path("outputs.1.headers.Authorization")),
            (10, 7)
        );
    }

    #[test]
    fn finds_elements_and_flow_style() {
        // An element is found at its first key (block) or its brace (flow).
        assert_eq!(locate(BLOCK, &path("outputs.1")), (7, 5));
        assert_eq!(locate(BLOCK, &path("watch.1")), (11, 20));
        assert_eq!(locate(BLOCK, &path("watch.1.include.1")), (11, 49));
        let flow = "limits: { max_file_size: 1MiB, rule_timeout: banana }\n";
        assert_eq!(locate(flow, &path("limits.rule_timeout")), (1, 32));
    }

    #[test]
    fn a_missing_key_is_found_at_its_mapping() {
        assert_eq!(locate(BLOCK, &path("outputs.0.path")), (6, 5));
        assert_eq!(locate(BLOCK, &path("outputs.7")), (6, 3));
        assert_eq!(locate(BLOCK, &path("limits.max_file_size.x")), (3, 18));
    }

    #[test]
    fn sections_are_read_with_their_positions() {
        let s: String = section(BLOCK, &path("watch.1.include.0")).unwrap();
        assert_eq!(s, "*.txt");
        let e = section::<u64>(BLOCK, &path("outputs.1.url")).unwrap_err();
        assert_eq!(e.location().map(|l| (l.line(), l.column())), Some((8, 10)));
        assert!(
            message(&e).starts_with("outputs[1].url: invalid type"),
            "{e}"
        );
        assert!(!message(&e).contains(" at line"), "{e}");
    }

    #[test]
    fn paths_display_like_the_docs() {
        assert_eq!(
            path("outputs.3.headers.Authorization").to_string(),
            "outputs[3].headers.Authorization"
        );
    }
}
