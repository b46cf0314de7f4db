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
