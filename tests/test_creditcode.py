import pytest

from incentives.engine import ProfileError, parse_profile
from incentives.engine.model.creditcode import check_character, credit_code_problem

VALID = [
    "91140223MA0K00013X",
    "91140171MA0K000214",
    "92140223MA0K0003XD",
    "93140223MA0K00048A",
    "911401001234567887",
]


@pytest.mark.parametrize("code", VALID)
def test_valid_vectors(code: str) -> None:
    assert credit_code_problem(code) is None
    assert check_character(code[:17]) == code[17]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("91140223MA0K000130", "check character"),
        ("91140223MA0K00013", "18 characters"),
        ("91140223MA0K0001IX", "outside"),
        ("91A40223MA0K00013X", "positions 3-8"),
    ],
)
def test_invalid(code: str, fragment: str) -> None:
    problem = credit_code_problem(code)
    assert problem is not None and fragment in problem


def test_profile_rejects_bad_code_and_normalises_case() -> None:
    assert parse_profile({"credit_code": "91140223ma0k00013x"}).credit_code == "91140223MA0K00013X"
    with pytest.raises(ProfileError) as info:
        parse_profile({"credit_code": "91140223MA0K000130"})
    assert info.value.problems[0].field == "credit_code"


def test_both_corrections_at_once() -> None:
    # 91140171MA0K000214 with position 17 mistyped: the hint names both checks, and the code
    # it gives is valid (fixing position 18 alone would fail on the organisation code).
    broken = "91140171MA0K000234"
    problem = credit_code_problem(broken)
    assert problem is not None and "position 17 should be '1'" in problem
    assert "91140171MA0K000214" in problem
    # position 18 alone wrong: the one fix, with the code it gives
    problem = credit_code_problem("91140171MA0K000215")
    assert problem is not None and "would be 91140171MA0K000214" in problem
    # every single mistyped 17th character gets a hint whose code is valid
    for ch in "0123456789X":
        code = "91140223MA0K0001" + ch + "X"
        found = credit_code_problem(code)
        if found is None:
            continue
        suggested = found.split("the code would be ")[1][:18]
        assert credit_code_problem(suggested) is None, found
