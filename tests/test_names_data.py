"""datasets: makemore's embedded names (offline, checksum checked), the character
vocabulary, the next-character examples, the seeded split, text files one item a line."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import Tensor, datasets
from tinygrad_edu.datasets import CharVocabulary, DatasetError

SHARED_NAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "names" / "names.txt"
needs_shared = pytest.mark.skipif(not SHARED_NAMES.exists(),
                                  reason="makemore's names.txt (../shared) is not here")


@pytest.fixture(scope="module")
def names():
    return datasets.names()


# --- the embedded names ------------------------------------------------------------------
def test_names_are_the_32033_names_of_makemore(names):
    assert len(names) == 32_033
    assert names[:3] == ["emma", "olivia", "ava"] and names[-1] == "zzyzx"
    assert all(name and name.isascii() and name.isalpha() and name.islower()
               for name in names)
    assert len(set(names)) == 29_494  # duplicates kept, as makemore keeps them
    assert max(map(len, names)) == 15
    assert datasets.names() is not names  # a fresh list: the caller may change it


@needs_shared
def test_names_equal_the_shared_file(names):
    assert names == SHARED_NAMES.read_text().split("\n")


def test_the_shipped_file_is_deterministic_gzip():
    packed = (datasets.DATA_DIR / datasets.NAMES_FILE).read_bytes()
    assert packed[4:8] == bytes(4)  # mtime 0: rebuilding gives the same bytes
    assert gzip.compress(gzip.decompress(packed), compresslevel=9, mtime=0) == packed
    assert (datasets.DATA_DIR / "LICENSE-makemore.txt").read_text().startswith("MIT License")


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    """A copy of the package's data folder that datasets reads instead of its own."""
    folder = tmp_path / "data"
    shutil.copytree(datasets.DATA_DIR, folder)
    monkeypatch.setattr(datasets, "DATA_DIR", folder)
    return folder / datasets.NAMES_FILE


def test_names_read_from_the_data_folder(data_copy):
    assert len(datasets.names()) == 32_033


def test_a_changed_name_fails_the_checksum(data_copy):
    text = gzip.decompress(data_copy.read_bytes()).replace(b"emma\n", b"emmy\n", 1)
    data_copy.write_bytes(gzip.compress(text, mtime=0))
    with pytest.raises(DatasetError, match=r"names: .*names\.txt\.gz fails its checksum"):
        datasets.names()


def test_a_corrupt_or_missing_names_file_is_reported(data_copy):
    data_copy.write_bytes(data_copy.read_bytes()[:1000])  # truncated
    with pytest.raises(DatasetError, match=r"names\.txt\.gz is not a readable gzip file"):
        datasets.names()
    data_copy.unlink()
    with pytest.raises(DatasetError, match=r"names\.txt\.gz does not exist"):
        datasets.names()


# --- the vocabulary ----------------------------------------------------------------------
def test_vocabulary_of_the_names_is_makemores(names):
    vocabulary = CharVocabulary(names)
    assert len(vocabulary) == 27
    assert vocabulary.chars == list("abcdefghijklmnopqrstuvwxyz")
    assert vocabulary.stoi["."] == 0 and vocabulary.itos[0] == "."
    assert vocabulary.stoi["a"] == 1 and vocabulary.stoi["z"] == 26
    assert all(vocabulary.itos[i] == char for char, i in vocabulary.stoi.items())
    assert repr(vocabulary) == "CharVocabulary(27 symbols: '.abcdefghijklmnopqrstuvwxyz')"


def test_vocabulary_round_trips_every_name(names):
    vocabulary = CharVocabulary(names)
    for name in names:
        ids = vocabulary.encode(name)
        assert len(ids) == len(name) and 0 not in ids
        assert vocabulary.decode(ids) == name
    assert vocabulary.encode("emma") == [5, 13, 13, 1]


def test_decode_stops_at_the_end_token():
    vocabulary = CharVocabulary(["emma", "ava"])  # a e m v → 1 2 3 4
    assert vocabulary.decode([2, 3, 3, 1]) == "emma"
    assert vocabulary.decode([2, 3, 3, 1, 0]) == "emma"
    assert vocabulary.decode([0, 0, 0, 2, 3, 3, 1, 0, 4, 1]) == "emma"  # padding, then a tail
    assert vocabulary.decode(np.array([1, 4, 1, 0])) == "ava"
    assert vocabulary.decode(Tensor(np.array([1, 4, 1]))) == "ava"
    assert vocabulary.decode([]) == "" and vocabulary.decode([0, 0]) == ""


def test_the_end_token_can_be_chosen():
    vocabulary = CharVocabulary(["to be.", "or not"], end_token="\n")
    assert vocabulary.itos[0] == "\n" and vocabulary.stoi["."] > 0
    assert vocabulary.decode(vocabulary.encode("to be.") + [0]) == "to be."
    with pytest.raises(ValueError, match=r"the words use the end token '\.'.*end_token="):
        CharVocabulary(["to be."])
    with pytest.raises(ValueError, match="end_token must be one character"):
        CharVocabulary(["ab"], end_token="<end>")


def test_unknown_characters_are_refused():
    vocabulary = CharVocabulary(["emma"])
    with pytest.raises(ValueError, match=r"character 'é' \(U\+00E9\) in 'emmé' is not in"):
        vocabulary.encode("emmé")
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\), got values from 0 to 7"):
        vocabulary.decode([0, 7])
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 4\), got values from -1"):
        vocabulary.decode([-1, 2])
    with pytest.raises(ValueError, match=r"1-D sequence of integers, got shape \(1, 2\)"):
        vocabulary.decode([[1, 2]])
    with pytest.raises(ValueError, match="1-D sequence of integers.*float64"):
        vocabulary.decode([1.0, 2.0])
    with pytest.raises(TypeError, match="encode: word must be a string, got list"):
        vocabulary.encode(["e"])


def test_vocabulary_wants_a_list_of_words():
    with pytest.raises(TypeError, match="non-empty list of strings"):
        CharVocabulary("emma")  # a lone string would silently be a list of characters
    with pytest.raises(TypeError, match="non-empty list of strings"):
        CharVocabulary([])
    with pytest.raises(ValueError, match="the words hold no characters"):
        CharVocabulary(["", ""])
    assert CharVocabulary(word for word in ["ba", "c"]).chars == ["a", "b", "c"]


# --- the examples and the split ----------------------------------------------------------
def test_next_character_examples_by_hand():
    vocabulary = CharVocabulary(["emma", "bo"])  # a b e m o → 1 2 3 4 5
    X, Y = datasets.next_character_examples(["emma", "bo"], vocabulary, block_size=3)
    assert X.dtype == np.int64 and Y.dtype == np.int64
    np.testing.assert_array_equal(X, [[0, 0, 0], [0, 0, 3], [0, 3, 4], [3, 4, 4],  # emma
                                      [4, 4, 1],
                                      [0, 0, 0], [0, 0, 2], [0, 2, 5]])  # bo
    np.testing.assert_array_equal(Y, [3, 4, 4, 1, 0, 2, 5, 0])
    X1, Y1 = datasets.next_character_examples(["bo"], vocabulary, block_size=1)
    np.testing.assert_array_equal(X1, [[0], [2], [5]])
    np.testing.assert_array_equal(Y1, [2, 5, 0])
    X0, Y0 = datasets.next_character_examples([], vocabulary, block_size=3)
    assert X0.shape == (0, 3) and Y0.shape == (0,)


def test_next_character_examples_of_all_names(names):
    vocabulary = CharVocabulary(names)
    X, Y = datasets.next_character_examples(names, vocabulary, block_size=3)
    assert X.shape == (228_146, 3) and Y.shape == (228_146,)  # the lecture's count
    assert (Y == 0).sum() == 32_033  # one end per name
    assert vocabulary.decode(X[4]) == "mma" and vocabulary.itos[int(Y[4])] == "."


def test_next_character_examples_refuses_bad_input():
    vocabulary = CharVocabulary(["emma"])
    for block_size in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="block_size must be a positive integer"):
            datasets.next_character_examples(["emma"], vocabulary, block_size=block_size)
    with pytest.raises(ValueError, match=r"word 'em\.ma' holds the end token '\.'"):
        datasets.next_character_examples(["em.ma"], vocabulary, block_size=3)
    with pytest.raises(ValueError, match="character 'x'"):
        datasets.next_character_examples(["max"], vocabulary, block_size=3)
    with pytest.raises(TypeError, match="a single string"):
        datasets.next_character_examples("emma", vocabulary, block_size=3)


def test_split_holds_out_1000_names_seeded_and_disjoint(names):
    train, test = datasets.split_words(names)
    assert len(test) == 1000 and len(train) == 31_033
    assert sorted(train + test) == sorted(names)  # every name once, on one side
    assert (train, test) == datasets.split_words(names, seed=0)
    other_train, other_test = datasets.split_words(names, seed=1)
    assert other_test != test and sorted(other_train + other_test) == sorted(names)


def test_split_of_distinct_words_is_disjoint():
    words = [f"w{i}" for i in range(50)]
    train, test = datasets.split_words(words, test_size=7, seed=3)
    assert len(test) == 7 and not set(train) & set(test) and set(train) | set(test) == set(words)
    assert datasets.split_words(words)[1].__len__() == 5  # makemore's 10%
    assert datasets.split_words(words, seed=np.random.default_rng(3))[1] != []
    for test_size in (0, 50, -1, 2.5):
        with pytest.raises(ValueError, match=r"test_size must be an integer in \[1, 50\)"):
            datasets.split_words(words, test_size=test_size)


# --- text files --------------------------------------------------------------------------
def test_text_lines_reads_one_item_a_line(tmp_path):
    path = tmp_path / "items.txt"
    path.write_text("anna\n\n  bob  \r\nchloé\n\n", encoding="utf-8")
    assert datasets.text_lines(path) == ["anna", "bob", "chloé"]
    assert datasets.text_lines(str(path)) == ["anna", "bob", "chloé"]


@needs_shared
def test_text_lines_of_the_shared_names_are_the_names(names):
    assert datasets.text_lines(SHARED_NAMES) == names


def test_text_lines_errors_name_the_file(tmp_path):
    with pytest.raises(DatasetError, match=r"text_lines: .*missing\.txt does not exist"):
        datasets.text_lines(tmp_path / "missing.txt")
    with pytest.raises(DatasetError, match=r"text_lines: .* is a folder"):
        datasets.text_lines(tmp_path)
    for content in (b"", b"\n \n\t\n"):
        (tmp_path / "empty.txt").write_bytes(content)
        with pytest.raises(DatasetError, match=r"empty\.txt holds no items"):
            datasets.text_lines(tmp_path / "empty.txt")
    (tmp_path / "latin1.txt").write_bytes("chloé\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"latin1\.txt is not UTF-8 text \(byte 4"):
        datasets.text_lines(tmp_path / "latin1.txt")
