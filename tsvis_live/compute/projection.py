"""Deterministic 2-D/3-D projections of embeddings (PCA, t-SNE) and their cache key.

Reductions are expensive (t-SNE on 10k points takes tens of seconds), so callers cache
results persistently under :func:`projection_key`, which changes whenever anything that
determines the output changes: the input bytes, the method, dims, seed, parameters,
this module's algorithm version and the scikit-learn version.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import warnings

import numpy as np

ALGORITHM_VERSION = 2
"""Bump when the numerical recipe below changes, to invalidate persisted results."""
TSNE_MAX_PERPLEXITY = 30.0
TSNE_PCA_DIMS = 50


def _clean(matrix: np.ndarray) -> np.ndarray:
    """float64 (N, D); non-finite entries replaced by their column's finite mean (or 0)."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    elif x.ndim > 2:
        x = x.reshape(x.shape[0], -1)
    bad = ~np.isfinite(x)
    if bad.any():
        x = x.copy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            col = np.nanmean(np.where(bad, np.nan, x), axis=0)
        col = np.where(np.isfinite(col), col, 0.0)
        x[bad] = np.take(col, np.nonzero(bad)[1])
    return x


def _pad(y: np.ndarray, n: int, dims: int) -> np.ndarray:
    out = np.zeros((n, dims))
    out[:, : y.shape[1]] = y
    return out


def _pca(x: np.ndarray, dims: int) -> np.ndarray:
    """Exact PCA by SVD of the centred data, signs fixed as scikit-learn's PCA fixes them
    (svd_flip on the components: each component's largest |loading| is positive), so the
    plot is the one a scikit-learn user sees, never its mirror image.

    Components beyond the data's rank (N <= dims, D < dims, constant data) are zeros.
    """
    n, d = x.shape
    xc = x - x.mean(axis=0)
    if n < 2 or not np.any(xc):
        return np.zeros((n, dims))
    if d > n:
        # Gram route: eigenvectors of X X^T are the left singular vectors
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
    else:
        cov = xc.T @ xc
        evals, evecs = np.linalg.eigh(cov)
        order = np.argsort(evals)[::-1]
        evecs = evecs[:, order]
        y = xc @ evecs[:, : min(dims, d)]
        signs = np.sign(evecs[np.abs(evecs[:, : y.shape[1]]).argmax(axis=0),
                              np.arange(y.shape[1])])
        signs[signs == 0] = 1.0
        y *= signs
        y[:, np.linalg.norm(y, axis=0) <= 1e-12 * max(1.0, np.abs(xc).max())] = 0.0
        return _pad(y, n, dims)
    k = min(dims, s.size)
    y = u[:, :k] * s[:k]
    signs = np.sign(vt[np.arange(k), np.abs(vt[:k]).argmax(axis=1)])
    signs[signs == 0] = 1.0
    y *= signs
    y[:, s[:k] <= 1e-12 * max(1.0, s[0])] = 0.0
    return _pad(y, n, dims)


def tsne_perplexity(n: int) -> float:
    """30 (t-SNE's usual value) when there are enough points, else about (N-1)/3.

    scikit-learn requires perplexity < N; ~N/3 keeps each point's neighbourhood a
    minority of the data, which is what perplexity means. The original used N//4
    for N <= 90 and bh_sne's own checks.
    """
    return float(max(1.0, min(TSNE_MAX_PERPLEXITY, (n - 1) / 3.0)))


def _tsne(x: np.ndarray, dims: int, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    n, d = x.shape
    if n <= dims + 1 or not np.any(x - x[0]):
        return _pca(x, dims)  # too few (or identical) points for a neighbourhood model
    if d > TSNE_PCA_DIMS:
        x = _pca(x, TSNE_PCA_DIMS)
    init = "pca" if x.shape[1] >= dims and n > dims else "random"
    tsne = TSNE(n_components=dims, perplexity=tsne_perplexity(n), init=init,
                learning_rate="auto", random_state=seed, method="barnes_hut", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(tsne.fit_transform(x), dtype=np.float64)


def project(matrix: np.ndarray, method: str, dims: int = 2, seed: int = 0) -> np.ndarray:
    """Reduce ``matrix`` (N, D) to (N, dims) with ``'pca'`` or ``'tsne'``; deterministic.

    Non-finite inputs are replaced by column means. PCA is exact (no randomised solver)
    with fixed signs. t-SNE uses scikit-learn Barnes-Hut with ``random_state=seed``,
    perplexity from :func:`tsne_perplexity`, PCA init, and a PCA pre-reduction to
    50 dims for wide inputs; with N <= dims + 1 or identical points it falls back to PCA.
    """
    method = method.lower()
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims!r}")
    x = _clean(matrix)
    if x.shape[0] == 0:
        return np.zeros((0, dims))
    if x.shape[1] == 0:
        return np.zeros((x.shape[0], dims))
    if method == "pca":
        return _pca(x, dims)
    return _tsne(x, dims, seed)


@functools.cache
def sklearn_version() -> str:
    """scikit-learn's version from its package metadata: importing scikit-learn takes
    0.5-2.5 s, which made the first PCA request (which never needs it) slow."""
    try:
        return importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:  # a source checkout without metadata
        import sklearn

        return sklearn.__version__


def projection_key(matrix: np.ndarray, method: str, dims: int = 2, seed: int = 0,
                   **params) -> str:
    """Stable hex key for caching :func:`project` results across restarts.

    Hashes the input as C-contiguous little-endian float64 (the dtype ``project``
    computes in, so an int or float32 copy of the same values shares the key) with its
    shape, plus method, dims, seed, extra ``params``, :data:`ALGORITHM_VERSION`
    and the scikit-learn version (t-SNE output may change between releases).
    """
    x = np.ascontiguousarray(np.asarray(matrix, dtype="<f8"))
    meta = json.dumps({"v": ALGORITHM_VERSION, "sklearn": sklearn_version(),
                       "method": method.lower(), "dims": int(dims), "seed": int(seed),
                       "shape": list(x.shape), "params": params},
                      sort_keys=True, default=str)
    h = hashlib.blake2b(digest_size=20)
    h.update(meta.encode())
    h.update(b"\0")
    h.update(memoryview(x).cast("B"))
    return h.hexdigest()
