import numpy as np
import pytest

from tsvis_live.compute.projection import project, projection_key, tsne_perplexity


def test_pca_matches_svd_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 6)) * [5, 3, 1, 0.5, 0.1, 0.01]
    y = project(x, "pca", 3)
    xc = x - x.mean(0)
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    ref = xc @ vt[:3].T
    for j in range(3):  # equal up to sign
        assert np.allclose(np.abs(y[:, j]), np.abs(ref[:, j]), atol=1e-9)
    # deterministic sign: largest |loading| positive
    assert project(x, "pca", 3).tolist() == y.tolist()
    assert np.allclose(project(-x, "pca", 3), -y) or np.allclose(np.abs(project(-x, "pca", 3)), np.abs(y))


def test_pca_wide_input_uses_gram_route():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 40))
    y = project(x, "pca", 3)
    xc = x - x.mean(0)
    s = np.linalg.svd(xc, compute_uv=False)
    assert np.allclose(np.linalg.norm(y, axis=0), s[:3])


@pytest.mark.parametrize("n,d", [(1, 3), (2, 5), (3, 1), (3, 2), (4, 4), (6, 1)])
@pytest.mark.parametrize("method", ["pca", "tsne"])
@pytest.mark.parametrize("dims", [2, 3])
def test_degenerate_sizes(n, d, method, dims):
    x = np.random.default_rng(n * 10 + d).standard_normal((n, d))
    y = project(x, method, dims)
    assert y.shape == (n, dims) and np.isfinite(y).all()


def test_constant_and_non_finite_input():
    assert not project(np.ones((8, 4)), "tsne", 2).any()
    assert not project(np.ones((8, 4)), "pca", 3).any()
    x = np.random.default_rng(0).standard_normal((20, 3))
    x[3, 1] = np.nan
    x[5, 2] = np.inf
    assert np.isfinite(project(x, "pca", 2)).all()


def test_tsne_deterministic_and_separates_clusters():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 10))
    b = rng.standard_normal((30, 10)) + 20
    x = np.vstack([a, b])
    y1 = project(x, "tsne", 2, seed=0)
    y2 = project(x, "tsne", 2, seed=0)
    assert np.array_equal(y1, y2)
    ca, cb = y1[:30].mean(0), y1[30:].mean(0)
    spread = max(y1[:30].std(0).max(), y1[30:].std(0).max())
    assert np.linalg.norm(ca - cb) > 3 * spread


def test_perplexity_is_valid():
    for n in range(2, 200):
        assert 1.0 <= tsne_perplexity(n) < n or n == 2
    assert tsne_perplexity(10000) == 30.0


def test_bad_arguments():
    with pytest.raises(ValueError):
        project(np.zeros((3, 3)), "umap", 2)
    with pytest.raises(ValueError):
        project(np.zeros((3, 3)), "pca", 4)


def test_projection_key():
    x = np.arange(12.0).reshape(4, 3)
    k = projection_key(x, "pca", 2)
    assert k == projection_key(x.copy(order="F"), "PCA", 2)
    assert k == projection_key(x.astype(np.float32), "pca", 2)  # same values, same key
    assert k != projection_key(x.reshape(3, 4), "pca", 2)
    assert k != projection_key(x, "pca", 3)
    assert k != projection_key(x, "tsne", 2)
    assert k != projection_key(x, "pca", 2, seed=1)
    assert k != projection_key(x, "pca", 2, max_points=1000)
    y = x.copy()
    y[0, 0] = 0.5
    assert k != projection_key(y, "pca", 2)
