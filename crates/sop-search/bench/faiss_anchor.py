"""faiss-cpu anchors for sop-search-bench's vector runs (crates/sop-search/src/bin/
sop-search-bench/vectors.rs writes the files): IVF-Flat and IVF-SQ8 (nlist as
SOP's, trained on the first tenth as SOP's k-means is) and HNSW-Flat (M 32,
efConstruction 40), on the same vectors, queries and exact top 10. Build with
the default threads; queries one at a time on one thread, as SOP's.

usage: python faiss_anchor.py DIR DIM l2|ip NLIST
"""

import sys
import time

import faiss
import numpy as np

d_, dim, metric, nlist = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
data = np.fromfile(f"{d_}/data.f32", dtype="<f4").reshape(-1, dim)
queries = np.fromfile(f"{d_}/queries.f32", dtype="<f4").reshape(-1, dim)
truth = np.fromfile(f"{d_}/truth.i64", dtype="<i8").reshape(len(queries), -1)
mt = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
n = len(data)


def recall_qps(index):
    faiss.omp_set_num_threads(1)
    found = 0
    t = time.perf_counter()
    for i in range(len(queries)):
        _, ids = index.search(queries[i : i + 1], 10)
        found += len(set(ids[0].tolist()) & set(truth[i].tolist()))
    el = time.perf_counter() - t
    faiss.omp_set_num_threads(2)
    return found / truth.size, len(queries) / el


def report(name, index, build_s, knob, values):
    size = len(faiss.serialize_index(index))
    print(f"faiss {name}: build {build_s:.1f} s, {size / 1e6:.1f} MB serialized")
    for v in values:
        if knob == "efSearch":
            index.hnsw.efSearch = v
        else:
            index.nprobe = v
        r, q = recall_qps(index)
        print(f"faiss {name} {knob} {v}: recall@10 {r:.3f}, {q:.0f} queries/s (one thread)")
        if r >= 0.995:
            break


faiss.omp_set_num_threads(2)
for name, make in [
    ("IVF-Flat", lambda q: faiss.IndexIVFFlat(q, dim, nlist, mt)),
    ("IVF-SQ8", lambda q: faiss.IndexIVFScalarQuantizer(q, dim, nlist, faiss.ScalarQuantizer.QT_8bit, mt)),
]:
    t = time.perf_counter()
    quant = faiss.IndexFlatL2(dim) if metric == "l2" else faiss.IndexFlatIP(dim)
    index = make(quant)
    index.train(data[: max(n // 10, nlist)])
    index.add(data)
    report(name, index, time.perf_counter() - t, "nprobe", [1, 2, 4, 8, 16, 32, 64, 128, 256])

t = time.perf_counter()
index = faiss.IndexHNSWFlat(dim, 32, mt)
index.add(data)
report("HNSW-Flat M32", index, time.perf_counter() - t, "efSearch", [16, 32, 64, 128, 256, 512])
