//! The B+tree: node formats (`node`) and the algorithms over a copy-on-write node
//! store (`tree`). Nothing here does I/O; the transaction supplies the nodes.

pub mod node;
pub mod tree;
