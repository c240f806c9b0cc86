//! The tokenizer: Unicode word segmentation (UAX #29), lower-casing, optional
//! English stemming (Snowball, `rust-stemmers`) and stop words. Its settings are
//! saved with the index so every process tokenizes the same way.

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

/// The classic English stop word list (Lucene's `EnglishAnalyzer` default).
pub const ENGLISH_STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Tokenizer settings (saved with the index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenizerConfig {
    /// Lower-case every token (Unicode lower case).
    pub lowercase: bool,
    /// Stem with the English Snowball stemmer.
    pub stem_english: bool,
    /// Words dropped from documents and queries (compared after lower-casing,
    /// before stemming). Positions of the other words are kept, so a phrase
    /// across a stop word still matches.
    pub stop_words: Vec<String>,
    /// Tokens longer than this (in bytes) are dropped, as Tantivy's default
    /// `RemoveLongFilter` does (40).
    pub max_token_bytes: usize,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            lowercase: true,
            stem_english: false,
            stop_words: vec![],
            max_token_bytes: 40,
        }
    }
}

impl TokenizerConfig {
    /// Lower-casing, English stemming and the English stop words.
    pub fn english() -> Self {
        TokenizerConfig {
            stem_english: true,
            stop_words: ENGLISH_STOP_WORDS.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// A token: its text (the term), its position (word index in the text, counting
/// dropped stop words) and its byte range in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub term: String,
    pub position: u32,
    pub start: usize,
    pub end: usize,
}

/// A ready tokenizer built from a [`TokenizerConfig`].
pub struct Tokenizer {
    config: TokenizerConfig,
    stop: std::collections::HashSet<String>,
    stemmer: Option<rust_stemmers::Stemmer>,
}

impl Clone for Tokenizer {
    fn clone(&self) -> Self {
        Tokenizer::new(self.config.clone())
    }
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("config", &self.config)
            .finish()
    }
}

impl Tokenizer {
    pub fn new(config: TokenizerConfig) -> Self {
        let stop = config.stop_words.iter().map(|s| s.to_lowercase()).collect();
        let stemmer = config
            .stem_english
            .then(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English));
        Tokenizer {
            config,
            stop,
            stemmer,
        }
    }

    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// Normalize one word (lower-case, stop word check, stem); `None` if dropped.
    pub fn normalize(&self, word: &str) -> Option<String> {
        let w = if self.config.lowercase {
            word.to_lowercase()
        } else {
            word.to_string()
        };
        if self.stop.contains(&w) {
            return None;
        }
        let t = match &self.stemmer {
            Some(s) => s.stem(&w).into_owned(),
            None => w,
        };
        if t.is_empty() || t.len() > self.config.max_token_bytes || t.contains('\0') {
            return None;
        }
        Some(t)
    }

    /// The tokens of `text`, in order.
    pub fn tokens(&self, text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        for (pos, (start, word)) in text.unicode_word_indices().enumerate() {
            if let Some(term) = self.normalize(word) {
                out.push(Token {
                    term,
                    position: pos as u32,
                    start,
                    end: start + word.len(),
                });
            }
        }
        out
    }
}
