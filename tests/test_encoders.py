import pickle

import numpy as np
import pytest
from hypothesis import given, strategies as st

from ladle.encoders import (BinaryEncoder, IdentityEncoder, LabelEncoder, MultiLabelEncoder,
                            OneHotEncoder, UnknownLabelError)

words = st.sampled_from(["cat", "dog", "emu", "yak", "ant", "bée"])


def test_label_encoder_sorts_classes_and_round_trips():
    enc = LabelEncoder().fit(["dog", "cat", "emu", "cat"])
    assert enc.classes_.tolist() == ["cat", "dog", "emu"]
    codes = enc.transform(["emu", "cat", "dog"])
    assert codes.tolist() == [2, 0, 1] and codes.dtype == np.int64
    assert enc.inverse_transform(codes).tolist() == ["emu", "cat", "dog"]
    assert enc.field.shape == () and enc.field.dtype == np.int64


def test_label_encoder_numbers_and_given_classes_keep_their_order():
    assert LabelEncoder().fit([10, 3, 3]).transform([3, 10]).tolist() == [0, 1]
    enc = LabelEncoder(classes=["z", "a", "m"])
    assert enc.fitted
    assert enc.transform(["a", "z", "m"]).tolist() == [1, 0, 2]
    assert enc.inverse_transform([2, 0]).tolist() == ["m", "z"]
    with pytest.raises(ValueError, match="repeated"):
        LabelEncoder(classes=["a", "a"])


def test_unknown_label_names_label_and_row():
    enc = LabelEncoder().fit(["cat", "dog"])
    with pytest.raises(UnknownLabelError, match=r"unknown label 'emu' in row 12.*\['cat', 'dog'\]"):
        enc.transform(["cat", "emu"], rows=[11, 12])
    with pytest.raises(UnknownLabelError, match="row 1"):
        enc.transform(["cat", "zzz"])
    with pytest.raises(UnknownLabelError, match="unknown label 5"):
        enc.transform([5])  # a number against string classes
    err = UnknownLabelError("emu", 3, ["a"])
    again = pickle.loads(pickle.dumps(err))
    assert (again.label, again.row, str(again)) == ("emu", 3, str(err))


def test_missing_labels_are_errors_naming_the_row():
    with pytest.raises(ValueError, match="row 2 has no label"):
        LabelEncoder().fit(np.array(["a", "b", None], dtype=object))
    with pytest.raises(ValueError, match="row 1 has no label"):
        LabelEncoder().fit([1.0, float("nan")])
    with pytest.raises(TypeError, match="mix types"):
        LabelEncoder().fit(np.array(["a", 1], dtype=object))


def test_python_object_labels_become_typed_arrays():
    assert LabelEncoder().fit(np.array([3, 1], dtype=object)).classes_.dtype == np.int64
    assert LabelEncoder().fit(np.array([0.5, 1], dtype=object)).classes_.dtype == np.float64
    assert LabelEncoder().fit(np.array(["b", "a"], dtype=object)).classes_.dtype.kind == "U"
    assert LabelEncoder().fit(np.empty(0, dtype=object)).transform([]).tolist() == []
    with pytest.raises(ValueError, match=r"1-D \(one per row\)"):
        LabelEncoder().fit([[1, 2]])
    with pytest.raises(UnknownLabelError, match="unknown label 'a' in row 0"):
        LabelEncoder(classes=[]).transform(["a"])


def test_inverse_transforms_check_their_input():
    with pytest.raises(ValueError, match=r"class id 3 is outside \[0, 2\)"):
        LabelEncoder().fit(["a", "b"]).inverse_transform([3])
    with pytest.raises(ValueError, match=r"multi-hot rows must have shape \(n, 2\)"):
        MultiLabelEncoder().fit([["a", "b"]]).inverse_transform([[1]])
    assert IdentityEncoder().fit([1.5]).inverse_transform([2.5]).tolist() == [2.5]
    assert "2 classes" in repr(LabelEncoder().fit(["a", "b"]))
    assert "unfitted" in repr(LabelEncoder())


def test_unfitted_encoder_says_how_to_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        LabelEncoder().transform(["a"])
    with pytest.raises(ValueError, match="integer dtype"):
        LabelEncoder(dtype="float32")


def test_one_hot_fixed_width_and_compact_codes():
    enc = OneHotEncoder().fit(["b", "a", "c"])
    out = enc.transform(["c", "a"])
    assert out.dtype == np.float32 and out.tolist() == [[0, 0, 1], [1, 0, 0]]
    assert enc.field.shape == (3,)
    codes = enc.to_codes(["c", "a"])
    assert codes.dtype == np.int16 and codes.tolist() == [2, 0]
    np.testing.assert_array_equal(enc.from_codes(codes), out)
    assert enc.inverse_transform(out).tolist() == ["c", "a"]
    with pytest.raises(UnknownLabelError, match="'d' in row 0"):
        enc.transform(["d"])
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        enc.inverse_transform([[1, 0]])


def test_multilabel_lists_and_delimited_strings():
    enc = MultiLabelEncoder().fit([["cat", "dog"], [], ("emu",)])
    assert enc.classes_.tolist() == ["cat", "dog", "emu"]
    out = enc.transform([["emu", "cat"], []])
    assert out.tolist() == [[1, 0, 1], [0, 0, 0]]
    delim = MultiLabelEncoder(sep="|").fit(["cat|dog", "", "emu"])
    np.testing.assert_array_equal(delim.transform(["emu|cat", ""]), out)
    assert [x.tolist() for x in enc.inverse_transform(out)] == [["cat", "emu"], []]
    codes = enc.to_codes([["emu", "cat"], []])
    assert codes.dtype == np.uint8 and codes.shape == (2, 1)
    np.testing.assert_array_equal(enc.from_codes(codes), out)


def test_multilabel_given_classes():
    enc = MultiLabelEncoder(classes=["b", "a"])
    assert enc.fitted and enc.classes_.tolist() == ["a", "b"]
    assert enc.transform([["b"]]).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="repeated labels"):
        MultiLabelEncoder(classes=["a", "a"])


def test_multilabel_errors_name_the_row():
    enc = MultiLabelEncoder(sep=",").fit(["a,b", "c"])
    with pytest.raises(UnknownLabelError, match="'x' in row 41"):
        enc.transform(["a", "b,x"], rows=[40, 41])
    with pytest.raises(TypeError, match="give sep="):
        MultiLabelEncoder().fit(["a|b"])
    with pytest.raises(ValueError, match="row 1 has no label set"):
        enc.transform(["a", None])
    with pytest.raises(TypeError, match="row 0 is a int"):
        enc.transform([3])


def test_binary_encoder():
    enc = BinaryEncoder().fit(["no", "yes", "no"])
    assert enc.transform(["yes", "no"]).tolist() == [1.0, 0.0]
    assert BinaryEncoder(positive="no").fit(["no", "yes"]).transform(["no"]).tolist() == [1.0]
    assert enc.inverse_transform([0.9, 0.1]).tolist() == ["yes", "no"]
    assert BinaryEncoder(positive=1).fit([0, 0]).transform([1, 0]).tolist() == [1.0, 0.0]
    fixed = BinaryEncoder(classes=["x", "y"])
    assert fixed.field.shape == () and fixed.from_codes(fixed.to_codes(["y"])).tolist() == [1.0]
    assert fixed.to_codes(["y", "x"]).dtype == np.uint8
    with pytest.raises(ValueError, match="exactly 2 classes, found 3"):
        BinaryEncoder().fit(["a", "b", "c"])
    with pytest.raises(ValueError, match="positive='z' is not among"):
        BinaryEncoder(positive="z").fit(["a", "b"])
    with pytest.raises(UnknownLabelError, match="'maybe' in row 1"):
        enc.transform(["no", "maybe"])


def test_identity_encoder():
    enc = IdentityEncoder("float32").fit([[1, 2], [3, 4]])
    assert enc.field.shape == (2,) and enc.field.dtype == np.float32
    assert enc.transform([[5, 6]]).dtype == np.float32
    with pytest.raises(TypeError, match="Python objects"):
        IdentityEncoder().fit(np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="row 1 has a missing target"):
        IdentityEncoder().fit([1.0, float("nan")])
    with pytest.raises(RuntimeError, match="not fitted"):
        _ = IdentityEncoder().field


@given(st.lists(words, min_size=1, max_size=40))
def test_label_and_one_hot_round_trip(labels):
    for enc in (LabelEncoder(), OneHotEncoder()):
        out = enc.fit_transform(labels)
        assert enc.inverse_transform(out).tolist() == labels
        np.testing.assert_array_equal(enc.from_codes(enc.to_codes(labels)), out)
    assert LabelEncoder().fit(labels).classes_.tolist() == sorted(set(labels))


@given(st.lists(st.lists(words, max_size=4, unique=True), min_size=1, max_size=30))
def test_multilabel_round_trip(sets):
    enc = MultiLabelEncoder().fit(sets)
    out = enc.transform(sets)
    assert [sorted(x.tolist()) for x in enc.inverse_transform(out)] == [sorted(s) for s in sets]
    np.testing.assert_array_equal(enc.from_codes(enc.to_codes(sets)), out)
    assert out.sum() == sum(len(s) for s in sets)


def test_fitted_encoders_pickle_without_object_arrays():
    enc = OneHotEncoder().fit(["a", "b"])
    again = pickle.loads(pickle.dumps(enc))
    assert again.classes_.dtype.kind == "U"
    assert again.transform(["b"]).tolist() == [[0.0, 1.0]]
