"""Assertions shared by the CLI tests."""


def assert_error(result, *fragments, code=1, one_line=True):
    """A failed command: exit ``code``, no traceback, the fragments in a single line of output."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    if one_line and code == 1:
        assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in result.output
