//! Hybrid search: ranked lists (e.g. `TextIndex::search` and
//! `VectorStore::search` hits) fused by reciprocal rank fusion.

use std::collections::HashMap;

use crate::codec::DocId;

/// Reciprocal rank fusion (Cormack et al., 2009): each document scores
/// `sum over lists of 1 / (k + rank)`, rank from 1, absent lists adding nothing;
/// the `limit` best, ties by id. `k` = 60 is the usual choice.
pub fn reciprocal_rank_fusion(lists: &[Vec<DocId>], k: f64, limit: usize) -> Vec<(DocId, f64)> {
    let mut s: HashMap<&DocId, f64> = HashMap::new();
    for list in lists {
        let mut seen = std::collections::HashSet::new();
        for (i, id) in list.iter().enumerate() {
            // A list naming a document twice counts its best rank only.
            if seen.insert(id) {
                *s.entry(id).or_default() += 1.0 / (k + (i + 1) as f64);
            }
        }
    }
    let mut v: Vec<(DocId, f64)> = s.into_iter().map(|(d, x)| (d.clone(), x)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(limit);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuses_by_reciprocal_rank() {
        let a: Vec<DocId> = vec![1u64.into(), 2u64.into(), 3u64.into()];
        let b: Vec<DocId> = vec![3u64.into(), 4u64.into(), 1u64.into(), 3u64.into()];
        let f = reciprocal_rank_fusion(&[a, b], 60.0, 3);
        let s = |r1: f64, r2: f64| 1.0 / (60.0 + r1) + 1.0 / (60.0 + r2);
        assert_eq!(f[0].0, DocId::U64(1));
        assert!((f[0].1 - s(1.0, 3.0)).abs() < 1e-15);
        assert_eq!(f[1].0, DocId::U64(3));
        assert!((f[1].1 - s(3.0, 1.0)).abs() < 1e-15);
        assert_eq!(f[2].0, DocId::U64(2));
        assert!((f[2].1 - 1.0 / 62.0).abs() < 1e-15);
        assert!(reciprocal_rank_fusion(&[], 60.0, 10).is_empty());
    }
}
