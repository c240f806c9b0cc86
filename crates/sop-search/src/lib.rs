//! Search on SOP's B-trees: [`TextIndex`], a BM25 text index kept in ordinary
//! stores of the database and written in the caller's transaction, so a
//! document and its index entries commit together or not at all.
//!
//! ```no_run
//! use sop::{Database, DbOptions, TxMode};
//! use sop_search::{IndexConfig, SearchOptions, TextIndex};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Database::open("/tmp/db", DbOptions::default())?;
//! let tx = db.begin(TxMode::ForWriting)?;
//! let index = TextIndex::create(&tx, "articles", IndexConfig::new(&["title", "body"]))?;
//! index.add(&tx, 1u64, &[("title", "Rust B-trees"), ("body", "Immutable nodes in a folder")])?;
//! tx.commit()?;
//!
//! let tx = db.begin(TxMode::NoCheck)?;
//! for hit in index.search(&tx, "title:rust^2 folder", &SearchOptions::default())? {
//!     println!("{} {:.3}", hit.id, hit.score);
//! }
//! # Ok(()) }
//! ```

mod codec;
mod error;
mod filter;
mod fusion;
mod hybrid;
mod index;
mod maxscore;
pub mod query;
pub mod tokenizer;
mod vector;

pub use codec::{DocId, MAX_DOC_ID_BYTES};
pub use error::{Result, SearchError};
pub use filter::PayloadFilter;
pub use fusion::reciprocal_rank_fusion;
pub use hybrid::{hybrid_search, HybridHit, HybridOptions};
pub use index::{
    Batch, FieldConfig, Hit, IndexConfig, IndexStats, SearchOptions, Snippet, TextIndex,
    VerifyReport, CONFIG_KEY, KEY_TYPE, MAX_PREFIX_TERMS,
};
pub use query::{Atom, Clause, Occur, Query};
pub use tokenizer::{Token, Tokenizer, TokenizerConfig, ENGLISH_STOP_WORDS};
pub use vector::{Metric, VectorConfig, VectorHit, VectorStore};
