"""Tests of acctgraph.evaluation.metrics: hand-computed cases, invariants, sklearn cross-checks."""

from __future__ import annotations

import json
import math
from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from acctgraph.core import schema as S
from acctgraph.core.errors import InputError
from acctgraph.evaluation.metrics import Evaluation, evaluate

# --- a small world computed by hand ---------------------------------------
#
# operator A: a1 a2 a3 a4      operator B: b1 b2
# legitimate: l1 (organisation), l2 (individual), l3 (automation), l4 (individual)
#
# members: cluster 1 = {a1, a2, a3, l1}, cluster 2 = {b1, b2}, cluster 3 = {l2, l3},
# all flagged; a4 and l4 unflagged with no cluster.

LABELS = pl.DataFrame(
    {
        S.ACCOUNT_ID: ["a1", "a2", "a3", "a4", "b1", "b2", "l1", "l2", "l3", "l4"],
        S.OPERATOR_ID: ["A", "A", "A", "A", "B", "B", None, "", None, None],
        S.KIND: [
            "op",
            "op",
            "op",
            "op",
            "op",
            "op",
            "organisation",
            "individual",
            "automation",
            "individual",
        ],
    }
)


def members_frame(rows: list[tuple[str, object, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={S.ACCOUNT_ID: pl.String, S.CLUSTER_ID: pl.Int64, S.FLAGGED: pl.Boolean},
        orient="row",
    )


MEMBERS = members_frame(
    [
        ("a1", 1, True),
        ("a2", 1, True),
        ("a3", 1, True),
        ("l1", 1, True),
        ("b1", 2, True),
        ("b2", 2, True),
        ("l2", 3, True),
        ("l3", 3, True),
        ("a4", None, False),
        ("l4", None, False),
    ]
)


@pytest.fixture(scope="module")
def hand() -> Evaluation:
    return evaluate(MEMBERS, LABELS)


def test_account_level_by_hand(hand: Evaluation) -> None:
    # fraud = a1..a4, b1, b2 (6); flagged = a1 a2 a3 b1 b2 l1 l2 l3 (8)
    # TP = a1 a2 a3 b1 b2 = 5, FP = l1 l2 l3 = 3, FN = a4 = 1, TN = l4 = 1
    assert (hand.true_positives, hand.false_positives) == (5, 3)
    assert (hand.false_negatives, hand.true_negatives) == (1, 1)
    assert hand.precision == pytest.approx(5 / 8)
    assert hand.recall == pytest.approx(5 / 6)
    # F1 = 2TP / (2TP + FP + FN) = 10 / 14
    assert hand.f1 == pytest.approx(10 / 14)
    assert hand.labelled_accounts == 10
    assert hand.fraudulent_accounts == 6
    assert hand.legitimate_accounts == 4
    assert hand.operator_count == 2
    assert hand.flagged_accounts == 8


def test_bcubed_by_hand(hand: Evaluation) -> None:
    # E = fraudulent or flagged = a1..a4, b1, b2, l1, l2, l3 (9 accounts)
    # predicted: {a1 a2 a3 l1} {b1 b2} {l2 l3} {a4}; true: {a1..a4} {b1 b2} {l1} {l2} {l3}
    # precision per account: a1-a3 3/4 each, l1 1/4, b1 b2 1, l2 1/2, l3 1/2, a4 1
    #   sum = 2.25 + 0.25 + 2 + 1 + 1 = 6.5  ->  6.5 / 9
    # recall per account: a1-a3 3/4 each, a4 1/4, l1 1, b1 b2 1, l2 1, l3 1
    #   sum = 2.25 + 0.25 + 1 + 2 + 1 + 1 = 7.5  ->  7.5 / 9
    assert hand.evaluation_set_size == 9
    assert hand.bcubed_precision == pytest.approx(6.5 / 9)
    assert hand.bcubed_recall == pytest.approx(7.5 / 9)
    # F1 = 2 P R / (P + R) = 2 * 6.5 * 7.5 / (9 * 14) = 97.5 / 126
    assert hand.bcubed_f1 == pytest.approx(97.5 / 126)


def test_ari_nmi_by_hand(hand: Evaluation) -> None:
    # cells: (c1,A)=3 (c1,l1)=1 (c2,B)=2 (c3,l2)=1 (c3,l3)=1 (a4,A)=1
    # pairs together in both: C(3,2)+C(2,2) = 4
    # predicted sizes 4 2 2 1 -> 6+1+1 = 8 pairs; true sizes 4 2 1 1 1 -> 6+1 = 7 pairs
    # all pairs C(9,2) = 36; expected = 8*7/36; max = (8+7)/2
    # ARI = (4 - 56/36) / (7.5 - 56/36) = (144 - 56) / (270 - 56) = 88 / 214
    assert hand.adjusted_rand_index == pytest.approx(88 / 214)
    # NMI: I = sum p_ct log(p_ct / (p_c p_t)); H from the marginals; arithmetic mean
    cells = {(4, 4): [3], (4, 1): [1], (2, 2): [2], (2, 1): [1, 1], (1, 4): [1]}
    # (predicted size, true size): counts of the non-zero cells
    n = 9
    mutual = sum(k / n * math.log(k * n / (a * b)) for (a, b), ks in cells.items() for k in ks)
    h_pred = -sum(s / n * math.log(s / n) for s in [4, 2, 2, 1])
    h_true = -sum(s / n * math.log(s / n) for s in [4, 2, 1, 1, 1])
    assert hand.normalized_mutual_information == pytest.approx(mutual / ((h_pred + h_true) / 2))
    # and scikit-learn agrees on the labelings written out
    pred = ["c1", "c1", "c1", "s_a4", "c2", "c2", "c1", "c3", "c3"]
    true = ["A", "A", "A", "A", "B", "B", "s_l1", "s_l2", "s_l3"]
    assert hand.adjusted_rand_index == pytest.approx(adjusted_rand_score(true, pred))
    assert hand.normalized_mutual_information == pytest.approx(
        normalized_mutual_info_score(true, pred, average_method="arithmetic")
    )


def test_per_operator_by_hand(hand: Evaluation) -> None:
    a, b = hand.operators
    # A: 4 accounts, 3 flagged (all in cluster 1, which also holds l1)
    assert (a.operator_id, a.size, a.flagged, a.clusters) == ("A", 4, 3, 1)
    assert a.recall == pytest.approx(3 / 4)
    assert a.largest_share == pytest.approx(3 / 4)
    assert a.purity == pytest.approx(3 / 4)  # 3 of the 4 accounts of cluster 1
    # B: 2 accounts, both in cluster 2, alone
    assert (b.operator_id, b.size, b.flagged, b.clusters) == ("B", 2, 2, 1)
    assert (b.recall, b.largest_share, b.purity) == (1.0, 1.0, 1.0)
    assert hand.hardest_operator == "A"
    table = hand.operators_table()
    assert table[S.OPERATOR_ID].to_list() == ["A", "B"]
    assert table["flagged"].to_list() == [3, 2]


def test_false_positives_by_kind(hand: Evaluation) -> None:
    # l1 organisation, l2 individual, l3 automation flagged
    assert hand.flagged_legitimate_by_kind == (
        ("automation", 1),
        ("individual", 1),
        ("organisation", 1),
    )
    assert hand.flagged_legitimate_organisation == 2  # organisation + automation
    # clusters 1, 2, 3 flagged; cluster 3 holds no fraud
    assert (hand.flagged_clusters, hand.flagged_clusters_all_legitimate) == (3, 1)


def test_operator_split_and_shares() -> None:
    # A: 4 accounts split 2 + 1 into clusters 1 and 2, one unflagged; cluster 2 also holds x
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: ["a1", "a2", "a3", "a4", "x"], S.OPERATOR_ID: ["A", "A", "A", "A", None]}
    )
    members = members_frame(
        [("a1", 1, True), ("a2", 1, True), ("a3", 2, True), ("x", 2, True), ("a4", None, False)]
    )
    (a,) = evaluate(members, labels).operators
    assert (a.size, a.flagged, a.clusters) == (4, 3, 2)
    assert a.recall == pytest.approx(3 / 4)
    assert a.largest_share == pytest.approx(2 / 4)
    assert a.purity == pytest.approx(3 / 4)  # clusters 1 and 2 hold 4 accounts, 3 of A


def test_string_and_integer_cluster_ids_agree(hand: Evaluation) -> None:
    as_string = MEMBERS.with_columns(pl.col(S.CLUSTER_ID).cast(pl.String))
    assert evaluate(as_string, LABELS).to_dict() == hand.to_dict()


def test_to_dict_is_json_ready_and_order_independent(hand: Evaluation) -> None:
    shuffled = evaluate(
        MEMBERS.sample(fraction=1.0, shuffle=True, seed=3),
        LABELS.sample(fraction=1.0, shuffle=True, seed=4),
    )
    text = json.dumps(hand.to_dict())
    assert json.dumps(shuffled.to_dict()) == text
    data = hand.to_dict()
    assert list(data) == [
        "population",
        "accounts",
        "clustering",
        "operators",
        "hardest_operator",
        "flagged_legitimate_by_kind",
        "flagged_legitimate_organisation",
        "data_quality",
    ]
    assert data["accounts"]["precision"] == 0.625
    assert data["accounts"]["recall"] == 0.833333  # rounded to 6 places
    assert data["clustering"]["nmi_normalisation"] == "arithmetic"


def test_to_text_mentions_the_headline_numbers(hand: Evaluation) -> None:
    text = hand.to_text()
    assert "precision 0.6250" in text
    assert "hardest operator: A" in text
    assert "organisation/automation accounts flagged: 2" in text


# --- data quality -----------------------------------------------------------


def test_duplicates_missing_unknown_are_counted() -> None:
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: ["a1", "a2", "m1", "l1"], S.OPERATOR_ID: ["A", "A", "A", None]}
    )
    members = members_frame(
        [
            ("a1", None, False),  # duplicate of a1: sorted after ("a1", 1, True), dropped
            ("a1", 1, True),
            ("a2", 1, True),
            ("l1", None, False),
            ("u1", 1, True),  # unknown: not labelled, left out of the metrics
            ("u2", None, False),
        ]
    )
    result = evaluate(members, labels)
    assert result.duplicate_member_rows == 1
    assert result.duplicate_examples == ("a1",)
    assert result.missing_accounts == 1 and result.missing_examples == ("m1",)
    assert result.unknown_accounts == 2 and result.unknown_examples == ("u1", "u2")
    assert result.unknown_flagged_accounts == 1
    # a1 kept as flagged; m1 (missing) counts as an unflagged fraudulent account
    assert (result.true_positives, result.false_negatives) == (2, 1)
    assert result.false_positives == 0
    # cluster 1 among labelled accounts is {a1, a2}: u1 does not dilute it
    assert result.operators[0].purity == 1.0
    text = result.to_text()
    assert "missing accounts" in text and "m1" in text
    assert "duplicate member rows" in text


def test_duplicate_resolution_ignores_input_order() -> None:
    labels = pl.DataFrame({S.ACCOUNT_ID: ["a"], S.OPERATOR_ID: ["A"]})
    rows = [("a", None, False), ("a", 2, True), ("a", 1, False)]
    first = evaluate(members_frame(rows), labels)
    second = evaluate(members_frame(rows[::-1]), labels)
    assert first.to_dict() == second.to_dict()
    # sorted by (account_id, cluster_id, ...) nulls last: ("a", "1", False) is kept
    assert first.flagged_accounts == 0
    assert first.duplicate_member_rows == 2


def test_duplicate_labels_and_null_ids_are_counted() -> None:
    labels = pl.DataFrame({S.ACCOUNT_ID: ["a", "a", None], S.OPERATOR_ID: ["A", None, "B"]})
    members = members_frame([("a", 1, True), (None, 1, True)])
    result = evaluate(members, labels)
    assert result.duplicate_label_rows == 1
    assert result.null_account_id_rows == 2
    assert result.labelled_accounts == 1
    assert result.true_positives == 1  # ("a", "A") sorts before ("a", null)


def test_missing_column_raises_input_error() -> None:
    with pytest.raises(InputError, match="flagged"):
        evaluate(MEMBERS.drop(S.FLAGGED), LABELS)
    with pytest.raises(InputError, match="operator_id"):
        evaluate(MEMBERS, LABELS.drop(S.OPERATOR_ID))
    with pytest.raises(InputError, match="boolean"):
        evaluate(MEMBERS.with_columns(pl.col(S.FLAGGED).cast(pl.String)), LABELS)


def test_labels_without_kind_column() -> None:
    result = evaluate(MEMBERS, LABELS.drop(S.KIND))
    assert result.flagged_legitimate_by_kind == (("unspecified", 3),)
    assert result.flagged_legitimate_organisation == 0


# --- edge cases ---------------------------------------------------------------


def test_no_fraud_nothing_flagged() -> None:
    labels = pl.DataFrame({S.ACCOUNT_ID: ["x", "y"], S.OPERATOR_ID: [None, None]})
    members = members_frame([("x", None, False), ("y", None, False)])
    result = evaluate(members, labels)
    assert (result.precision, result.recall, result.f1) == (None, None, None)
    assert result.evaluation_set_size == 0
    assert result.bcubed_f1 is None and result.adjusted_rand_index is None
    assert result.normalized_mutual_information is None
    assert result.hardest_operator is None
    data = result.to_dict()
    assert data["accounts"]["precision"] is None
    json.dumps(data)
    assert "n/a" in result.to_text()


def test_no_fraud_something_flagged() -> None:
    labels = pl.DataFrame({S.ACCOUNT_ID: ["x", "y"], S.OPERATOR_ID: [None, None]})
    members = members_frame([("x", 1, True), ("y", 1, True)])
    result = evaluate(members, labels)
    assert (result.precision, result.recall, result.f1) == (0.0, None, None)
    # E = {x, y}: predicted together, truly apart -> B-cubed precision 1/2, recall 1
    assert (result.bcubed_precision, result.bcubed_recall) == (0.5, 1.0)
    # true labeling all singletons, predicted one cluster -> ARI 0, NMI 0
    assert result.adjusted_rand_index == 0.0
    assert result.normalized_mutual_information == 0.0


def test_fraud_but_nothing_flagged() -> None:
    result = evaluate(MEMBERS.with_columns(pl.lit(False).alias(S.FLAGGED)), LABELS)
    assert result.precision is None
    assert result.recall == 0.0
    assert result.f1 is None
    # E = the 6 fraudulent accounts, all predicted alone:
    # precision 1; recall = (4 * 1/4 + 2 * 1/2) / 6 = 2 / 6
    assert result.bcubed_precision == 1.0
    assert result.bcubed_recall == pytest.approx(2 / 6)
    assert all(o.flagged == 0 and o.purity is None for o in result.operators)
    assert result.hardest_operator == "A"  # recall 0 for both: the larger one


def test_everything_flagged_in_one_cluster() -> None:
    members = MEMBERS.with_columns(pl.lit(7).alias(S.CLUSTER_ID), pl.lit(True).alias(S.FLAGGED))
    result = evaluate(members, LABELS)
    # E = all 10; true sizes 4, 2, 1, 1, 1, 1; one predicted cluster of 10
    # B-cubed precision = sum b^2 / 10^2 = (16 + 4 + 4) / 100; recall 1
    assert result.bcubed_precision == pytest.approx(24 / 100)
    assert result.bcubed_recall == 1.0
    assert result.precision == pytest.approx(6 / 10)
    assert result.recall == 1.0
    assert result.normalized_mutual_information == 0.0
    assert result.adjusted_rand_index == pytest.approx(0.0)


def test_perfect_detection() -> None:
    members = LABELS.select(
        S.ACCOUNT_ID,
        pl.col(S.OPERATOR_ID).replace("", None).alias(S.CLUSTER_ID),
        (pl.col(S.OPERATOR_ID).replace("", None).is_not_null()).alias(S.FLAGGED),
    )
    result = evaluate(members, LABELS)
    for value in (
        result.precision,
        result.recall,
        result.f1,
        result.bcubed_precision,
        result.bcubed_recall,
        result.bcubed_f1,
        result.adjusted_rand_index,
        result.normalized_mutual_information,
    ):
        assert value == 1.0
    assert result.flagged_legitimate_organisation == 0


def test_empty_inputs() -> None:
    labels = pl.DataFrame(schema=S.LABELS_SCHEMA)
    members = pl.DataFrame(schema=S.MEMBERS_SCHEMA)
    result = evaluate(members, labels)
    assert result.labelled_accounts == 0
    assert result.precision is None
    json.dumps(result.to_dict())
    result.to_text()


def test_flagged_without_cluster_is_a_singleton() -> None:
    labels = pl.DataFrame({S.ACCOUNT_ID: ["a", "b"], S.OPERATOR_ID: ["A", "A"]})
    members = members_frame([("a", None, True), ("b", None, True)])
    result = evaluate(members, labels)
    assert result.flagged_without_cluster == 2
    assert result.flagged_clusters == 0
    (a,) = result.operators
    assert (a.clusters, a.largest_share, a.purity) == (2, 0.5, 1.0)
    assert result.bcubed_precision == 1.0 and result.bcubed_recall == 0.5


# --- invariants and cross-checks on random labelings ------------------------------


@st.composite
def worlds(draw):
    """Random labels and members over up to 30 accounts with small id alphabets."""
    n = draw(st.integers(min_value=0, max_value=30))
    operators = draw(st.lists(st.sampled_from([None, "A", "B", "C", "D"]), min_size=n, max_size=n))
    clusters = draw(st.lists(st.sampled_from([None, 0, 1, 2, 3, 4]), min_size=n, max_size=n))
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    ids = [f"acct{i:02d}" for i in range(n)]
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: ids, S.OPERATOR_ID: operators},
        schema={S.ACCOUNT_ID: pl.String, S.OPERATOR_ID: pl.String},
    )
    members = members_frame(list(zip(ids, clusters, flags, strict=True)))
    return labels, members


def reference_labelings(labels: pl.DataFrame, members: pl.DataFrame):
    """The two labelings of the evaluation set, written out independently of the package."""
    truth = dict(zip(labels[S.ACCOUNT_ID], labels[S.OPERATOR_ID], strict=True))
    rows = {a: (c, f) for a, c, f in members.iter_rows()}
    pred, true = [], []
    for account in sorted(truth):
        cluster, flagged = rows[account]
        operator = truth[account]
        if operator is None and not flagged:
            continue
        pred.append(f"c{cluster}" if flagged and cluster is not None else f"s{account}")
        true.append(f"o{operator}" if operator is not None else f"s{account}")
    return pred, true


def brute_force_bcubed(pred: list[str], true: list[str]) -> tuple[float, float]:
    n = len(pred)
    precision = recall = 0.0
    for i in range(n):
        same_both = sum(pred[j] == pred[i] and true[j] == true[i] for j in range(n))
        precision += same_both / sum(p == pred[i] for p in pred)
        recall += same_both / sum(t == true[i] for t in true)
    return precision / n, recall / n


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_clustering_metrics_match_references(world) -> None:
    labels, members = world
    result = evaluate(members, labels)
    pred, true = reference_labelings(labels, members)
    assert result.evaluation_set_size == len(pred)
    if not pred:
        assert result.adjusted_rand_index is None and result.bcubed_precision is None
        return
    assert result.adjusted_rand_index == pytest.approx(adjusted_rand_score(true, pred), abs=1e-12)
    assert result.normalized_mutual_information == pytest.approx(
        normalized_mutual_info_score(true, pred, average_method="arithmetic"), abs=1e-12
    )
    precision, recall = brute_force_bcubed(pred, true)
    assert result.bcubed_precision == pytest.approx(precision, abs=1e-12)
    assert result.bcubed_recall == pytest.approx(recall, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_account_counts_partition_the_labelled_accounts(world) -> None:
    labels, members = world
    result = evaluate(members, labels)
    assert (
        (
            result.true_positives
            + result.false_positives
            + result.false_negatives
            + result.true_negatives
        )
        == result.labelled_accounts
        == labels.height
    )
    for value in (result.precision, result.recall, result.f1, result.bcubed_f1):
        assert value is None or 0.0 <= value <= 1.0
    assert sum(o.size for o in result.operators) == result.fraudulent_accounts
    assert sum(count for _, count in result.flagged_legitimate_by_kind) == result.false_positives


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_perfect_clustering_scores_one(world) -> None:
    labels, _ = world
    members = labels.select(
        S.ACCOUNT_ID,
        pl.col(S.OPERATOR_ID).alias(S.CLUSTER_ID),
        pl.col(S.OPERATOR_ID).is_not_null().alias(S.FLAGGED),
    )
    result = evaluate(members, labels)
    if result.fraudulent_accounts == 0:
        assert result.bcubed_f1 is None
        return
    assert result.bcubed_precision == result.bcubed_recall == result.bcubed_f1 == 1.0
    assert result.adjusted_rand_index == 1.0
    assert result.normalized_mutual_information == pytest.approx(1.0)
    assert all(o.recall == o.purity == o.largest_share == 1.0 for o in result.operators)


@settings(max_examples=100, deadline=None)
@given(worlds())
def test_all_in_one_cluster_has_known_bcubed(world) -> None:
    labels, _ = world
    members = labels.select(
        S.ACCOUNT_ID, pl.lit(0).alias(S.CLUSTER_ID), pl.lit(True).alias(S.FLAGGED)
    )
    result = evaluate(members, labels)
    n = labels.height
    if n == 0:
        return
    # every account in E; true cluster sizes b_t (singletons for legitimate accounts):
    # precision = sum_t b_t^2 / n^2, recall = 1
    sizes = Counter(op if op is not None else f"s{i}" for i, op in enumerate(labels[S.OPERATOR_ID]))
    assert result.bcubed_precision == pytest.approx(sum(b * b for b in sizes.values()) / n**2)
    assert result.bcubed_recall == 1.0


def test_to_text_lists_the_hardest_operators_first() -> None:
    labels = pl.DataFrame(
        {S.ACCOUNT_ID: [f"a{i}" for i in range(6)], S.OPERATOR_ID: ["A", "A", "B", "B", "C", "C"]}
    )
    members = members_frame(
        [
            ("a0", 1, True),
            ("a1", 1, True),
            ("a2", 2, True),
            ("a3", None, False),
            ("a4", None, False),
            ("a5", None, False),
        ]
    )
    text = evaluate(members, labels).to_text(max_operators=2)
    body = text[text.index("Operators (3; hardest first)") :]
    # C (recall 0) then B (recall 1/2); A (recall 1) summarised
    assert body.index("  C ") < body.index("  B ")
    assert "  A " not in body
    assert "1 more" in body
    assert "hardest operator: C" in body


def test_two_largest_share_counts_the_two_largest_flagged_clusters() -> None:
    # A: 10 accounts flagged 5 + 3 + 2 over three clusters: its two largest hold 8 of 10
    ids = [f"a{i}" for i in range(10)]
    labels = pl.DataFrame({S.ACCOUNT_ID: ids, S.OPERATOR_ID: ["A"] * 10})
    clusters = [1] * 5 + [2] * 3 + [3] * 2
    members = members_frame([(a, c, True) for a, c in zip(ids, clusters, strict=True)])
    (a,) = evaluate(members, labels).operators
    assert a.clusters == 3
    assert a.two_largest_share == pytest.approx(0.8)
    assert a.largest_share == pytest.approx(0.5)
    unflagged = members.with_columns(pl.col(S.FLAGGED) & (pl.col(S.CLUSTER_ID) != 1))
    (b,) = evaluate(unflagged, labels).operators
    assert b.two_largest_share == pytest.approx(0.5)  # only flagged clusters count
