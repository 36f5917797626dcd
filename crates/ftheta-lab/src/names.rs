//! The built-in first names for the language model: `data/names.txt` compiled into the binary,
//! a 27-token alphabet ('.' then a-z), the 80/10/10 split of the names by the lab's seed, and the
//! (context, next token) examples a model is trained and scored on.

use anyhow::{bail, Result};
use ftheta_data::{split_indices, Split};

/// `data/names.txt` (1990 US Census lists via PyPI `names` 0.3.0, public domain; see
/// `data/README.md`).
static NAMES_TXT: &str = include_str!("../../../data/names.txt");

/// The number of tokens: '.' and the 26 letters.
pub const VOCAB: usize = 27;

/// The token that marks both the start and the end of a name. One token for both is enough: a
/// name never contains it, so "after '.'" can only mean "at the start".
pub const BOUNDARY: char = '.';

/// The token id of `c` ('.' is 0, 'a' is 1, …, 'z' is 26), or `None` outside the alphabet.
pub fn token(c: char) -> Option<usize> {
    match c {
        BOUNDARY => Some(0),
        'a'..='z' => Some(c as usize - 'a' as usize + 1),
        _ => None,
    }
}

/// The character of token `t` (the inverse of [`token`]).
pub fn symbol(t: usize) -> char {
    if t == 0 {
        BOUNDARY
    } else {
        (b'a' + (t as u8 - 1)) as char
    }
}

/// Every token's character, in token order.
pub fn alphabet() -> Vec<char> {
    (0..VOCAB).map(symbol).collect()
}

/// One name a line: surrounding spaces are trimmed and blank lines skipped; a line with anything
/// but a-z is refused, naming `source`, the line number and the character, so a bad file is an
/// error rather than a silently different model.
pub fn parse_names(source: &str, text: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let name = line.trim();
        if name.is_empty() {
            continue;
        }
        if let Some(c) = name.chars().find(|c| !c.is_ascii_lowercase()) {
            bail!("{source} line {}: '{name}' contains {c:?}; a name may hold only the letters a-z", i + 1);
        }
        names.push(name.to_string());
    }
    if names.is_empty() {
        bail!("{source} holds no names");
    }
    Ok(names)
}

/// The names and their split into training, validation and test names.
pub struct Names {
    /// Every name, in file order.
    pub names: Vec<String>,
    /// Indices into `names`: 80 % training, 10 % validation, 10 % test. Names, not characters,
    /// are split, so no name is partly seen in training and partly scored.
    pub split: Split,
}

impl Names {
    /// Parses the built-in list and splits it with `seed`.
    pub fn load(seed: u64) -> Result<Names> {
        let names = parse_names("names.txt", NAMES_TXT)?;
        let split = split_indices(names.len(), 0.8, 0.1, 0.1, seed)?;
        Ok(Names { names, split })
    }

    /// The names at `rows`.
    pub fn pick(&self, rows: &[usize]) -> Vec<&str> {
        rows.iter().map(|&i| self.names[i].as_str()).collect()
    }
}

/// Every next-token prediction in a list of names: for ".emma." with a context of 3, the
/// contexts "...", "..e", ".em", "emm", "mma" and the tokens that follow them, e, m, m, a, '.'.
/// A name of n letters gives n + 1 examples (its end is predicted too).
#[derive(Clone, Debug)]
pub struct Examples {
    /// Tokens of context before each prediction.
    pub context: usize,
    /// `context` token ids an example, the oldest first; '.' pads the start of a name.
    pub inputs: Vec<usize>,
    /// The token that came next.
    pub targets: Vec<usize>,
}

impl Examples {
    /// The examples of `names` with `context` tokens of context.
    pub fn new(names: &[&str], context: usize) -> Examples {
        let mut ex = Examples { context, inputs: Vec::new(), targets: Vec::new() };
        for name in names {
            let mut window = vec![0usize; context];
            for t in name.chars().filter_map(token).chain(std::iter::once(0)) {
                ex.inputs.extend_from_slice(&window);
                ex.targets.push(t);
                if context > 0 {
                    window.rotate_left(1);
                    window[context - 1] = t;
                }
            }
        }
        ex
    }

    /// The number of examples (characters predicted, ends included).
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The context of example `i`.
    pub fn input(&self, i: usize) -> &[usize] {
        &self.inputs[i * self.context..(i + 1) * self.context]
    }
}

/// The context of a prompt as the model sees it: its last `context` characters, '.'-padded on
/// the left ("em" with 3 is ".em"). The prompt's characters must be in the alphabet.
pub fn context_of(prompt: &str, context: usize) -> Vec<usize> {
    let toks: Vec<usize> = prompt.chars().filter_map(token).collect();
    let mut out = vec![0usize; context.saturating_sub(toks.len())];
    out.extend_from_slice(&toks[toks.len().saturating_sub(context)..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_refused_with_its_number_and_character() {
        let e = parse_names("t.txt", "anna\n\n  bob \nZoe\n").unwrap_err().to_string();
        assert!(e.contains("t.txt line 4") && e.contains("'Zoe'") && e.contains("'Z'"), "{e}");
        let e = parse_names("t.txt", "anna\nmary-jo\n").unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("'-'"), "{e}");
        assert!(parse_names("t.txt", "\n \n").unwrap_err().to_string().contains("no names"));
    }

    #[test]
    fn blank_lines_and_spaces_are_skipped() {
        assert_eq!(parse_names("t.txt", " anna \r\n\nbob\n").unwrap(), ["anna", "bob"]);
    }

    #[test]
    fn tokens_round_trip() {
        for t in 0..VOCAB {
            assert_eq!(token(symbol(t)), Some(t));
        }
        assert_eq!(token('A'), None);
        assert_eq!(alphabet().iter().collect::<String>(), ".abcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn examples_slide_a_padded_window_over_each_name() {
        let ex = Examples::new(&["emma"], 3);
        let ctx: Vec<String> = (0..ex.len()).map(|i| ex.input(i).iter().map(|&t| symbol(t)).collect()).collect();
        assert_eq!(ctx, ["...", "..e", ".em", "emm", "mma"]);
        assert_eq!(ex.targets.iter().map(|&t| symbol(t)).collect::<String>(), "emma.");
        assert_eq!(Examples::new(&["ab", "c"], 1).targets.len(), 5);
        assert_eq!(context_of("em", 3), [0, 5, 13]);
        assert_eq!(context_of("emma", 1), [1]);
        assert_eq!(context_of("", 2), [0, 0]);
    }
}
