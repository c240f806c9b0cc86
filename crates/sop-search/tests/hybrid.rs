//! hybrid_search: the fusion of the text and vector hit lists by reciprocal rank
//! (checked against the two searches run apart and fused by hand), a payload
//! filter applied to both sides, one side alone, and a filter with no vector
//! store refused.

use serde_json::json;
use sop::{Database, DbOptions, TxMode};
use sop_search::{
    hybrid_search, reciprocal_rank_fusion, DocId, HybridOptions, IndexConfig, Metric,
    PayloadFilter, SearchOptions, TextIndex, VectorConfig, VectorStore,
};

#[test]
fn fuses_text_and_vector_hits_with_a_filter() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), DbOptions::default()).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let index = TextIndex::create(&tx, "d", IndexConfig::new(&["body"])).unwrap();
    let vs = VectorStore::create(&tx, "d", VectorConfig::new(3, Metric::L2)).unwrap();
    let mut rng = fastrand::Rng::with_seed(5);
    let words = ["apple", "pear", "plum", "fig"];
    for id in 0..200u64 {
        let body: Vec<&str> = (0..rng.usize(1..6))
            .map(|_| words[rng.usize(0..words.len())])
            .collect();
        index.add(&tx, id, &[("body", &body.join(" "))]).unwrap();
        // A few ids have no vector.
        if id % 17 != 0 {
            let v = [rng.f32(), rng.f32(), rng.f32()];
            let lang = if id % 3 == 0 { "en" } else { "de" };
            vs.upsert(&tx, id, &v, &json!({"lang": lang, "id": id}))
                .unwrap();
        }
    }
    vs.rebuild(&tx, 8, 5, 1).unwrap();
    tx.commit().unwrap();

    let tx = db.begin(TxMode::NoCheck).unwrap();
    let q = [0.2f32, 0.7, 0.4];
    let opts = HybridOptions {
        k: 15,
        candidates: 40,
        nprobe: 100,
        ..Default::default()
    };
    let got = hybrid_search(&tx, Some((&index, "fig plum")), Some((&vs, &q)), &opts).unwrap();
    let text: Vec<DocId> = index
        .search(
            &tx,
            "fig plum",
            &SearchOptions {
                k: 40,
                ..Default::default()
            },
        )
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    let vecs: Vec<DocId> = vs
        .search(&tx, &q, 40, 100, None)
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    let want = reciprocal_rank_fusion(&[text.clone(), vecs.clone()], 60.0, 15);
    assert_eq!(got.len(), 15);
    for (h, (id, score)) in got.iter().zip(&want) {
        assert_eq!(&h.id, id);
        assert_eq!(h.score, *score);
        assert_eq!(
            h.text_rank,
            text.iter().position(|x| x == id).map(|i| i + 1)
        );
        assert_eq!(
            h.vector_rank,
            vecs.iter().position(|x| x == id).map(|i| i + 1)
        );
        let DocId::U64(n) = h.id else { panic!() };
        assert_eq!(h.payload.is_some(), n % 17 != 0, "{h:?}");
    }

    // A filter: every hit passes it, on both sides; text hits with no vector are out.
    let opts = HybridOptions {
        filter: Some(PayloadFilter::parse(r#"{"lang":"en"}"#).unwrap()),
        ..opts
    };
    let got = hybrid_search(&tx, Some((&index, "fig plum")), Some((&vs, &q)), &opts).unwrap();
    assert_eq!(got.len(), 15);
    assert!(got.iter().any(|h| h.text_rank.is_some()));
    for h in &got {
        assert_eq!(h.payload.as_ref().unwrap()["lang"], json!("en"), "{h:?}");
    }
    let en = |p: &serde_json::Value| p["lang"] == "en";
    let vecs: Vec<DocId> = vs
        .search(&tx, &q, 40, 100, Some(&en))
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    let text: Vec<DocId> = text
        .into_iter()
        .chain(
            index
                .search(
                    &tx,
                    "fig plum",
                    &SearchOptions {
                        k: 200,
                        ..Default::default()
                    },
                )
                .unwrap()
                .into_iter()
                .skip(40)
                .map(|h| h.id),
        )
        .filter(|id| matches!(id, DocId::U64(n) if n % 3 == 0 && n % 17 != 0))
        .take(40)
        .collect();
    let want = reciprocal_rank_fusion(&[text, vecs], 60.0, 15);
    let ids: Vec<&DocId> = got.iter().map(|h| &h.id).collect();
    assert_eq!(ids, want.iter().map(|w| &w.0).collect::<Vec<_>>());

    // One side alone is that side's order.
    let only = hybrid_search(&tx, None, Some((&vs, &q)), &opts).unwrap();
    assert!(only.iter().all(|h| h.text_rank.is_none()));
    let no_vs = HybridOptions {
        filter: Some(PayloadFilter::parse("{}").unwrap()),
        ..Default::default()
    };
    assert!(hybrid_search(&tx, Some((&index, "fig")), None, &no_vs).is_err());
}
