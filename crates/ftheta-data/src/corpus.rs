//! Character corpora for language models: a `.txt` file holds one sample a line (a name, a word, a
//! sentence), each read as characters between a start and an end marker.
//!
//! A model predicts the next character from the `context` characters before it. Each line
//! `c₁ … cₙ` gives n + 1 examples: `c₁` after nothing but the start, …, `cₙ` after the ones before,
//! and the end marker after `cₙ`. A context reaching back past the start is padded with the
//! marker, so "at the start of a line" is something the model can see. One token serves as both
//! start and end marker (id 0): it never occurs inside a line, so "after the marker" can only mean
//! "at the start".
//!
//! The vocabulary is read from the training lines only (so the validation and test parts tell
//! nothing about themselves through it) and is stored with a trained model; a character outside it
//! is an error that names where it is, never a silently different token.

use std::path::Path;

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::io::{display_name, read_bytes};

/// How the boundary token (start and end of a line, id 0) is shown.
pub const BOUNDARY_SYMBOL: char = '.';

/// The lines of a character corpus, with where each came from (for messages).
#[derive(Clone, Debug, PartialEq)]
pub struct Corpus {
    /// The file, as the user named it.
    pub file: String,
    /// The samples, one a line: surrounding whitespace trimmed, blank lines skipped.
    pub lines: Vec<String>,
    /// The 1-based line number in the file of each sample.
    pub line_numbers: Vec<u64>,
}

impl Corpus {
    /// The number of samples.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The samples at `rows` (a part of a split), in that order.
    pub fn pick(&self, rows: &[usize]) -> Corpus {
        Corpus {
            file: self.file.clone(),
            lines: rows.iter().map(|&r| self.lines[r].clone()).collect(),
            line_numbers: rows.iter().map(|&r| self.line_numbers[r]).collect(),
        }
    }

    /// The (context, next character) examples of every line, for a model that reads `context`
    /// tokens: features are the context's token ids (as whole numbers), the class is the next id.
    /// A character outside `vocab` is an error naming its file, line and column.
    pub fn examples(&self, vocab: &Vocab, context: usize) -> Result<InMemoryDataset> {
        if context == 0 {
            return Err(DataError::Options {
                file: self.file.clone(),
                message: "the context must be at least 1 character".into(),
            });
        }
        let mut features = Vec::new();
        let mut classes = Vec::new();
        for (line, &number) in self.lines.iter().zip(&self.line_numbers) {
            let ids = vocab.encode(line).map_err(|e| e.at(&format!("{} line {number}", self.file)))?;
            let mut window = vec![0usize; context];
            for &next in ids.iter().chain(std::iter::once(&0)) {
                features.extend(window.iter().map(|&t| t as f32));
                classes.push(next);
                window.rotate_left(1);
                window[context - 1] = next;
            }
        }
        InMemoryDataset::with_classes(features, context, classes)
    }
}

/// Parses a corpus: one sample a line (UTF-8), surrounding whitespace trimmed, blank lines
/// skipped. `file` names the source in messages.
pub fn parse_corpus(file: &str, bytes: &[u8]) -> Result<Corpus> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        DataError::Format { file: file.to_string(), line, message: "the text is not valid UTF-8".into() }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (mut lines, mut line_numbers) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        let s = line.trim();
        if !s.is_empty() {
            lines.push(s.to_string());
            line_numbers.push(i as u64 + 1);
        }
    }
    if lines.is_empty() {
        return Err(DataError::Empty { file: file.to_string() });
    }
    Ok(Corpus { file: file.to_string(), lines, line_numbers })
}

/// Reads a corpus file (plain or gzipped).
pub fn read_corpus(path: &Path) -> Result<Corpus> {
    parse_corpus(&display_name(path), &read_bytes(path)?)
}

/// A character vocabulary: token 0 is the boundary (start and end of a line), tokens 1… are
/// characters in the order given (sorted when read from lines).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
}

impl Vocab {
    /// Every character that occurs in `lines`, sorted.
    pub fn from_lines<S: AsRef<str>>(lines: &[S]) -> Vocab {
        let mut chars: Vec<char> = lines.iter().flat_map(|l| l.as_ref().chars()).collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    /// The vocabulary whose characters are `chars`, in that order (as stored by
    /// [`Vocab::chars`]); a repeated character is an error.
    pub fn from_chars(chars: &str) -> Result<Vocab> {
        let v: Vec<char> = chars.chars().collect();
        for (i, c) in v.iter().enumerate() {
            if v[..i].contains(c) {
                return Err(DataError::Shape(format!("vocabulary '{chars}': character {c:?} appears twice")));
            }
        }
        Ok(Vocab { chars: v })
    }

    /// The characters of tokens 1…, as one string (what a run stores).
    pub fn chars(&self) -> String {
        self.chars.iter().collect()
    }

    /// The number of tokens: the characters and the boundary.
    pub fn len(&self) -> usize {
        self.chars.len() + 1
    }

    /// Whether there is no character (only the boundary).
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The token of `c`.
    pub fn id(&self, c: char) -> Option<usize> {
        self.chars.iter().position(|&x| x == c).map(|i| i + 1)
    }

    /// The character of token `id`; `None` for the boundary (0) and ids past the end.
    pub fn char_of(&self, id: usize) -> Option<char> {
        id.checked_sub(1).and_then(|i| self.chars.get(i).copied())
    }

    /// How token `id` is shown: its character, or '.' for the boundary.
    pub fn symbol(&self, id: usize) -> char {
        self.char_of(id).unwrap_or(BOUNDARY_SYMBOL)
    }

    /// The tokens of `text`. A character outside the vocabulary is a
    /// [`DataError::OutOfVocabulary`] with its 1-based column (characters, not bytes).
    pub fn encode(&self, text: &str) -> std::result::Result<Vec<usize>, OutOfVocabulary> {
        text.chars()
            .enumerate()
            .map(|(i, c)| self.id(c).ok_or_else(|| OutOfVocabulary { ch: c, column: i + 1, known: self.chars() }))
            .collect()
    }

    /// The text of `ids`, boundaries left out.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().filter_map(|&i| self.char_of(i)).collect()
    }
}

/// A character that the vocabulary does not hold, found by [`Vocab::encode`]; [`Self::at`] says
/// where it was (a file and line, a flag) to make it a [`DataError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutOfVocabulary {
    /// The character.
    pub ch: char,
    /// Its 1-based position in the text, in characters.
    pub column: usize,
    /// The vocabulary's characters.
    pub known: String,
}

impl OutOfVocabulary {
    /// The error, placed: `place` is "names.txt line 12" or "--prefix".
    pub fn at(self, place: &str) -> DataError {
        DataError::OutOfVocabulary { place: place.to_string(), ch: self.ch, column: self.column, known: self.known }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Dataset, Targets};

    #[test]
    fn lines_are_trimmed_and_blank_ones_skipped_with_their_numbers_kept() {
        let c = parse_corpus("n.txt", "\u{feff}emma\r\n\n  jo \nann\n".as_bytes()).unwrap();
        assert_eq!(c.lines, ["emma", "jo", "ann"]);
        assert_eq!(c.line_numbers, [1, 3, 4]);
        assert!(matches!(parse_corpus("e.txt", b" \n\n"), Err(DataError::Empty { .. })));
        let e = parse_corpus("bad.txt", b"ok\nfine\n\xff\n").unwrap_err().to_string();
        assert!(e.contains("bad.txt line 3") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn the_vocabulary_is_sorted_and_round_trips_through_its_string() {
        let v = Vocab::from_lines(&["emma", "bab"]);
        assert_eq!((v.chars(), v.len()), ("abem".to_string(), 5));
        assert_eq!(v.encode("mab").unwrap(), [4, 1, 2]);
        assert_eq!(v.decode(&[0, 4, 1, 0]), "ma");
        assert_eq!((v.symbol(0), v.symbol(3)), ('.', 'e'));
        assert_eq!(Vocab::from_chars(&v.chars()).unwrap(), v);
        assert!(Vocab::from_chars("aba").is_err());
        let e = v.encode("emz").unwrap_err().at("--prefix").to_string();
        assert_eq!(e, "--prefix, column 3: character 'z' is not in the vocabulary ('abem' and the boundary)");
    }

    #[test]
    fn each_line_gives_one_example_per_character_and_one_for_the_end() {
        let c = parse_corpus("n.txt", b"ab\nb\n").unwrap();
        let v = Vocab::from_lines(&c.lines);
        let d = c.examples(&v, 2).unwrap();
        assert_eq!(d.len(), 3 + 2);
        // ab: [. .]→a, [. a]→b, [a b]→. ; b: [. .]→b, [. b]→.
        assert_eq!(d.features(), &[0., 0., 0., 1., 1., 2., 0., 0., 0., 2.]);
        assert_eq!(d.targets(), &Targets::Classes(vec![1, 2, 0, 2, 0]));
        let (x, _) = d.get_batch(&[2]);
        assert_eq!(x.shape(), &[1, 2]);
        let e = parse_corpus("v.txt", b"x\nab\nabc\n").unwrap().pick(&[1, 2]).examples(&v, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "v.txt line 3, column 3: character 'c' is not in the vocabulary ('ab' and the boundary)"
        );
        assert!(c.examples(&v, 0).is_err());
    }
}
