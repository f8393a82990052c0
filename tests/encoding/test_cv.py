import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, KFold

from braindecode.encoding import LeaveOneRunOut, RunKFold, check_cv
from braindecode.errors import InvalidArgument

RUNS = np.repeat(["run-1", "run-2", "run-3", "run-4", "run-5"], [8, 6, 7, 9, 5])


def _assert_no_leakage(splits, runs):
    for train, test in splits:
        assert set(runs[train]).isdisjoint(runs[test])
        assert len(train) + len(test) == len(runs)


@pytest.mark.parametrize("splitter", [LeaveOneRunOut(), RunKFold(2), RunKFold(5)])
def test_splitters_keep_runs_whole(splitter):
    splits = list(splitter.split(np.zeros(len(RUNS)), groups=RUNS))
    _assert_no_leakage(splits, RUNS)
    assert len(splits) == splitter.get_n_splits(groups=RUNS)
    tested = np.concatenate([test for _, test in splits])
    np.testing.assert_array_equal(np.sort(tested), np.arange(len(RUNS)))


def test_leave_one_run_out_order_and_content():
    runs = np.array(["b", "b", "a", "a", "c"])
    splits = list(LeaveOneRunOut().split(np.zeros(5), groups=runs))
    np.testing.assert_array_equal(splits[0][1], [0, 1])  # first run seen first
    np.testing.assert_array_equal(splits[2][1], [4])


def test_run_kfold_groups_consecutive_runs():
    splits = list(RunKFold(2).split(np.zeros(len(RUNS)), groups=RUNS))
    assert sorted(set(RUNS[splits[0][1]])) == ["run-1", "run-2", "run-3"]


def test_int_cv_with_groups_folds_whole_runs():
    splits = check_cv(3, len(RUNS), groups=RUNS)
    _assert_no_leakage([(tr.numpy(), te.numpy()) for tr, te in splits], RUNS)


def test_int_cv_without_groups_is_contiguous_kfold():
    splits = check_cv(4, 20)
    for (train, test), (ktrain, ktest) in zip(splits, KFold(4).split(np.zeros(20))):
        np.testing.assert_array_equal(test.numpy(), ktest)
        np.testing.assert_array_equal(train.numpy(), ktrain)


def test_sklearn_group_splitter_is_accepted():
    splits = check_cv(GroupKFold(3), len(RUNS), groups=RUNS)
    assert len(splits) == 3


def test_leaky_splits_are_rejected():
    leaky = [(np.arange(10, 35), np.arange(0, 10))]  # run-2 (samples 8..13) on both sides
    with pytest.raises(InvalidArgument, match="both train and test"):
        check_cv(leaky, len(RUNS), groups=RUNS)


@pytest.mark.parametrize(("cv", "n_samples", "groups", "message"), [
    (5, 4, None, "at least 5 samples"),
    (6, len(RUNS), RUNS, "at least 6 runs"),
    (LeaveOneRunOut(), 10, None, "needs groups"),
    (LeaveOneRunOut(), 10, np.zeros(10), "at least 2 runs"),
    (3, 10, np.zeros(9), "9 labels for 10 samples"),
    (1, 10, None, "at least 2 folds"),
    ([(np.arange(5), np.array([], dtype=int))], 10, None, "empty"),
    ([(np.arange(5), np.array([12]))], 10, None, "outside"),
    ("five", 10, None, "cv must be"),
])
def test_bad_cv(cv, n_samples, groups, message):
    with pytest.raises(InvalidArgument, match=message):
        check_cv(cv, n_samples, groups)


def test_bad_n_splits():
    with pytest.raises(InvalidArgument):
        RunKFold(1)
